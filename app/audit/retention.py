"""Audit log retention: each organization keeps its events for a number of days; the
worker prunes older ones (`prune_all`) while the chain stays verifiable.

Pruning is the one sanctioned deletion of audit events. For each run it, in one
transaction: locks the chain's head, checks the events it is about to delete still
verify (pruning must never launder tampering), records a checkpoint (seq and hash of the
last pruned event), deletes the events with a Core DELETE (the ORM refuses), and appends
an `audit.pruned` event that confirms the checkpoint inside the chain itself.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.audit import chain as audit
from app.extensions import db
from app.models import AuditChainHead, AuditCheckpoint, AuditEvent, Organization, User, utcnow
from app.models.audit import chain_for
from app.models.organization import (
    AUDIT_RETENTION_MAX_DAYS,
    AUDIT_RETENTION_MIN_DAYS,
)

log = logging.getLogger(__name__)

# Events deleted per transaction; a long backlog is pruned in several runs of this size.
PRUNE_BATCH = 5000


class RetentionError(ValueError):
    """A retention setting was refused; the message says why."""


class AuditPruneRefused(RuntimeError):
    """The events due for pruning do not verify; they are kept for investigation."""


def set_retention(actor: User, org: Organization, days) -> bool:
    """Set how many days `org` keeps audit events; False if unchanged."""
    try:
        days = int(str(days).strip())
    except ValueError:
        raise RetentionError("Retention is a whole number of days.") from None
    if not AUDIT_RETENTION_MIN_DAYS <= days <= AUDIT_RETENTION_MAX_DAYS:
        raise RetentionError(
            f"Retention is between {AUDIT_RETENTION_MIN_DAYS} and {AUDIT_RETENTION_MAX_DAYS} days."
        )
    before = org.audit_retention_days
    if before == days:
        return False
    org.audit_retention_days = days
    audit.record(
        "organization.audit_retention_changed",
        organization_id=org.id,
        target=org,
        actor=actor,
        details={"changes": {"audit_retention_days": {"before": before, "after": days}}},
    )
    return True


def _lock_head(chain: str) -> AuditChainHead | None:
    return db.session.execute(
        select(AuditChainHead).where(AuditChainHead.chain == chain).with_for_update()
    ).scalar_one_or_none()


def _segment_problem(events: list[AuditEvent], start_seq: int, start_hash: str, last: int):
    prev_hash, expected = start_hash, start_seq + 1
    for ev in events:
        if ev.seq != expected:
            return f"event #{expected} is missing"
        if ev.prev_hash != prev_hash:
            return f"event #{ev.seq} does not link to its predecessor"
        if audit.compute_hash(ev) != ev.hash:
            return f"event #{ev.seq} was modified"
        prev_hash, expected = ev.hash, ev.seq + 1
    if expected - 1 != last:
        return f"event #{expected} is missing"
    return None


def prune_chain(org: Organization, now: datetime | None = None, batch: int = PRUNE_BATCH) -> int:
    """Prune up to `batch` of `org`'s events older than its retention (caller commits).
    Returns how many were deleted. Raises AuditPruneRefused if they do not verify."""
    chain = chain_for(org.id)
    cutoff = (now or utcnow()) - timedelta(days=org.audit_retention_days)
    head = _lock_head(chain)
    if head is None:
        return 0
    checkpoint = audit.latest_checkpoint(chain)
    start_seq = checkpoint.seq if checkpoint else 0
    start_hash = checkpoint.hash if checkpoint else audit.GENESIS_HASH
    # The oldest events up to the first one inside the retention period (clocks of web
    # nodes may differ a little: the pruned part is a prefix of the chain, never a gap).
    first_kept = db.session.execute(
        select(func.min(AuditEvent.seq)).where(
            AuditEvent.chain == chain,
            AuditEvent.seq > start_seq,
            AuditEvent.occurred_at >= cutoff,
        )
    ).scalar_one()
    last = (first_kept - 1) if first_kept is not None else head.last_seq
    last = min(last, start_seq + batch)
    if last <= start_seq:
        return 0
    events = list(
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.chain == chain, AuditEvent.seq > start_seq, AuditEvent.seq <= last)
            .order_by(AuditEvent.seq)
        ).scalars()
    )
    problem = _segment_problem(events, start_seq, start_hash, last)
    if problem:
        raise AuditPruneRefused(
            f"{chain}: not pruning events #{start_seq + 1}..#{last}: {problem}; "
            "run `flask audit verify`"
        )
    through = events[-1]
    checkpoint = AuditCheckpoint(
        chain=chain,
        organization_id=org.id,
        seq=through.seq,
        hash=through.hash,
        pruned_before=cutoff,
        events_pruned=len(events),
    )
    db.session.add(checkpoint)
    db.session.flush()
    for ev in events:
        db.session.expunge(ev)
    table = AuditEvent.__table__
    db.session.execute(table.delete().where(table.c.chain == chain, table.c.seq <= through.seq))
    audit.record(
        audit.PRUNED_ACTION,
        organization_id=org.id,
        target=("AuditCheckpoint", checkpoint.id),
        actor_label="system (retention)",
        details={
            "through_seq": through.seq,
            "through_hash": through.hash,
            "events": len(events),
            "pruned_before": cutoff.isoformat(),
            "retention_days": org.audit_retention_days,
        },
    )
    return len(events)


def prune_all(now: datetime | None = None, batch: int = PRUNE_BATCH) -> int:
    """Prune every organization's audit events past its retention; each batch commits on
    its own. An organization whose old events do not verify is skipped (and logged)."""
    total = 0
    org_ids = list(db.session.execute(select(Organization.id).order_by(Organization.id)).scalars())
    for org_id in org_ids:
        while True:
            org = db.session.get(Organization, org_id)
            if org is None:
                break
            try:
                pruned = prune_chain(org, now, batch)
            except AuditPruneRefused as exc:
                db.session.rollback()
                log.error("audit retention: %s", exc)
                break
            db.session.commit()
            total += pruned
            if pruned < batch:
                break
    return total
