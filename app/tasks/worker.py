"""The worker process: an RQ worker for jobs (signing, webhooks) and a ticker thread
for periodic work (`app.tasks.schedule`), each job in a fresh app context.

RQ's SimpleWorker: no fork per job (a fork costs more than signing a batch of files, and a
forked child would inherit the parent's database connections). RQ's scheduler is not
used: delayed work is due in the database and the ticker does it. When Redis goes away the
RQ loop is restarted with a backoff; the ticker keeps going meanwhile.
"""

from __future__ import annotations

import logging
import time

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested

from app.core import metrics
from app.core.jobs import ALL_QUEUES
from app.extensions import db, redis_store, tcp_options
from app.tasks.schedule import Ticker

log = logging.getLogger(__name__)


class PortalWorker(SimpleWorker):
    flask_app: Flask

    def perform_job(self, job, queue):
        started = time.monotonic()
        name = job.func_name.rsplit(".", 1)[-1]
        with self.flask_app.app_context():
            try:
                ok = super().perform_job(job, queue)
                if not ok:
                    metrics.JOB_FAILURES.labels(name).inc()
                return ok
            finally:
                metrics.JOB_SECONDS.labels(name).observe(time.monotonic() - started)
                _discard_session()


def _discard_session() -> None:
    """End the job's session. After a job timeout the connection may be mid-command:
    throw it away instead of failing the worker."""
    try:
        db.session.remove()
    except Exception as exc:
        log.warning("dropping a broken database connection: %s", type(exc).__name__)
        try:
            db.session.invalidate()
        finally:
            db.session.remove()


def _rq_connection(app: Flask) -> Redis:
    """RQ's own connection: its blocking dequeue needs a long read timeout, which must not
    leak into the app's pool."""
    url = redis_store.url_for(app)
    return Redis.from_url(
        url, socket_connect_timeout=2, health_check_interval=30, **tcp_options(url)
    )


def run_worker(app: Flask, queues=ALL_QUEUES, burst: bool = False) -> None:
    from app.assistance.keys import ensure_key

    with app.app_context():
        ensure_key()  # the first worker generates the activation-file signing key
        db.session.remove()  # never keep a transaction (or a connection) while idle
    ticker = Ticker(app)
    if not burst:
        ticker.start()
    backoff = 1.0
    try:
        while True:
            worker = None
            try:
                connection = _rq_connection(app)
                worker = PortalWorker(
                    [Queue(q, connection=connection) for q in queues], connection=connection
                )
                worker.flask_app = app
                # RQ logs every job at INFO; at DEBUG only.
                debug = str(app.config["LOG_LEVEL"]).upper() == "DEBUG"
                worker.work(burst=burst, logging_level="DEBUG" if debug else "WARNING")
                backoff = 1.0
            except RedisError as exc:
                log.warning("worker: Redis unavailable (%s); retrying", type(exc).__name__)
            except StopRequested:
                return
            if burst or (worker is not None and worker._stop_requested):
                return
            try:
                time.sleep(backoff)
            except StopRequested:  # RQ's signal handler, between two runs of its loop
                return
            backoff = min(backoff * 2, 30.0)
    finally:
        ticker.stopping.set()
