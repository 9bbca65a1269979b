"""Enrollment tokens and the orders the portal gives agents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.device import Device, _in
from app.models.organization import ReportingGroup

ORDER_STATUSES = ("pending", "delivered", "succeeded", "failed", "expired")
OPEN_ORDER_STATUSES = ("pending", "delivered")


class EnrollmentToken(Base):
    """Lets agents join one reporting group. Shown once; only its SHA-256 is kept."""

    __tablename__ = "enrollment_tokens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["reporting_group_id", "organization_id"],
            ["reporting_groups.id", "reporting_groups.organization_id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("max_uses IS NULL OR max_uses > 0", name="max_uses"),
        CheckConstraint("uses >= 0", name="uses"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    reporting_group_id: Mapped[int] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None]
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(default=0)
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    reporting_group: Mapped[ReportingGroup] = relationship(overlaps="organization")

    def problem(self, now: datetime) -> str | None:
        """Why the token cannot enroll now, or None."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "used up"
        return None


class AgentOrder(Base):
    """Something an agent must do. `payload` goes to the agent as is; `sealed_payload`
    (encrypted) holds secret fields until delivery, when it is destroyed."""

    __tablename__ = "agent_orders"
    __table_args__ = (
        ForeignKeyConstraint(
            ["device_id", "organization_id"],
            ["devices.id", "devices.organization_id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        Index("ix_agent_orders_device_status", "device_id", "status"),
        Index("ix_agent_orders_status_deadline", "status", "pickup_by"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[int] = mapped_column()
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sealed_payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    pickup_by: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    # Seconds the agent has to answer once it has the order.
    answer_within_s: Mapped[int] = mapped_column(default=120)
    answer_by: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    device: Mapped[Device] = relationship(overlaps="organization")

    def as_agent_json(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "created_at": self.created_at.isoformat(),
            "payload": payload if payload is not None else self.payload,
        }
