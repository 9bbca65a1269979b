"""Webhooks: an organization's endpoints and the outbox of their deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.user import User

DELIVERY_STATES = ("pending", "delivered")


class WebhookEndpoint(Base):
    """Where an organization's events are POSTed. The signing secret is sealed (encrypted)
    at rest and shown once; `events` are event types or prefixes (`assistance.*`, `*`).

    Delivery state: `retry_at` is when the first undelivered delivery is tried again
    (exponential backoff), `failing_since` the first failure of the current run of failures.
    A worker delivers only while it holds the lease (`lease_owner` until `lease_until`),
    taken with a compare-and-set UPDATE, so one worker at a time delivers an endpoint, in
    order, with no transaction open during the HTTP request; a killed worker's lease lapses."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        # Target of the deliveries' composite foreign key (same tenant).
        UniqueConstraint("id", "organization_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # The secret's first characters, to tell secrets apart (like API token prefixes).
    secret_prefix: Mapped[str] = mapped_column(String(16))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    disabled_reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    disabled_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    retry_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship()

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(Base):
    """One event for one endpoint: the outbox row, written in the transaction of the change
    it reports, then POSTed by a worker until a 2xx. `seq` is the event's place in the
    organization's audit chain, which is commit order: deliveries of an endpoint go out by
    `seq`. `body` is exactly what is sent (and signed) on every attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["endpoint_id", "organization_id"],
            ["webhook_endpoints.id", "webhook_endpoints.organization_id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("endpoint_id", "seq"),
        Index("ix_webhook_deliveries_endpoint_state_seq", "endpoint_id", "state", "seq"),
        CheckConstraint("state IN ('pending', 'delivered')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Sent as X-Portal-Delivery and as the body's "id": the same on every attempt.
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    endpoint_id: Mapped[int]
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int]
    event_type: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(String(300), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)

    endpoint: Mapped[WebhookEndpoint] = relationship()
