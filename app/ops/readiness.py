"""What /readyz checks and what /metrics reads from the database at scrape time."""

from __future__ import annotations

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import current_app
from prometheus_client.core import GaugeMetricFamily
from redis.exceptions import RedisError
from sqlalchemy import func, select, text

from app.core import periodic
from app.extensions import db, redis_store
from app.models import AgentOrder, Assistance, utcnow
from app.tasks.schedule import HEARTBEAT_SECONDS

_heads: dict[str, str] = {}


def _migration_head() -> str:
    directory = current_app.extensions["migrate"].directory
    if directory not in _heads:
        config = AlembicConfig()
        config.set_main_option("script_location", directory)
        _heads[directory] = ScriptDirectory.from_config(config).get_current_head()
    return _heads[directory]


def _check(fn) -> dict:
    try:
        detail = fn()
    except Exception as exc:  # a readiness probe reports, it never fails
        db.session.rollback()
        return {"ok": False, "detail": type(exc).__name__}
    return {"ok": detail is None, "detail": detail or "ok"}


def _database():
    db.session.execute(text("SELECT 1"))
    current = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    db.session.rollback()
    head = _migration_head()
    return None if current == head else f"schema at {current}, code expects {head}"


def _redis():
    redis_store.client.ping()


def _worker():
    seen = periodic.last_heartbeat()
    if seen is None:
        return "no worker has ever reported"
    age = (utcnow() - seen).total_seconds()
    limit = 3 * HEARTBEAT_SECONDS + 5
    return None if age <= limit else f"last worker heartbeat {age:.0f} s ago"


def checks() -> dict[str, dict]:
    return {
        "database": _check(_database),
        "redis": _check(_redis),
        "worker": _check(_worker),
    }


class _DatabaseCollector:
    """Gauges read from the database (and Redis) when Prometheus scrapes."""

    def collect(self):
        up = GaugeMetricFamily("portal_database_up", "Whether the database answered the scrape")
        try:
            families = list(self._from_database())
        except Exception:  # a scrape reports the outage; it never fails
            db.session.rollback()
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            yield from families
        yield self._queue_depth()

    def _from_database(self):
        orders = GaugeMetricFamily(
            "portal_agent_orders", "Agent orders by status", labels=["status"]
        )
        for status, count in db.session.execute(
            select(AgentOrder.status, func.count()).group_by(AgentOrder.status)
        ):
            orders.add_metric([status], count)
        yield orders
        assistances = GaugeMetricFamily(
            "portal_assistances", "Remote assistances by state", labels=["state"]
        )
        for state, count in db.session.execute(
            select(Assistance.state, func.count()).group_by(Assistance.state)
        ):
            assistances.add_metric([state], count)
        yield assistances
        sweep = periodic.last_finished("sweep-assistances")
        last = GaugeMetricFamily(
            "portal_last_sweep_timestamp_seconds", "When the assistance sweeper last finished"
        )
        last.add_metric([], sweep.timestamp() if sweep else 0)
        yield last
        heartbeat = periodic.last_heartbeat()
        age = GaugeMetricFamily(
            "portal_worker_heartbeat_age_seconds", "Seconds since a worker last reported"
        )
        age.add_metric([], (utcnow() - heartbeat).total_seconds() if heartbeat else -1)
        yield age
        db.session.rollback()

    def _queue_depth(self):
        from rq import Queue

        from app.core.jobs import ALL_QUEUES

        depth = GaugeMetricFamily("portal_queue_depth", "Jobs waiting per queue", labels=["queue"])
        try:
            for name in ALL_QUEUES:
                depth.add_metric([name], Queue(name, connection=redis_store.client).count)
        except RedisError:
            pass
        return depth


def database_collectors():
    return [_DatabaseCollector()]
