"""The worker path end to end: a real `python worker.py` process, real Redis, real DB."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import update

from app.core import periodic
from app.core.jobs import QUEUE_MAINTENANCE
from app.extensions import db, redis_store
from app.models import AuthSession, utcnow
from app.models.operations import PeriodicTask
from tests import factories
from tests.conftest import ROOT


@pytest.fixture
def start_worker(app, services):
    procs = []

    def start(**env):
        proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "worker.py")],
            env={**os.environ, **{k: str(v) for k, v in env.items()}},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _sessions(app, user_id):
    """One expired, one ended and one live session of `user_id`."""
    with app.app_context():
        now = utcnow()
        idle = timedelta(seconds=app.config["SESSION_IDLE_TIMEOUT_SECONDS"] + 5)
        db.session.add_all(
            [
                AuthSession(token_hash="a" * 64, user_id=user_id, last_seen_at=now - idle),
                AuthSession(token_hash="b" * 64, user_id=user_id, ended_at=now),
                AuthSession(token_hash="c" * 64, user_id=user_id),
            ]
        )
        db.session.commit()


def _remaining(app):
    with app.app_context():
        return sorted(h[0] for h in db.session.query(AuthSession.token_hash).all())


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_worker_process_runs_an_enqueued_job(app, start_worker):
    with app.app_context():
        user_id = factories.create_member(factories.create_org()).id
        # The periodic prune is not due for an hour: only the enqueued job prunes.
        periodic.ensure_tasks(["prune-sessions"])
        db.session.execute(
            update(PeriodicTask)
            .where(PeriodicTask.name == "prune-sessions")
            .values(next_run_at=utcnow() + timedelta(hours=1))
        )
        db.session.commit()
    _sessions(app, user_id)
    start_worker()
    with app.app_context():
        queue = Queue(QUEUE_MAINTENANCE, connection=redis_store.client)
        job = queue.enqueue("app.tasks.housekeeping.prune_sessions")
        assert _wait_for(lambda: job.get_status(refresh=True) == "finished"), job.get_status()
        assert job.return_value() == 2
    assert _remaining(app) == ["c" * 64]


def test_worker_schedules_the_periodic_prune_itself(app, start_worker):
    with app.app_context():
        user_id = factories.create_member(factories.create_org()).id
    _sessions(app, user_id)
    start_worker(PRUNE_SESSIONS_INTERVAL_SECONDS=1)
    assert _wait_for(lambda: _remaining(app) == ["c" * 64]), _remaining(app)


def test_each_periodic_run_is_claimed_once_whatever_the_number_of_workers(app):
    from app.core import periodic

    with app.app_context():
        now = utcnow()
        periodic.ensure_tasks(["tick"], now)
        periodic.ensure_tasks(["tick"], now)  # a second worker starting: no duplicate row
        assert periodic.claim("tick", 10, now) is True
        assert periodic.claim("tick", 10, now) is False  # the same run, another worker
        assert periodic.claim("tick", 10, now + timedelta(seconds=9)) is False
        assert periodic.claim("tick", 10, now + timedelta(seconds=10)) is True


def test_periodic_work_needs_no_redis(app, start_worker):
    """The schedule is in the database: with Redis unreachable from the start, the worker
    still prunes (its RQ loop keeps retrying meanwhile)."""
    with app.app_context():
        user_id = factories.create_member(factories.create_org()).id
    _sessions(app, user_id)
    worker = start_worker(REDIS_URL="redis://127.0.0.1:1/0", PRUNE_SESSIONS_INTERVAL_SECONDS=1)
    assert _wait_for(lambda: _remaining(app) == ["c" * 64]), _remaining(app)
    assert worker.poll() is None  # still running


def test_a_worker_heartbeat_is_recorded(app, start_worker):
    from app.core import periodic

    start_worker()

    def seen():
        with app.app_context():
            return periodic.last_heartbeat() is not None

    assert _wait_for(seen)


def test_idle_workers_hold_no_transaction_open(app, start_worker):
    """A worker that has nothing to do leaves no session `idle in transaction` (it would
    hold its locks, e.g. an audit chain head, against everyone)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("pg_stat_activity is PostgreSQL's")
    start_worker(PRUNE_SESSIONS_INTERVAL_SECONDS=1)
    from sqlalchemy import text

    def idle_in_transaction():
        with app.app_context():
            return db.session.execute(
                text(
                    "SELECT application_name, query FROM pg_stat_activity "
                    "WHERE datname = current_database() "
                    "AND application_name LIKE 'portal-worker%' AND state = 'idle in transaction' "
                    # held, not caught in the round trip between a statement and its COMMIT
                    "AND state_change < clock_timestamp() - interval '500 milliseconds'"
                )
            ).all()

    def worker_connected():
        with app.app_context():
            return (
                db.session.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND application_name LIKE 'portal-worker%'"
                    )
                ).scalar()
                > 0
            )

    assert _wait_for(worker_connected)
    held = []
    for _ in range(20):
        held += idle_in_transaction()  # (worker, the last statement it ran)
        time.sleep(0.25)
    assert held == [], held
