"""Access windows and live assistances (`remote_assistance.access_windows`, SPEC §5).

A start outside the schedule is refused (`rules.window_refusal`). An **unattended**
assistance started inside a window records when that window closes (`window_closes_at`,
decided at start like the file's other grants; a later change of the schedule does not
move it). The sweeper then warns 15 and 5 minutes before (audit `assistance.window_closing`,
each once; a late sweep sends only the latest warning due) and, at the close, ends it with
the usual teardown (`lifecycle.expire`: credentials and file dead, the agent ordered to
remove the service), audited as `assistance.window_closed`.

Interactive assistances are not ended at the close: the user at the device is present
and consented, and cutting them off mid-task would hurt more than it protects; the
schedule only governs when they may start.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm.exc import StaleDataError

from app import audit
from app.agent_settings.access_windows import state_at
from app.assistance.lifecycle import expire
from app.extensions import db
from app.models import Assistance, Organization, utcnow
from app.models.assistance import LIVE_STATES

WARNINGS = (15, 5)  # minutes before the close, largest first
WINDOW_CLOSED = "the access window closed"


def stamp_close(assistance: Assistance, windows: list, organization: Organization) -> None:
    """At start: an unattended assistance under a schedule records when its window closes
    (None when the schedule is empty or always open)."""
    if assistance.type != "unattended" or not windows:
        return
    state = state_at(windows, organization.time_zone, utcnow())
    assistance.window_closes_at = state.closes_at


def _due_warning(assistance: Assistance, now: datetime) -> int | None:
    """The warning (minutes) due now, if one is: the smallest threshold already reached
    that is smaller than the last one sent."""
    left = assistance.window_closes_at - now
    sent = assistance.window_warned_minutes
    due = [m for m in WARNINGS if left <= timedelta(minutes=m) and (sent is None or m < sent)]
    return min(due) if due else None


def _due_ids(now: datetime, limit: int) -> list[int]:
    first, last = (timedelta(minutes=m) for m in (WARNINGS[0], WARNINGS[-1]))
    stmt = (
        select(Assistance.id)
        .where(
            Assistance.state.in_(LIVE_STATES),
            Assistance.window_closes_at.is_not(None),
            Assistance.window_closes_at <= now + first,
            or_(
                Assistance.window_closes_at <= now,
                Assistance.window_warned_minutes.is_(None),
                and_(
                    Assistance.window_warned_minutes > WARNINGS[-1],
                    Assistance.window_closes_at <= now + last,
                ),
            ),
        )
        .order_by(Assistance.window_closes_at)
        .limit(limit)
    )
    ids = list(db.session.execute(stmt).scalars())
    db.session.rollback()
    return ids


def _sweep_one(assistance_id: int, now: datetime) -> str | None:
    assistance = db.session.execute(
        select(Assistance)
        .where(Assistance.id == assistance_id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if assistance is None or not assistance.is_live or assistance.window_closes_at is None:
        return None
    closes_at = assistance.window_closes_at
    if closes_at <= now:
        ended = expire(
            assistance,
            WINDOW_CLOSED,
            action="assistance.window_closed",
            details={"end_reason": "window_closed", "closed_at": closes_at.isoformat()},
        )
        return "closed" if ended else None
    minutes = _due_warning(assistance, now)
    if minutes is None:
        return None
    assistance.window_warned_minutes = minutes
    audit.record(
        "assistance.window_closing",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label="system",
        details={"minutes": minutes, "closes_at": closes_at.isoformat()},
    )
    return "warned"


def sweep_windows(now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Warn and end live assistances whose access window closes (called by the sweeper).
    Each row is claimed with SKIP LOCKED and the version check, so every warning is
    recorded once and every assistance ended once, whatever the number of workers."""
    now = now or utcnow()
    counts = {"window_warned": 0, "window_closed": 0}
    for assistance_id in _due_ids(now, limit):
        try:
            kind = _sweep_one(assistance_id, now)
            db.session.commit()
        except StaleDataError:
            db.session.rollback()  # another sweeper got there first
            continue
        if kind:
            counts[f"window_{kind}"] += 1
    return counts
