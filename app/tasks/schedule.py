"""Periodic jobs, declared as data in one place, and the ticker that runs them.

Every worker process runs a ticker thread. The schedule is in the database
(`app.core.periodic`): a due run is claimed by exactly one worker, whichever is alive, so
periodic work survives the death of any worker and the loss of Redis or its data. RQ and
Redis only make things sooner (a signing job right after an assistance becomes ready);
the sweeps are the guarantee.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from dataclasses import dataclass

from flask import Flask, current_app

from app.core import metrics, periodic
from app.extensions import db
from app.models import utcnow

log = logging.getLogger(__name__)

# A live worker says so at least this often (readiness checks allow three misses).
HEARTBEAT_SECONDS = 5.0


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: str  # dotted path of a job function taking no arguments
    interval_setting: str  # config key holding the interval in seconds

    def interval(self) -> int:
        return max(1, int(current_app.config[self.interval_setting]))

    def run(self):
        module, func = self.func.rsplit(".", 1)
        return getattr(importlib.import_module(module), func)()


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        "sweep-assistances",
        "app.tasks.assistance.sweep_assistances",
        "ASSISTANCE_SWEEP_INTERVAL_SECONDS",
    ),
    PeriodicJob("expire-orders", "app.tasks.fleet.expire_orders", "ORDER_SWEEP_INTERVAL_SECONDS"),
    PeriodicJob(
        "persist-last-seen", "app.tasks.fleet.persist_last_seen", "LAST_SEEN_FLUSH_INTERVAL_SECONDS"
    ),
    PeriodicJob(
        "prune-sessions", "app.tasks.housekeeping.prune_sessions", "PRUNE_SESSIONS_INTERVAL_SECONDS"
    ),
    PeriodicJob(
        "prune-audit", "app.tasks.housekeeping.prune_audit_log", "AUDIT_PRUNE_INTERVAL_SECONDS"
    ),
    PeriodicJob(
        "sweep-webhooks", "app.tasks.webhooks.sweep_webhooks", "WEBHOOK_SWEEP_INTERVAL_SECONDS"
    ),
    PeriodicJob(
        "prune-webhook-deliveries",
        "app.tasks.webhooks.prune_webhook_deliveries",
        "AUDIT_PRUNE_INTERVAL_SECONDS",
    ),
    PeriodicJob(
        "prune-heartbeats",
        "app.tasks.housekeeping.prune_worker_heartbeats",
        "AUDIT_PRUNE_INTERVAL_SECONDS",
    ),
)


def run_due(jobs=PERIODIC_JOBS) -> dict[str, object]:
    """Run every due job this worker can claim; returns what each returned. A failing job
    is logged (one line) and recorded; the others still run."""
    ran: dict[str, object] = {}
    schedule = periodic.schedule()
    now = utcnow()
    for job in jobs:
        due = schedule.get(job.name)
        if due is not None and due > now:
            continue
        if not periodic.claim(job.name, job.interval(), now):
            continue
        started = time.monotonic()
        try:
            ran[job.name] = job.run()
        except Exception as exc:  # a sweep must never stop the ticker
            db.session.rollback()
            log.warning("periodic job %s failed: %s: %s", job.name, type(exc).__name__, exc)
            metrics.JOB_FAILURES.labels(job.name).inc()
            periodic.finish(job.name, f"{type(exc).__name__}: {exc}")
        else:
            periodic.finish(job.name)
        finally:
            metrics.JOB_SECONDS.labels(job.name).observe(time.monotonic() - started)
            metrics.PERIODIC_RUNS.labels(job.name).inc()
            db.session.remove()
    return ran


def seconds_until_next(jobs=PERIODIC_JOBS) -> float:
    schedule = periodic.schedule()
    now = utcnow()
    due = [schedule[j.name] for j in jobs if j.name in schedule]
    if not due:
        return 0.0
    return max(0.0, (min(due) - now).total_seconds())


class Ticker(threading.Thread):
    """Runs due periodic jobs and keeps this worker's heartbeat, until stopped. Database
    trouble is logged once per outage and retried; it never ends the thread."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name="periodic-ticker", daemon=True)
        self.app = app
        self.stopping = threading.Event()
        self.started_at = utcnow()

    def run(self) -> None:
        with self.app.app_context():
            periodic.ensure_tasks([j.name for j in PERIODIC_JOBS])
            db.session.remove()
        failing = False
        while not self.stopping.is_set():
            wait = HEARTBEAT_SECONDS
            try:
                with self.app.app_context():
                    periodic.beat(self.started_at)
                    run_due()
                    wait = min(HEARTBEAT_SECONDS, seconds_until_next())
                    db.session.remove()
                if failing:
                    log.info("periodic ticker: database reachable again")
                failing = False
            except Exception as exc:
                if not failing:
                    log.warning("periodic ticker: %s: %s", type(exc).__name__, exc)
                failing = True
                with self.app.app_context():
                    _discard_session()
            self.stopping.wait(max(0.05, wait))


def _discard_session() -> None:
    try:
        db.session.remove()
    except Exception:  # a broken connection: drop it rather than reuse it
        db.session.close()
