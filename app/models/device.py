"""Devices running FlexxAgent (SPEC §2). Agent behaviour arrives with the fleet issue."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.organization import Organization, ReportingGroup

DEVICE_KINDS = ("physical", "vdi", "shared_desktop", "virtual_app", "server", "kiosk")
# A device is offline once it has missed this many check-ins.
MISSED_CHECKINS_OFFLINE = 3


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("organization_id", "hardware_id"),
        UniqueConstraint("id", "organization_id"),
        ForeignKeyConstraint(
            ["reporting_group_id", "organization_id"],
            ["reporting_groups.id", "reporting_groups.organization_id"],
        ),
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in DEVICE_KINDS) + ")", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    reporting_group_id: Mapped[int] = mapped_column(index=True)
    hardware_id: Mapped[str] = mapped_column(String(200))
    hostname: Mapped[str] = mapped_column(String(255), index=True)
    os_name: Mapped[str] = mapped_column(String(120), default="")
    os_version: Mapped[str] = mapped_column(String(120), default="")
    agent_version: Mapped[str] = mapped_column(String(40), default="")
    environment: Mapped[str] = mapped_column(String(120), default="")
    kind: Mapped[str] = mapped_column(String(20), default="physical")
    agent_instance_id: Mapped[str | None] = mapped_column(String(64))
    last_checkin_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship(overlaps="reporting_group")
    reporting_group: Mapped[ReportingGroup] = relationship(overlaps="organization")

    def is_online(self, checkin_interval_s: int, now: datetime | None = None) -> bool:
        """Online while fewer than MISSED_CHECKINS_OFFLINE check-ins have been missed."""
        if self.last_checkin_at is None:
            return False
        now = now or utcnow()
        window = timedelta(seconds=checkin_interval_s * MISSED_CHECKINS_OFFLINE)
        return now - self.last_checkin_at < window

    def __str__(self) -> str:
        return self.hostname
