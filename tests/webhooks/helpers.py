"""Making endpoints and events for the webhook tests (each call commits)."""

from __future__ import annotations

from sqlalchemy import select

from app import audit
from app.extensions import db
from app.models import User, WebhookDelivery, WebhookEndpoint
from app.webhooks.endpoints import create_endpoint


def endpoint(app, org_id: int, url: str, events=("*",), admin_id: int | None = None):
    """A new endpoint; returns (id, secret)."""
    with app.app_context():
        actor = db.session.get(User, admin_id) if admin_id else None
        made, secret = create_endpoint(org_id, actor, url, list(events))
        db.session.commit()
        return made.id, secret


def events(app, org_id: int, *actions: str, one_transaction: bool = False) -> None:
    """Record `actions` as audit events of the organization (a role change by default)."""
    with app.app_context():
        for n, action in enumerate(actions):
            audit.record(
                action,
                organization_id=org_id,
                target=("Role", str(n + 1)),
                actor_label="tests",
                details={"n": n},
            )
            if not one_transaction:
                db.session.commit()
        db.session.commit()


def deliveries(app, endpoint_id: int) -> list[WebhookDelivery]:
    with app.app_context():
        rows = list(
            db.session.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id)
                .order_by(WebhookDelivery.seq)
            ).scalars()
        )
        db.session.expunge_all()
        return rows


def endpoint_row(app, endpoint_id: int) -> WebhookEndpoint:
    with app.app_context():
        row = db.session.get(WebhookEndpoint, endpoint_id)
        db.session.expunge(row)
        return row
