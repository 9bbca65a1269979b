"""The worker path end to end: a real `python worker.py` process, real Redis, real DB."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from rq import Queue

from app.core.jobs import QUEUE_MAINTENANCE
from app.extensions import db, redis_store
from app.models import AuthSession, utcnow
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


def test_periodic_job_ids_are_deterministic_per_slot(app):
    from app.tasks.schedule import PERIODIC_JOBS, schedule_next

    with app.app_context():
        periodic = PERIODIC_JOBS[0]
        first = schedule_next(periodic, now=1000.0)
        again = schedule_next(periodic, now=1000.5)  # a second worker, same slot
        assert first == again
        queue = Queue(QUEUE_MAINTENANCE, connection=redis_store.client)
        assert queue.scheduled_job_registry.get_job_ids().count(first) == 1
