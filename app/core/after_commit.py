"""Run side effects (Redis wake-ups, cache invalidation) only once the database change
they announce is committed, and never for a rolled-back one."""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)
_KEY = "after_commit"


def on_commit(callback: Callable[[], None], key: object | None = None) -> None:
    """Call `callback` after the current transaction commits (once per `key`)."""
    callbacks = db.session.info.setdefault(_KEY, {})
    callbacks[key if key is not None else object()] = callback


@event.listens_for(Session, "after_commit")
def _run(session):
    callbacks = session.info.pop(_KEY, {})
    for callback in callbacks.values():
        try:
            callback()
        except RedisError as exc:
            # The database is the source of truth: a lost wake-up or a stale cache entry
            # is repaired by polling, TTLs and the sweeper.
            log.warning("after-commit side effect failed: %s", type(exc).__name__)


@event.listens_for(Session, "after_rollback")
def _drop(session):
    session.info.pop(_KEY, None)
