"""The RQ worker class: every job runs in a fresh app context with its own DB session."""

from __future__ import annotations

from flask import Flask
from rq import Queue, Worker

from app.extensions import db, redis_store
from app.tasks import ALL_QUEUES
from app.tasks.schedule import ensure_scheduled


class PortalWorker(Worker):
    flask_app: Flask

    def main_work_horse(self, job, queue):
        # The forked horse must not share the parent's database connections.
        with self.flask_app.app_context():
            db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)

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
        worker.work(with_scheduler=True, burst=burst)
