"""The outbox: each published audit event becomes, in the very transaction that records it,
one delivery row per enabled endpoint whose filter wants it. A change and the news of it
commit together or not at all; a worker then sends the rows (`delivery`).

Ordering comes free: `audit.record` holds the organization's chain head locked until the
transaction ends, so events (and so deliveries) of an organization commit in the order of
their audit `seq`, which is what deliveries are sent by.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.audit.chain import RECORD_HANDLERS
from app.core.after_commit import on_commit
from app.extensions import db
from app.models import AuditEvent, Organization, WebhookDelivery, WebhookEndpoint
from app.webhooks import catalog
from app.webhooks.delivery import wake

_CACHE = "webhook_targets"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session, *_):
    session.info.pop(_CACHE, None)


def forget_targets() -> None:
    """Reload the endpoints at the next event of this transaction (they just changed)."""
    db.session.info.pop(_CACHE, None)


def _targets(organization_id: int) -> tuple[Organization, list[tuple[int, list[str]]]]:
    """The organization and its enabled endpoints' (id, filter), looked up once per
    transaction (a batch of events costs one query)."""
    cache = db.session.info.setdefault(_CACHE, {})
    if organization_id not in cache:
        # Autoflush on: endpoints changed earlier in this transaction count as changed.
        org = db.session.get(Organization, organization_id)
        rows = db.session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.events)
            .where(
                WebhookEndpoint.organization_id == organization_id,
                WebhookEndpoint.enabled.is_(True),
            )
            .order_by(WebhookEndpoint.id)
        ).all()
        cache[organization_id] = (org, [(r.id, list(r.events or [])) for r in rows])
    return cache[organization_id]


def moment(value: datetime) -> str:
    """ISO 8601 in UTC with a Z, as every time in a payload is written."""
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_data(ev: AuditEvent) -> dict[str, Any]:
    """An audit event as a payload's `data`: who, on what, the event's details, and its
    place in the organization's audit log."""
    return {
        "actor": {"user_id": ev.actor_user_id, "label": ev.actor},
        "target": {"type": ev.target_type, "id": ev.target_id} if ev.target_type else None,
        "details": ev.details,
        "ip": ev.ip or None,
        "audit_seq": ev.seq,
    }


def add_delivery(
    endpoint_id: int,
    org: Organization,
    seq: int,
    event_type: str,
    created_at: datetime,
    data: dict[str, Any],
) -> WebhookDelivery:
    """Queue one delivery (the body exactly as it will be sent) and wake a worker for the
    endpoint once the transaction commits."""
    delivery_id = str(uuid.uuid4())
    body = {
        "id": delivery_id,
        "type": event_type,
        "created_at": moment(created_at),
        "organization": {"id": org.id, "slug": org.slug, "name": org.name},
        "data": data,
    }
    row = WebhookDelivery(
        delivery_id=delivery_id,
        endpoint_id=endpoint_id,
        organization_id=org.id,
        seq=seq,
        event_type=event_type,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str),
        created_at=created_at,
    )
    db.session.add(row)
    on_commit(lambda: wake(endpoint_id), key=("webhook-wake", endpoint_id))
    return row


def publish(ev: AuditEvent) -> None:
    """The audit log's record handler: queue `ev` for every endpoint that wants it."""
    if ev.organization_id is None or not catalog.is_published(ev.action):
        return
    org, endpoints = _targets(ev.organization_id)
    if not endpoints:
        return
    data = event_data(ev)
    for endpoint_id, event_filter in endpoints:
        if catalog.matches(event_filter, ev.action):
            add_delivery(endpoint_id, org, ev.seq, ev.action, ev.occurred_at, data)


if publish not in RECORD_HANDLERS:
    RECORD_HANDLERS.append(publish)
