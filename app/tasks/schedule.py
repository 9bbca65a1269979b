"""Periodic jobs, declared as data in one place.

Each run is a job with a deterministic id per time slot (`periodic-<name>-<slot>`), so any
number of workers scheduling the same slot produce one job. A run schedules the next slot.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from rq import Queue

from app.core.jobs import QUEUE_MAINTENANCE
from app.extensions import redis_store


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: str  # dotted path of a job function taking no arguments
    interval_setting: str  # config key holding the interval in seconds

    def interval(self) -> int:
        return max(1, int(current_app.config[self.interval_setting]))


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        "prune-sessions", "app.tasks.housekeeping.prune_sessions", "PRUNE_SESSIONS_INTERVAL_SECONDS"
    ),
    PeriodicJob(
        "persist-last-seen", "app.tasks.fleet.persist_last_seen", "LAST_SEEN_FLUSH_INTERVAL_SECONDS"
    ),
    PeriodicJob("expire-orders", "app.tasks.fleet.expire_orders", "ORDER_SWEEP_INTERVAL_SECONDS"),
    PeriodicJob(
        "sweep-assistances",
        "app.tasks.assistance.sweep_assistances",
        "ASSISTANCE_SWEEP_INTERVAL_SECONDS",
    ),
    PeriodicJob(
        "prune-audit", "app.tasks.housekeeping.prune_audit_log", "AUDIT_PRUNE_INTERVAL_SECONDS"
    ),
)


def _by_name(name: str) -> PeriodicJob:
    return next(p for p in PERIODIC_JOBS if p.name == name)


def schedule_next(periodic: PeriodicJob, now: float | None = None) -> str:
    """Schedule the next slot of `periodic` (idempotent); return the job id."""
    now = datetime.now(UTC).timestamp() if now is None else now
    interval = periodic.interval()
    slot = math.floor(now / interval) + 1
    job_id = f"periodic-{periodic.name}-{slot}"
    queue = Queue(QUEUE_MAINTENANCE, connection=redis_store.client)
    queue.enqueue_at(
        datetime.fromtimestamp(slot * interval, UTC),
        run_periodic,
        periodic.name,
        job_id=job_id,
        result_ttl=interval * 2,
        failure_ttl=24 * 3600,
    )
    return job_id


def ensure_scheduled() -> list[str]:
    return [schedule_next(p) for p in PERIODIC_JOBS]


def run_periodic(name: str):
    periodic = _by_name(name)
    try:
        module, func = periodic.func.rsplit(".", 1)
        return getattr(importlib.import_module(module), func)()
    finally:
        schedule_next(periodic)
