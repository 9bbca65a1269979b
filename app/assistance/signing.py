"""Signing activation files, in the worker only (it alone holds the private key).

The database says which files are due: an assistance that is ready (or connected, or in
its grace window) without a file. `sign_due` signs a batch of them, claimed with SKIP
LOCKED so concurrent workers never sign one twice; every worker's sweep calls it, and
`request_signing` makes it happen at once: after commit it enqueues one batch job (one at
a time, whatever the number of assistances becoming ready), which is only a speed-up:
a lost job, a killed worker or a Redis outage delays a file by one sweep at most.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from app import audit
from app.core.after_commit import on_commit
from app.core.jobs import QUEUE_SIGNING
from app.extensions import db, redis_store
from app.models import Assistance, utcnow

log = logging.getLogger(__name__)

FILE_STATES = ("ready", "connected", "disconnected")
BATCH = 500
# Set while a batch job is queued, so a burst of ready assistances queues one job.
REQUESTED_KEY = "signing:requested"


def request_signing() -> None:
    """After the current transaction commits, make sure a signing batch job is queued."""
    on_commit(_enqueue_batch, key="signing")


def _enqueue_batch() -> None:
    from rq import Queue

    client = redis_store.client
    if client.set(REQUESTED_KEY, "1", nx=True, ex=30):
        Queue(QUEUE_SIGNING, connection=client).enqueue(
            "app.tasks.assistance.sign_due_files", result_ttl=60, failure_ttl=86400
        )


def due_query(limit: int):
    return (
        select(Assistance)
        .options(joinedload(Assistance.device), joinedload(Assistance.operator))
        .where(Assistance.state.in_(FILE_STATES), Assistance.activation_file.is_(None))
        .order_by(Assistance.id)
        .limit(limit)
        .with_for_update(of=Assistance, skip_locked=True)
    )


def sign_due(limit: int = BATCH) -> int:
    """Sign up to `limit` due files in one transaction; returns how many."""
    from app.assistance import keys

    if not _still_due():
        return 0
    signer = keys.signer()
    rows = db.session.execute(due_query(limit)).unique().scalars().all()
    if not rows:
        db.session.rollback()
        return 0
    try:
        _sign(rows, signer)
        db.session.commit()
    except StaleDataError:
        # Without row locks (SQLite) another worker signed some of these first.
        db.session.rollback()
        return 0
    return len(rows)


def _sign(rows: list[Assistance], signer) -> None:
    from app.assistance import files

    launcher = files.launcher_bytes()
    now = utcnow()
    for assistance in rows:
        claims = files.claims_for(assistance, now.timestamp())
        token = files.sign(claims, signer)
        assistance.activation_file = files.package(token, assistance.file_kind, launcher)
        assistance.activation_jti = claims["jti"]
        assistance.activation_kid = signer.kid
        assistance.activation_expires_at = now + timedelta(seconds=claims["exp"] - claims["iat"])
        assistance.signed_at = now
        audit.record(
            "assistance.file_signed",
            organization_id=assistance.organization_id,
            target=assistance,
            actor_label="worker",
            details={"kid": signer.kid, "jti": claims["jti"], "file_kind": assistance.file_kind},
        )


def sign_all_due(patience_s: float = 2.0) -> int:
    """The batch job: sign until nothing is due. Rows another transaction holds (an
    operator's reveal, say) are skipped and retried for up to `patience_s`."""
    with contextlib.suppress(RedisError):
        redis_store.client.delete(REQUESTED_KEY)  # later requests queue a new job
    signed, deadline = 0, time.monotonic() + patience_s
    while True:
        batch = sign_due()
        signed += batch
        if batch == BATCH:
            continue
        if not _still_due() or time.monotonic() >= deadline:
            return signed
        time.sleep(0.05)


def _still_due() -> bool:
    found = db.session.execute(
        select(Assistance.id)
        .where(Assistance.state.in_(FILE_STATES), Assistance.activation_file.is_(None))
        .limit(1)
    ).first()
    db.session.rollback()
    return found is not None
