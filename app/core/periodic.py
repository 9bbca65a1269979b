"""Periodic work whose schedule lives in the database, so whoever is alive does it.

Each task has a row with `next_run_at`. A worker runs a due task only after moving
`next_run_at` one interval forward with a compare-and-set UPDATE (`claim`): across any
number of workers each run is claimed once, with no lock held while it runs. A worker
that dies mid-run delays nothing beyond one interval: the next run is already due then,
for everyone. Redis plays no part, so losing Redis or its data loses no periodic work.

Workers also record a heartbeat here (readiness checks look for a recent one).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import PeriodicTask, WorkerHeartbeat, utcnow


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def ensure_tasks(names: list[str], now: datetime | None = None) -> None:
    """Create the rows of tasks that have none yet (due at once)."""
    now = now or utcnow()
    existing = set(db.session.execute(select(PeriodicTask.name)).scalars())
    for name in names:
        if name in existing:
            continue
        db.session.add(PeriodicTask(name=name, next_run_at=now))
        try:
            db.session.commit()
        except IntegrityError:  # another worker created it at the same moment
            db.session.rollback()


def schedule() -> dict[str, datetime]:
    """Each task's next run."""
    rows = db.session.execute(select(PeriodicTask.name, PeriodicTask.next_run_at)).all()
    db.session.commit()
    return dict(rows)


def claim(name: str, interval_s: float, now: datetime | None = None) -> bool:
    """Take the due run of `name` (True), or find it not due or taken by another (False)."""
    now = now or utcnow()
    result = db.session.execute(
        update(PeriodicTask)
        .where(PeriodicTask.name == name, PeriodicTask.next_run_at <= now)
        .values(
            next_run_at=now + timedelta(seconds=interval_s),
            last_started_at=now,
            run_by=worker_name(),
        )
    )
    db.session.commit()
    return result.rowcount == 1


def finish(name: str, error: str | None = None) -> None:
    db.session.execute(
        update(PeriodicTask)
        .where(PeriodicTask.name == name)
        .values(
            last_finished_at=utcnow(),
            last_outcome="failed" if error else "ok",
            last_error=(error or "")[:200],
        )
    )
    db.session.commit()


def last_finished(name: str) -> datetime | None:
    return db.session.execute(
        select(PeriodicTask.last_finished_at).where(PeriodicTask.name == name)
    ).scalar_one_or_none()


def beat(started_at: datetime, now: datetime | None = None) -> None:
    """Record that this worker is alive."""
    now = now or utcnow()
    name = worker_name()
    updated = db.session.execute(
        update(WorkerHeartbeat).where(WorkerHeartbeat.name == name).values(seen_at=now)
    ).rowcount
    if not updated:
        db.session.add(WorkerHeartbeat(name=name, started_at=started_at, seen_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def last_heartbeat() -> datetime | None:
    latest = db.session.execute(
        select(WorkerHeartbeat.seen_at).order_by(WorkerHeartbeat.seen_at.desc()).limit(1)
    ).scalar_one_or_none()
    db.session.commit()
    return latest


def prune_heartbeats(older_than: timedelta = timedelta(days=1)) -> int:
    removed = db.session.execute(
        delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < utcnow() - older_than)
    ).rowcount
    db.session.commit()
    return removed
