"""Remote assistance: the assistance itself, operators' own devices, and signing keys."""

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
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.device import Device, _in
from app.models.user import User

RA_TYPES = ("interactive", "unattended")
REQUESTED_TYPES = ("interactive", "unattended", "dynamic")
STATES = (
    "awaiting_approval",
    "requested",
    "awaiting_consent",
    "ready",
    "connected",
    "disconnected",
    "expired",
    "denied",
    "failed",
    "interrupted",
    "cancelled",
    "locked",
)
# At most one of these per device (partial unique index).
# An assistance awaiting approval holds its device too: what is approved is what was asked.
LIVE_STATES = (
    "awaiting_approval",
    "requested",
    "awaiting_consent",
    "ready",
    "connected",
    "disconnected",
)
FILE_KINDS = ("flxra", "exe")
TEARDOWN = ("none", "pending", "confirmed", "unconfirmed")

_LIVE_SQL = "state IN (" + ", ".join(f"'{s}'" for s in LIVE_STATES) + ")"


class Assistance(Base):
    __tablename__ = "assistances"
    __table_args__ = (
        ForeignKeyConstraint(
            ["device_id", "organization_id"],
            ["devices.id", "devices.organization_id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(_in("state", STATES), name="state"),
        CheckConstraint(_in("type", RA_TYPES), name="type"),
        CheckConstraint(_in("requested_type", REQUESTED_TYPES), name="requested_type"),
        CheckConstraint(_in("file_kind", FILE_KINDS), name="file_kind"),
        CheckConstraint(_in("teardown", TEARDOWN), name="teardown"),
        CheckConstraint("failed_password_attempts >= 0", name="attempts"),
        # One live assistance per device, enforced by the database.
        Index(
            "uq_assistances_live_device",
            "device_id",
            unique=True,
            postgresql_where=text(_LIVE_SQL),
            sqlite_where=text(_LIVE_SQL),
        ),
        Index("ix_assistances_state_deadlines", "state", "grace_until", "ready_until"),
        Index("ix_assistances_state_heartbeat", "state", "last_heartbeat_at"),
        Index("ix_assistances_state_approval", "state", "approval_deadline"),
        Index("ix_assistances_window_closes_at", "window_closes_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[int] = mapped_column(index=True)
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    operator_device_id: Mapped[int | None] = mapped_column(Integer)
    requested_type: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(20))
    decision_reason: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(20), default="requested")
    session_key: Mapped[str | None] = mapped_column(String(64))
    session_username: Mapped[str] = mapped_column(String(255), default="")
    file_kind: Mapped[str] = mapped_column(String(10), default="exe")
    sid: Mapped[str] = mapped_column(String(9))
    # Unattended only: argon2id hash; the sealed copy exists until delivered and revealed.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    sealed_password: Mapped[bytes | None] = mapped_column(LargeBinary)
    revealed_at: Mapped[datetime | None]
    failed_password_attempts: Mapped[int] = mapped_column(default=0)
    # Snapshot of what the file grants, decided at start.
    audio_redirection: Mapped[bool] = mapped_column(default=False)
    proxy_url: Mapped[str] = mapped_column(String(2048), default="")
    tools: Mapped[list[str]] = mapped_column(JSON, default=list)
    agent_instance_id: Mapped[str | None] = mapped_column(String(64))
    start_order_id: Mapped[int | None] = mapped_column(Integer)
    stop_order_id: Mapped[int | None] = mapped_column(Integer)
    # The signed activation file (deleted when the assistance ends).
    activation_file: Mapped[bytes | None] = mapped_column(LargeBinary)
    activation_jti: Mapped[str | None] = mapped_column(String(64), unique=True)
    activation_kid: Mapped[str | None] = mapped_column(String(64))
    activation_expires_at: Mapped[datetime | None]
    signed_at: Mapped[datetime | None]
    connection_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ready_at: Mapped[datetime | None]
    ready_until: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]
    # The RA client's last heartbeat (connect counts as one); silent for three
    # RELAY_HEARTBEAT_SECONDS means disconnected.
    last_heartbeat_at: Mapped[datetime | None]
    disconnected_at: Mapped[datetime | None]
    grace_until: Mapped[datetime | None]
    # Unattended, started inside an access window: when it closes (the sweeper warns 15
    # and 5 minutes before, recording the last warning's minutes, and ends it then).
    window_closes_at: Mapped[datetime | None]
    window_warned_minutes: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str] = mapped_column(String(255), default="")
    teardown: Mapped[str] = mapped_column(String(20), default="none")
    # Governance (SPEC §5): why, under which ticket, and who approved or denied it.
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    ticket: Mapped[str] = mapped_column(String(100), default="", server_default="")
    approval_deadline: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # Optimistic lock: two writers of one assistance never both succeed, even where the
    # database cannot lock rows (SQLite), so each assistance ends exactly once.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    device: Mapped[Device] = relationship(overlaps="organization")
    operator: Mapped[User | None] = relationship(foreign_keys=[operator_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def state_since(self) -> datetime:
        """When the assistance entered its current state (as far as it is recorded)."""
        since = {
            "ready": self.ready_at,
            "connected": self.connected_at,
            "disconnected": self.disconnected_at,
        }.get(self.state)
        if not self.is_live:
            since = self.ended_at
        return since or self.created_at

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "type": self.type,
            "requested_type": self.requested_type,
            "decision_reason": self.decision_reason,
            "device": {"id": self.device_id, "hostname": self.device.hostname},
            "session_key": self.session_key,
            "operator": {
                "id": self.operator_id,
                "name": self.operator.name or self.operator.email if self.operator else None,
            },
            "session_id": self.sid
            if self.state in ("ready", "connected", "disconnected")
            else None,
            "file_kind": self.file_kind,
            "file_ready": self.activation_file is not None,
            "password_revealed": self.revealed_at is not None,
            "tools": self.tools,
            "created_at": self.created_at.isoformat(),
            "state_since": self.state_since.isoformat(),
            "ready_until": _iso(self.ready_until),
            "connected_at": _iso(self.connected_at),
            "grace_until": _iso(self.grace_until),
            "window_closes_at": _iso(self.window_closes_at),
            "ended_at": _iso(self.ended_at),
            "end_reason": self.end_reason,
            "teardown": self.teardown,
            "reason": self.reason,
            "ticket": self.ticket,
            "approval": self._approval_json(),
        }

    def _approval_json(self) -> dict[str, Any] | None:
        """Null for an assistance that never needed approval."""
        if self.approval_deadline is None:
            return None
        decided_by = self.decided_by
        return {
            "expires_at": self.approval_deadline.isoformat(),
            "decided_by": {
                "id": self.decided_by_id,
                "name": decided_by.name or decided_by.email,
            }
            if decided_by
            else None,
            "decided_at": _iso(self.decided_at),
            "note": self.decision_note,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class OperatorDevice(Base):
    """The device an operator works from (runs FlexxAgent): activation files are `.flxra`
    for them, and Flexxible Tools need it in the assisted device's environment."""

    __tablename__ = "operator_devices"
    __table_args__ = (
        UniqueConstraint("user_id", "organization_id"),
        ForeignKeyConstraint(
            ["device_id", "organization_id"],
            ["devices.id", "devices.organization_id"],
            ondelete="CASCADE",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    device_id: Mapped[int] = mapped_column()

    device: Mapped[Device] = relationship(overlaps="organization")


class SigningKey(Base):
    """The public half of an activation-file signing key (the private half lives only in
    the worker's SIGNING_KEYS_DIR). Published in the JWKS until `published_until`."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]
    # Files signed by a retired key expire at the latest by then.
    published_until: Mapped[datetime | None]
