"""Devices running FlexxAgent and the user sessions they report (SPEC §2)."""

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
SESSION_STATES = ("active", "disconnected", "locked")
SESSION_KINDS = ("console", "rdp", "vdi", "app")
# A device is offline once it has missed this many check-ins.
MISSED_CHECKINS_OFFLINE = 3


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("organization_id", "hardware_id"),
        UniqueConstraint("id", "organization_id"),
        ForeignKeyConstraint(
            ["reporting_group_id", "organization_id"],
            ["reporting_groups.id", "reporting_groups.organization_id"],
        ),
        CheckConstraint(_in("kind", DEVICE_KINDS), name="kind"),
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
    # When the agent last came back with a new instance id (it restarted).
    agent_restarted_at: Mapped[datetime | None]
    # Persisted from Redis in batches by the worker; see app.fleet.checkin.
    last_checkin_at: Mapped[datetime | None] = mapped_column(index=True)
    # SHA-256 of the device token the agent authenticates with; NULL until enrolled.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Fingerprint of the last reported session list: unchanged lists cost no write.
    sessions_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    enrolled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship(overlaps="reporting_group")
    reporting_group: Mapped[ReportingGroup] = relationship(overlaps="organization")
    sessions: Mapped[list[DeviceSession]] = relationship(
        back_populates="device",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="DeviceSession.session_key",
        overlaps="organization",
    )

    def is_online(
        self,
        checkin_interval_s: int,
        now: datetime | None = None,
        last_seen: datetime | None = None,
    ) -> bool:
        """Online while fewer than MISSED_CHECKINS_OFFLINE check-ins have been missed.
        `last_seen` (from Redis) overrides the persisted time when newer."""
        seen = max(filter(None, (self.last_checkin_at, last_seen)), default=None)
        if seen is None:
            return False
        now = now or utcnow()
        window = timedelta(seconds=checkin_interval_s * MISSED_CHECKINS_OFFLINE)
        return now - seen < window

    @property
    def is_windows(self) -> bool:
        return self.os_name.lower().startswith("windows")

    def __str__(self) -> str:
        return self.hostname


class DeviceSession(Base):
    """A user session on a device, as last reported by its agent (replaced each time)."""

    __tablename__ = "device_sessions"
    __table_args__ = (
        UniqueConstraint("device_id", "session_key"),
        UniqueConstraint("id", "organization_id"),
        ForeignKeyConstraint(
            ["device_id", "organization_id"],
            ["devices.id", "devices.organization_id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(_in("state", SESSION_STATES), name="state"),
        CheckConstraint(_in("kind", SESSION_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[int] = mapped_column(index=True)
    session_key: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)

    device: Mapped[Device] = relationship(back_populates="sessions", overlaps="organization")
