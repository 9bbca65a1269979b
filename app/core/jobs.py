"""Queue names, and enqueueing a job once the current database transaction commits (never
for a rolled-back one): a job then always finds the rows it is about."""

from __future__ import annotations

from datetime import datetime

from app.core.after_commit import on_commit

QUEUE_DEFAULT = "default"
QUEUE_SIGNING = "signing"
QUEUE_MAINTENANCE = "maintenance"
QUEUE_WEBHOOKS = "webhooks"

# Order matters: a worker serves the first non-empty queue first (a slow webhook receiver
# never delays signing).
ALL_QUEUES = (QUEUE_SIGNING, QUEUE_DEFAULT, QUEUE_MAINTENANCE, QUEUE_WEBHOOKS)


def enqueue_after_commit(
    queue_name: str,
    func: str,
    *args,
    at: datetime | None = None,
    job_id: str | None = None,
    **job_kwargs,
) -> None:
    def push():
        from rq import Queue

        from app.extensions import redis_store

        queue = Queue(queue_name, connection=redis_store.client)
        if at is None:
            queue.enqueue(func, *args, job_id=job_id, **job_kwargs)
        else:
            queue.enqueue_at(at, func, *args, job_id=job_id, **job_kwargs)

    on_commit(push, key=("job", job_id) if job_id else None)
