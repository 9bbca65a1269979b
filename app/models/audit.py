"""The append-only, per-organization hash-chained audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow

PLATFORM_CHAIN = "platform"


def chain_for(organization_id: int | None) -> str:
    return PLATFORM_CHAIN if organization_id is None else f"org:{organization_id}"


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign keys here: an event must stay byte-for-byte what was hashed, even when
    # the rows it talks about are renamed or deleted.
    organization_id: Mapped[int | None] = mapped_column(Integer, index=True)
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(80), index=True)
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str] = mapped_column(String(64), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """Last sequence number and hash of each chain: the row writers lock to append,
    and the anchor that makes deleting the newest events detectable."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """Where a chain starts after retention pruning: the seq and hash of the last pruned
    event. `verify_chain` starts from the newest checkpoint instead of the genesis hash;
    each checkpoint is confirmed by an `audit.pruned` event inside the chain itself, so a
    checkpoint forged to hide a deletion does not verify."""

    __tablename__ = "audit_checkpoints"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        CheckConstraint("seq > 0", name="seq"),
        CheckConstraint("events_pruned > 0", name="events_pruned"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(String(40))
    # No foreign key, like the events it stands for.
    organization_id: Mapped[int | None] = mapped_column(Integer, index=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
    # Events older than this were pruned (the retention cut-off of that run).
    pruned_before: Mapped[datetime]
    events_pruned: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
