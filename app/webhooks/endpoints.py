"""Webhook endpoints as people with `webhooks.manage` handle them: create, change, enable or
disable, rotate the secret, delete, send a test event; and what they read (the endpoints,
the delivery log). Views check the permission and the organization; these functions check
everything else.

Every change is audited, and the audit event is recorded *before* the endpoint's row is
written: every transaction that touches both locks the organization's audit chain head
first (as the worker does when it disables an endpoint), so they never deadlock.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from app import audit
from app.core import outbound
from app.core.after_commit import on_commit
from app.core.listing import Page
from app.extensions import db
from app.models import Organization, User, WebhookDelivery, WebhookEndpoint, utcnow
from app.webhooks import catalog
from app.webhooks.delivery import wake
from app.webhooks.outbox import add_delivery, forget_targets
from app.webhooks.signing import new_secret, redact, store_secret

MAX_ENDPOINTS = 20


class WebhookError(ValueError):
    """Refused: `message` says why, `code` is stable, `field` names the input at fault."""

    def __init__(
        self, message: str, status: int = 400, code: str = "invalid", field: str | None = None
    ) -> None:
        super().__init__(message)
        self.message, self.status, self.code, self.field = message, status, code, field


def check_destination(url: object) -> str:
    """`url` if webhooks may be sent there; WebhookError (field `url`) otherwise. Where
    private networks are not allowed the name is resolved now too (and again at each send:
    DNS can change)."""
    if not isinstance(url, str):
        raise WebhookError(_("Enter the URL (https://…)."), field="url")
    url = url.strip()
    allow = current_app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"]
    try:
        parts = outbound.check_url(url, allow)
        if not allow:
            outbound.resolve(parts.hostname or "", parts.port or 443, allow_private=False)
    except outbound.OutboundRefused as exc:
        raise WebhookError(exc.message, 400, exc.code, "url") from None
    return url


def _event_filter(events: object) -> list[str]:
    try:
        return catalog.normalize_filter(events)
    except catalog.FilterInvalid as exc:
        raise WebhookError(str(exc), 400, "invalid_events", "events") from None


def create_endpoint(
    organization_id: int, actor: User | None, url: object, events: object
) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint and its secret (to show once). Caller commits."""
    url, events = check_destination(url), _event_filter(events)
    count = db.session.execute(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == organization_id)
    ).scalar_one()
    if count >= MAX_ENDPOINTS:
        raise WebhookError(
            _("An organization has at most %(count)d webhook endpoints.", count=MAX_ENDPOINTS),
            409,
            "too_many_endpoints",
        )
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organization_id=organization_id,
        url=url,
        events=events,
        created_by_id=actor.id if actor is not None else None,
    )
    store_secret(endpoint, secret)
    db.session.add(endpoint)
    db.session.flush()
    forget_targets()
    audit.record(
        "webhook.created",
        organization_id=organization_id,
        target=endpoint,
        actor=actor,
        details={"url": redact(url), "events": events},
    )
    return endpoint, secret


def update_endpoint(
    endpoint: WebhookEndpoint, actor: User | None, url: object = None, events: object = None
) -> bool:
    """Change the URL and/or the filter (None: unchanged); whether anything changed. A new
    URL is tried at once, queued deliveries included. Caller commits."""
    new_url = endpoint.url if url is None else check_destination(url)
    new_events = endpoint.events if events is None else _event_filter(events)
    changes = {}
    if new_url != endpoint.url:
        changes["url"] = {"before": redact(endpoint.url), "after": redact(new_url)}
    if new_events != endpoint.events:
        changes["events"] = {"before": endpoint.events, "after": new_events}
    if not changes:
        return False
    audit.record(
        "webhook.updated",
        organization_id=endpoint.organization_id,
        target=endpoint,
        actor=actor,
        details={"url": redact(new_url), "changes": changes},
    )
    if new_url != endpoint.url:
        endpoint.url = new_url
        endpoint.retry_at = None
        endpoint.failing_since = None
        endpoint_id = endpoint.id
        on_commit(lambda: wake(endpoint_id), key=("webhook-wake", endpoint_id))
    endpoint.events = new_events
    endpoint.updated_at = utcnow()
    forget_targets()
    return True


def set_enabled(endpoint: WebhookEndpoint, actor: User | None, enabled: bool) -> bool:
    """Enable (delivery resumes where it stopped, at once) or disable; whether it changed.
    A disabled endpoint gets no new events. Caller commits."""
    if endpoint.enabled == enabled:
        return False
    audit.record(
        "webhook.enabled" if enabled else "webhook.disabled",
        organization_id=endpoint.organization_id,
        target=endpoint,
        actor=actor,
        details={"url": redact(endpoint.url), **({} if enabled else {"reason": "by hand"})},
    )
    endpoint.enabled = enabled
    endpoint.updated_at = now = utcnow()
    if enabled:
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
        endpoint.failing_since = endpoint.retry_at = None
        endpoint_id = endpoint.id
        on_commit(lambda: wake(endpoint_id), key=("webhook-wake", endpoint_id))
    else:
        endpoint.disabled_at = now
        who = (actor.name or actor.email) if actor is not None else "system"
        endpoint.disabled_reason = f"disabled by {who}"[:300]
    forget_targets()
    return True


def rotate_secret(endpoint: WebhookEndpoint, actor: User | None) -> str:
    """A new secret (to show once); deliveries from now on, queued ones included, are
    signed with it. Caller commits."""
    audit.record(
        "webhook.secret_rotated",
        organization_id=endpoint.organization_id,
        target=endpoint,
        actor=actor,
        details={"url": redact(endpoint.url)},
    )
    secret = new_secret()
    store_secret(endpoint, secret)
    endpoint.updated_at = utcnow()
    return secret


def delete_endpoint(endpoint: WebhookEndpoint, actor: User | None) -> None:
    """Delete the endpoint and its delivery log (undelivered ones included). Caller commits."""
    pending = db.session.execute(
        select(func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.state == "pending")
    ).scalar_one()
    audit.record(
        "webhook.deleted",
        organization_id=endpoint.organization_id,
        target=endpoint,
        actor=actor,
        details={"url": redact(endpoint.url), "undelivered": pending},
    )
    db.session.flush()
    db.session.delete(endpoint)
    forget_targets()


def send_test(endpoint: WebhookEndpoint, actor: User | None) -> WebhookDelivery:
    """Queue a `ping` for this endpoint only (after what is already queued for it: in
    order). Caller commits."""
    if not endpoint.enabled:
        raise WebhookError(
            _("This endpoint is disabled: enable it first, then send a test event."),
            409,
            "endpoint_disabled",
        )
    ev = audit.record(
        "webhook.test_sent",
        organization_id=endpoint.organization_id,
        target=endpoint,
        actor=actor,
        details={"url": redact(endpoint.url)},
    )
    org = db.session.get(Organization, endpoint.organization_id)
    data = {
        "message": "A test event, sent from the portal on request.",
        "endpoint_id": endpoint.id,
        "actor": {"user_id": ev.actor_user_id, "label": ev.actor},
    }
    return add_delivery(endpoint.id, org, ev.seq, catalog.PING, ev.occurred_at, data)


# --- reading ------------------------------------------------------------------------------
def endpoints_of(organization_id: int) -> list[WebhookEndpoint]:
    return list(
        db.session.execute(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == organization_id)
            .order_by(WebhookEndpoint.id)
        ).scalars()
    )


def undelivered_counts(organization_id: int) -> dict[int, int]:
    """Pending deliveries per endpoint of the organization."""
    return dict(
        db.session.execute(
            select(WebhookDelivery.endpoint_id, func.count())
            .where(
                WebhookDelivery.organization_id == organization_id,
                WebhookDelivery.state == "pending",
            )
            .group_by(WebhookDelivery.endpoint_id)
        ).all()
    )


def deliveries_of(endpoint: WebhookEndpoint, page: int = 1, page_size: int = 50) -> Page:
    """The endpoint's delivery log, newest first."""
    where = WebhookDelivery.endpoint_id == endpoint.id
    total = db.session.execute(
        select(func.count()).select_from(WebhookDelivery).where(where)
    ).scalar_one()
    items = list(
        db.session.execute(
            select(WebhookDelivery)
            .where(where)
            .order_by(WebhookDelivery.seq.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        ).scalars()
    )
    return Page(items=items, total=total, page=page, page_size=page_size)
