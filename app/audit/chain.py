"""The audit log: `record(...)` appends a hash-chained event; `verify_chain` checks a chain.

Events join the caller's transaction, so a change and its audit event commit together, and
so do whatever `RECORD_HANDLERS` add for the event (the webhooks' outbox rows).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AuditChainHead, AuditCheckpoint, AuditEvent, utcnow
from app.models.audit import chain_for

GENESIS_HASH = "0" * 64
# The event retention pruning records in the chain; it confirms the checkpoint it made.
PRUNED_ACTION = "audit.pruned"

# Called with every event as it is recorded, in the recording transaction, with the chain's
# head locked (so in the chain's commit order). Higher domains register here (webhooks);
# the audit log knows nothing of them.
RECORD_HANDLERS: list[Callable[[AuditEvent], None]] = []


class AuditLogImmutable(RuntimeError):
    """Raised when code tries to change or delete a recorded audit event."""


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session, flush_context, instances):
    # Retention pruning (app.audit.retention) is the one sanctioned deletion; it
    # does not go through the ORM.
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEvent | AuditCheckpoint) and (
            obj in session.deleted or session.is_modified(obj)
        ):
            raise AuditLogImmutable("audit events and checkpoints are append-only")


def _canonical(ev: AuditEvent) -> bytes:
    body = {
        "chain": ev.chain,
        "seq": ev.seq,
        "occurred_at": ev.occurred_at.isoformat(timespec="microseconds"),
        "organization_id": ev.organization_id,
        "actor_user_id": ev.actor_user_id,
        "actor": ev.actor,
        "action": ev.action,
        "target_type": ev.target_type,
        "target_id": ev.target_id,
        "details": ev.details,
        "ip": ev.ip,
        "prev_hash": ev.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def compute_hash(ev: AuditEvent) -> str:
    return hashlib.sha256(_canonical(ev)).hexdigest()


_HEADS = "audit_heads"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_heads(session, *_):
    session.info.pop(_HEADS, None)


def _lock_head(chain: str, organization_id: int | None) -> AuditChainHead:
    """The chain's head, locked for this transaction (looked up once per transaction: a
    batch of events in one chain costs one lock)."""
    heads = db.session.info.setdefault(_HEADS, {})
    if chain in heads:
        return heads[chain]
    heads[chain] = head = _load_head(chain, organization_id)
    return head


def _load_head(chain: str, organization_id: int | None) -> AuditChainHead:
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks (FOR UPDATE is dropped) and begins a transaction at its
        # first write: write first, so this transaction holds the database's write lock
        # before it reads the head, and concurrent appenders queue (busy_timeout) instead
        # of both taking the same seq.
        db.session.execute(
            update(AuditChainHead)
            .where(AuditChainHead.chain == chain)
            .values(last_seq=AuditChainHead.last_seq)
            .execution_options(synchronize_session=False)
        )
    stmt = select(AuditChainHead).where(AuditChainHead.chain == chain).with_for_update()
    head = db.session.execute(stmt).scalar_one_or_none()
    if head is not None:
        return head
    try:
        with db.session.begin_nested():
            db.session.add(
                AuditChainHead(
                    chain=chain,
                    organization_id=organization_id,
                    last_seq=0,
                    last_hash=GENESIS_HASH,
                )
            )
    except IntegrityError:
        pass  # another transaction created it first
    return db.session.execute(stmt).scalar_one()


def _target(target: Any) -> tuple[str, str]:
    if target is None:
        return "", ""
    if isinstance(target, tuple):
        return str(target[0]), str(target[1])
    return type(target).__name__, str(getattr(target, "id", ""))


def record(
    action: str,
    *,
    organization_id: int | None,
    target: Any = None,
    details: dict[str, Any] | None = None,
    actor: Any = None,
    actor_label: str | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append an event to the organization's chain (or the platform chain) in the current
    transaction. `actor` defaults to the signed-in user; `target` is a model or a
    (type, id) pair; `details` must never hold a secret."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user._get_current_object()
    if ip is None and has_request_context():
        ip = request.remote_addr or ""
    target_type, target_id = _target(target)
    chain = chain_for(organization_id)
    head = _lock_head(chain, organization_id)
    ev = AuditEvent(
        organization_id=organization_id,
        chain=chain,
        seq=head.last_seq + 1,
        occurred_at=utcnow(),
        actor_user_id=getattr(actor, "id", None),
        actor=actor_label if actor_label is not None else (getattr(actor, "email", "") or ""),
        action=action,
        target_type=target_type,
        target_id=target_id,
        # Round-trip through JSON so what we hash is exactly what the database returns.
        details=json.loads(json.dumps(details or {}, default=str, sort_keys=True)),
        ip=ip or "",
        prev_hash=head.last_hash,
    )
    ev.hash = compute_hash(ev)
    head.last_seq = ev.seq
    head.last_hash = ev.hash
    db.session.add(ev)
    for handler in RECORD_HANDLERS:
        handler(ev)
    return ev


@dataclass
class ChainReport:
    chain: str
    events: int = 0
    problems: list[str] = field(default_factory=list)
    # Seq of the checkpoint verification started from (None: the genesis hash).
    checkpoint_seq: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def latest_checkpoint(chain: str) -> AuditCheckpoint | None:
    return db.session.execute(
        select(AuditCheckpoint)
        .where(AuditCheckpoint.chain == chain)
        .order_by(AuditCheckpoint.seq.desc())
        .limit(1)
    ).scalar_one_or_none()


def confirms(ev: AuditEvent, checkpoint: AuditCheckpoint) -> bool:
    """Is `ev` the pruning event that recorded `checkpoint`?"""
    return (
        ev.action == PRUNED_ACTION
        and ev.details.get("through_seq") == checkpoint.seq
        and ev.details.get("through_hash") == checkpoint.hash
    )


def verify_chain(chain: str) -> ChainReport:
    """Recompute every hash of `chain`; report modified, inserted or deleted events.

    After retention pruning the chain starts at its newest checkpoint (seq and hash of
    the last pruned event) instead of the genesis hash. The checkpoint must be confirmed
    by the `audit.pruned` event recorded in the chain when it was made, so a checkpoint
    inserted to cover a deletion is reported, and so is a deleted checkpoint (the chain
    then no longer starts at #1)."""
    report = ChainReport(chain)
    head = db.session.get(AuditChainHead, chain)
    checkpoint = latest_checkpoint(chain)
    prev_hash, expected_seq = GENESIS_HASH, 1
    confirmed = True
    query = select(AuditEvent).where(AuditEvent.chain == chain)
    if checkpoint is not None:
        report.checkpoint_seq = checkpoint.seq
        prev_hash, expected_seq = checkpoint.hash, checkpoint.seq + 1
        confirmed = False
        leftover = db.session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.chain == chain, AuditEvent.seq <= checkpoint.seq)
        ).scalar_one()
        if leftover:
            report.problems.append(
                f"{leftover} event(s) at or before checkpoint #{checkpoint.seq} should have "
                "been pruned"
            )
        query = query.where(AuditEvent.seq > checkpoint.seq)
    for ev in db.session.execute(query.order_by(AuditEvent.seq)).scalars():
        report.events += 1
        if ev.seq != expected_seq:
            report.problems.append(
                f"event #{expected_seq}..#{ev.seq - 1} missing (deleted?) before event id {ev.id}"
            )
        if ev.prev_hash != prev_hash:
            report.problems.append(f"event #{ev.seq} (id {ev.id}) does not link to its predecessor")
        intact = compute_hash(ev) == ev.hash
        if not intact:
            report.problems.append(f"event #{ev.seq} (id {ev.id}) was modified")
        if not confirmed and intact and confirms(ev, checkpoint):
            confirmed = True
        prev_hash, expected_seq = ev.hash, ev.seq + 1
    if not confirmed:
        report.problems.append(
            f"checkpoint #{checkpoint.seq} is not confirmed by an {PRUNED_ACTION} event in "
            "the chain (events deleted outside retention pruning?)"
        )
    if head is None:
        if report.events:
            report.problems.append("chain head is missing")
    elif head.last_seq != expected_seq - 1 or head.last_hash != prev_hash:
        report.problems.append(
            f"newest event(s) missing: head says #{head.last_seq}, log ends at #{expected_seq - 1}"
        )
    return report


def verify_all() -> list[ChainReport]:
    chains = set(db.session.execute(select(AuditChainHead.chain)).scalars())
    chains |= set(db.session.execute(select(AuditEvent.chain).distinct()).scalars())
    chains |= set(db.session.execute(select(AuditCheckpoint.chain).distinct()).scalars())
    return [verify_chain(c) for c in sorted(chains)]
