"""Prometheus metrics of this process, and how they are exposed.

Under gunicorn every worker writes its values to `PROMETHEUS_MULTIPROC_DIR` (set by
gunicorn.conf.py before any worker starts) and a scrape of any worker adds them up
(prometheus-client's multiprocess mode); elsewhere (tests, CLI) the registry is the
process's own. What the database knows (orders and assistances by state, the last sweep)
is read at scrape time by `app/ops`.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "portal_http_requests_total", "HTTP requests answered", ["route", "method", "status"]
)
REQUEST_SECONDS = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request (long polls included)",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CHECKINS = Counter("portal_agent_checkins_total", "Agent check-ins answered")
POLLS_PARKED = Gauge(
    "portal_agent_polls_parked",
    "Agent long polls waiting for an order",
    multiprocess_mode="livesum",
)
DB_CONNECTIONS_IN_USE = Gauge(
    "portal_db_connections_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)
JOB_SECONDS = Histogram(
    "portal_job_duration_seconds",
    "Time a background job ran",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120),
)
JOB_FAILURES = Counter("portal_job_failures_total", "Background jobs that failed", ["job"])
PERIODIC_RUNS = Counter(
    "portal_periodic_runs_total", "Periodic tasks run by this process", ["task"]
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render(extra_collectors=()) -> tuple[bytes, str]:
    """The exposition text: this node's processes (or this process), plus `extra`."""
    extra = CollectorRegistry()
    for collector in extra_collectors:
        extra.register(collector)
    if multiprocess_dir():
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        from prometheus_client import REGISTRY as processes
    return generate_latest(processes) + generate_latest(extra), CONTENT_TYPE_LATEST


def watch_pool(engine) -> None:
    """Count connections checked out of `engine`'s pool (a parked long poll holds none)."""
    from sqlalchemy import event

    @event.listens_for(engine, "checkout")
    def _checkout(*_):
        DB_CONNECTIONS_IN_USE.inc()

    @event.listens_for(engine, "checkin")
    def _checkin(*_):
        DB_CONNECTIONS_IN_USE.dec()
