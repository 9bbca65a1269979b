"""The sweeper: whatever is due, the database says, and every live worker's ticker does it
(`app.tasks.schedule`). Nothing here depends on a job having been queued or on Redis:

- files to sign (an assistance ready without its activation file);
- grace windows over, ready assistances past their time to live;
- assistances whose agent never picked up or answered the start order (by the order's own
  deadline, not only once the order expiry job ran);
- stop orders nobody answered (teardown unconfirmed);
- connections whose RA client stopped sending heartbeats (dropped as disconnections);
- approval requests nobody decided in time.
- unattended assistances whose access window closes (warned, then ended: `windows`).

Each row is claimed with SKIP LOCKED where the database has it, and the version check makes
a second writer of the same row fail and skip it, so every assistance ends once, whatever
the number of workers.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import and_, or_, select
from sqlalchemy.orm.exc import StaleDataError

from app import audit
from app.assistance import approvals, signing
from app.assistance.keys import SigningUnavailable
from app.assistance.lifecycle import drop_silent_connections, end_state, expire, order_stop
from app.assistance.windows import sweep_windows
from app.extensions import db
from app.models import AgentOrder, Assistance, utcnow

log = logging.getLogger(__name__)

STARTING = ("requested", "awaiting_consent")
# A sweep stops taking new rows after this long; the next sweep continues.
BUDGET_SECONDS = 20.0


def _overdue(now):
    """Orders the agent did not pick up or answer in time (expired or not yet marked)."""
    return or_(
        AgentOrder.status.in_(("expired", "failed")),
        and_(AgentOrder.status == "pending", AgentOrder.pickup_by <= now),
        and_(AgentOrder.status == "delivered", AgentOrder.answer_by <= now),
    )


def _due_ids(now, limit: int) -> list[int]:
    expiring = select(Assistance.id).where(
        or_(
            and_(Assistance.state == "disconnected", Assistance.grace_until <= now),
            and_(Assistance.state == "ready", Assistance.ready_until <= now),
        )
    )
    unanswered = (
        select(Assistance.id)
        .join(AgentOrder, AgentOrder.id == Assistance.start_order_id)
        .where(Assistance.state.in_(STARTING), _overdue(now))
    )
    ids = sorted(
        set(db.session.execute(expiring.limit(limit)).scalars())
        | set(db.session.execute(unanswered.limit(limit)).scalars())
    )
    db.session.rollback()
    return ids[:limit]


def _sweep_one(assistance_id: int, now) -> str | None:
    assistance = db.session.execute(
        select(Assistance)
        .where(Assistance.id == assistance_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if assistance is None:
        return None
    if assistance.state == "disconnected" and assistance.grace_until <= now:
        return "grace" if expire(assistance, "grace period over") else None
    if assistance.state == "ready" and assistance.ready_until <= now:
        return "ttl" if expire(assistance, "never connected before its time to live") else None
    if assistance.state not in STARTING:
        return None
    order = db.session.execute(
        select(AgentOrder).where(AgentOrder.id == assistance.start_order_id, _overdue(now))
    ).scalar_one_or_none()
    if order is None:
        return None
    if order.status in ("pending", "delivered"):
        order.status, order.completed_at, order.sealed_payload = "expired", now, None
    end_state(
        assistance,
        "failed",
        "the agent did not answer in time"
        if order.status == "expired"
        else f"agent error: {order.error}",
    )
    audit.record(
        "assistance.failed",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label="system",
        details={"reason": assistance.end_reason},
    )
    if assistance.type == "unattended":
        order_stop(assistance)
    return "unanswered"


def _unconfirmed_teardowns(now, limit: int) -> int:
    pending = (
        db.session.execute(
            select(Assistance)
            .join(AgentOrder, AgentOrder.id == Assistance.stop_order_id)
            .where(Assistance.teardown == "pending", _overdue(now))
            .limit(limit)
            .with_for_update(of=Assistance, skip_locked=True)
        )
        .scalars()
        .all()
    )
    for assistance in pending:
        assistance.teardown = "unconfirmed"
        audit.record(
            "assistance.teardown_unconfirmed",
            organization_id=assistance.organization_id,
            target=assistance,
            actor_label="system",
            details={"reason": "the agent did not confirm the service removal"},
        )
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()  # another sweeper flagged them
        return 0
    return len(pending)


def sweep(limit: int = 200) -> dict[str, int]:
    """One sweep: sign due files, end what is over, fail what was never answered, flag
    unconfirmed teardowns. Returns counts per kind."""
    now = utcnow()
    started = time.monotonic()
    counts = {"signed": 0, "silent": 0, "grace": 0, "ttl": 0, "unanswered": 0, "teardown": 0}
    counts["silent"] = drop_silent_connections(now)
    counts["approval"] = approvals.expire_due(now, limit)
    counts.update(sweep_windows(now, limit))  # access windows closing: warn, then end
    try:
        counts["signed"] = signing.sign_due()
    except SigningUnavailable as exc:
        log.warning("sweep: cannot sign activation files here: %s", exc)
        db.session.rollback()
    while time.monotonic() - started < BUDGET_SECONDS:
        due = _due_ids(now, limit)
        progress = False
        for assistance_id in due:
            try:
                kind = _sweep_one(assistance_id, now)
                db.session.commit()
            except StaleDataError:
                db.session.rollback()  # another sweeper got there first
                continue
            if kind:
                counts[kind] += 1
                progress = True
        if len(due) < limit or not progress:
            break
    counts["teardown"] = _unconfirmed_teardowns(now, limit)
    return counts
