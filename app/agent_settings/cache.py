"""Effective settings as agents receive them, cached per reporting group in Redis.

The check-in is the hot path: a cache hit costs one HGET and no SQL. Any settings change
in an organization drops that organization's cache after commit; a short TTL bounds the
window of a change racing a refill.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from redis.exceptions import RedisError

from app.agent_settings.registry import SETTINGS
from app.agent_settings.resolution import StoredValues
from app.core.after_commit import on_commit
from app.extensions import redis_store
from app.models import ReportingGroup, Role

TTL_SECONDS = 60


_NOT_READ = object()


def cache_key(org_id: int) -> str:
    return f"agent-settings:{org_id}"


def agent_settings(org_id: int, group_id: int, cached: Any = _NOT_READ) -> dict[str, Any]:
    """What an agent of the group is told: every setting for all roles, plus Flexxible
    Tools per role name where a role has its own value. `cached` is the cache entry when
    the caller already read it (the check-in reads it in its own Redis round trip)."""
    if cached is _NOT_READ:
        try:
            cached = redis_store.client.hget(cache_key(org_id), str(group_id))
        except RedisError:
            cached = None
    if cached is not None:
        return json.loads(cached)
    return _refill(org_id, group_id)


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.settings: dict[str, Any] | None = None


_flights: dict[tuple[int, int], _Flight] = {}
_flights_lock = threading.Lock()


def _refill(org_id: int, group_id: int) -> dict[str, Any]:
    """Compute a group's settings once per process however many check-ins missed the cache
    at the same moment (a fleet reconnecting after a settings change or a Redis restart):
    the others wait for that one result instead of each holding a database connection."""
    key = (org_id, group_id)
    with _flights_lock:
        flight = _flights.get(key)
        leader = flight is None
        if leader:
            flight = _flights[key] = _Flight()
    if not leader:
        flight.done.wait(timeout=10)
        if flight.settings is not None:
            return flight.settings
    try:
        settings = _compute_and_store(org_id, group_id)
        flight.settings = settings
        return settings
    finally:
        if leader:
            with _flights_lock:
                _flights.pop(key, None)
            flight.done.set()


def _compute_and_store(org_id: int, group_id: int) -> dict[str, Any]:
    from app.extensions import db

    settings = compute(db.session.get(ReportingGroup, group_id))
    # End the read before talking to Redis: no connection sits idle in a transaction.
    # (Callers call this outside a transaction of their own: the check-in has committed.)
    db.session.rollback()
    try:
        pipe = redis_store.client.pipeline()
        pipe.hset(cache_key(org_id), str(group_id), json.dumps(settings))
        pipe.expire(cache_key(org_id), TTL_SECONDS)
        pipe.execute()
    except RedisError:
        pass
    return settings


def compute(group: ReportingGroup) -> dict[str, Any]:
    from app.extensions import db

    roles = list(
        db.session.execute(
            db.select(Role).where(Role.organization_id == group.organization_id)
        ).scalars()
    )
    values = StoredValues.load([group], [r.id for r in roles])
    reaches_agent = {d.key for d in SETTINGS if d.reaches_agent}
    settings = {k: v.value for k, v in values.resolve(group, None).items() if k in reaches_agent}
    per_role = {}
    for role in roles:
        value = values.resolve_key(group, role, "flexxible_tools")
        if value.source not in ("default", "product", "group"):
            per_role[role.name] = value.value
    settings["flexxible_tools_by_role"] = per_role
    return settings


def invalidate_after_commit(org_id: int) -> None:
    on_commit(lambda: redis_store.client.delete(cache_key(org_id)), key=("agent-settings", org_id))
