"""The RQ worker class: every job runs in a fresh app context with its own DB session.

It does not fork per job (RQ's SimpleWorker): a fork costs more than signing a file, and
our jobs are short, idempotent and hold no state between runs. A crashing job is caught
like any failure; a killed worker loses nothing (the sweeper reconciles).
"""

from __future__ import annotations

from flask import Flask
from rq import Queue, SimpleWorker

from app.core.jobs import ALL_QUEUES
from app.extensions import db, redis_store
from app.tasks.schedule import ensure_scheduled


class PortalWorker(SimpleWorker):
    flask_app: Flask

    def perform_job(self, job, queue):
        with self.flask_app.app_context():
            try:
                return super().perform_job(job, queue)
            finally:
                db.session.remove()


def run_worker(app: Flask, queues=ALL_QUEUES, burst: bool = False) -> None:
    from app.assistance.keys import ensure_key

    with app.app_context():
        connection = redis_store.client
        ensure_scheduled()
        ensure_key()  # the first worker generates the activation-file signing key
        worker = PortalWorker(
            [Queue(q, connection=connection) for q in queues], connection=connection
        )
        worker.flask_app = app
        # RQ logs every job at INFO: periodic jobs every few seconds. At DEBUG only.
        debug = str(app.config["LOG_LEVEL"]).upper() == "DEBUG"
        worker.work(with_scheduler=True, burst=burst, logging_level="DEBUG" if debug else "WARNING")
