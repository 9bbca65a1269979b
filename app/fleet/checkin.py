"""Agent check-in: the hot path of the whole system.

An unchanged check-in costs one database round trip (the agent's identity and whether it
has orders waiting, in one query), one Redis round trip (last seen written, cached settings
read) and, only when orders wait, their delivery. It writes to the database only when
something the agent reports changed; the worker persists last-seen times in batches
(`flush_last_seen`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import bindparam, delete, or_, text, update
from sqlalchemy.exc import IntegrityError

from app.agent_settings import cache as settings_cache
from app.extensions import db, redis_store
from app.fleet.enrollment import DEVICE_TOKEN_PREFIX, token_hash
from app.fleet.orders import deliver_pending
from app.models import Device, DeviceSession, utcnow

log = logging.getLogger(__name__)
LAST_SEEN_KEY = "agents:last-seen"

# Called with the device when its agent restarted (new instance id), inside the check-in's
# transaction: the assistance logic interrupts what was running there.
RESTART_HANDLERS: list[Callable[[Device], None]] = []


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """Who an agent is, as its token says: what the hot paths need, read in one query."""

    id: int
    organization_id: int
    reporting_group_id: int
    agent_version: str
    os_name: str
    os_version: str
    agent_instance_id: str | None
    sessions_hash: str
    has_pending_orders: bool

    @classmethod
    def of(cls, device: Device, has_pending_orders: bool = True) -> AgentIdentity:
        """The identity of a loaded device (scripts, tests)."""
        return cls(
            device.id,
            device.organization_id,
            device.reporting_group_id,
            device.agent_version,
            device.os_name,
            device.os_version,
            device.agent_instance_id,
            device.sessions_hash,
            has_pending_orders,
        )


_IDENTITY = text(
    "SELECT d.id, d.organization_id, d.reporting_group_id, d.agent_version, d.os_name, "
    "d.os_version, d.agent_instance_id, d.sessions_hash, "
    "EXISTS (SELECT 1 FROM agent_orders o WHERE o.device_id = d.id AND o.status = 'pending') "
    "FROM devices d WHERE d.token_hash = :token_hash"
)


def authenticate_device(raw: str) -> AgentIdentity | None:
    """The agent whose device token is `raw`, and whether it has orders waiting: one
    query in autocommit (no BEGIN or ROLLBACK round trip), on a connection given back at
    once, with no ORM object to build. Every agent request starts here."""
    if not raw.startswith(DEVICE_TOKEN_PREFIX) or len(raw) > 200:
        return None
    engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        row = conn.execute(_IDENTITY, {"token_hash": token_hash(raw)}).first()
    if row is None:
        return None
    return AgentIdentity(*row[:8], has_pending_orders=bool(row[8]))


def sessions_fingerprint(sessions: Iterable) -> str:
    canonical = sorted((s.session_key, s.username, s.state, s.kind) for s in sessions)
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()


def _replace_sessions(device: Device, sessions) -> None:
    db.session.execute(delete(DeviceSession).where(DeviceSession.device_id == device.id))
    now = utcnow()
    db.session.add_all(
        DeviceSession(
            organization_id=device.organization_id,
            device_id=device.id,
            session_key=s.session_key,
            username=s.username,
            state=s.state,
            kind=s.kind,
            reported_at=now,
        )
        for s in {s.session_key: s for s in sessions}.values()
    )


def _changes(agent: AgentIdentity, body, fingerprint: str) -> bool:
    return (
        agent.agent_version != body.agent_version
        or agent.os_name != body.os_name
        or agent.os_version != body.os_version
        or agent.agent_instance_id != body.agent_instance_id
        or agent.sessions_hash != fingerprint
    )


def checkin(agent: AgentIdentity, body) -> dict[str, Any]:
    """Answer a check-in: settings, pending orders, interval. Writes only what changed
    (an unchanged check-in costs no database write and no second query)."""
    now = utcnow()
    fingerprint = sessions_fingerprint(body.sessions)
    restarted = False
    if _changes(agent, body, fingerprint):
        restarted = _record_changes(agent.id, body, fingerprint, now)
    settings = _seen_and_settings(agent.id, agent.organization_id, agent.reporting_group_id, now)
    # Restart handlers may have just ordered something (e.g. removing a service).
    waiting = agent.has_pending_orders or restarted
    return {
        "settings": settings,
        "orders": deliver_pending(agent.id) if waiting else [],
        "checkin_interval_s": current_app.config["AGENT_CHECKIN_INTERVAL_SECONDS"],
    }


def _record_changes(device_id: int, body, fingerprint: str, now: datetime) -> bool:
    """Store the agent's new facts and sessions; returns whether it restarted."""
    device = db.session.get(Device, device_id)
    restarted = False
    for field in ("agent_version", "os_name", "os_version"):
        if getattr(device, field) != getattr(body, field):
            setattr(device, field, getattr(body, field))
    if device.agent_instance_id != body.agent_instance_id:
        restarted = device.agent_instance_id is not None
        device.agent_instance_id = body.agent_instance_id
        if restarted:
            # Recorded on the device, not in the audit log: a fleet-wide restart (an agent
            # update, a reboot wave) would append thousands of events to one organization's
            # hash chain, one at a time. What a restart ends (a live assistance) is audited
            # by the handlers.
            device.agent_restarted_at = now
            for handler in RESTART_HANDLERS:
                handler(device)
    if fingerprint != device.sessions_hash:
        _replace_sessions(device, body.sessions)
        device.sessions_hash = fingerprint
    device.last_checkin_at = now
    try:
        db.session.commit()
    except IntegrityError:
        # A concurrent check-in of the same device replaced the sessions first.
        db.session.rollback()
    return restarted


def _seen_and_settings(device_id: int, org_id: int, group_id: int, now: datetime):
    """Record the check-in time and read the group's cached settings: one Redis round
    trip. Without Redis the time goes to the database (slower, never wrong)."""
    try:
        pipe = redis_store.client.pipeline(transaction=False)
        pipe.hset(LAST_SEEN_KEY, str(device_id), f"{now.timestamp():.3f}")
        pipe.hget(settings_cache.cache_key(org_id), str(group_id))
        _, cached = pipe.execute()
    except RedisError:
        db.session.execute(update(Device).where(Device.id == device_id).values(last_checkin_at=now))
        db.session.commit()
        cached = None
    return settings_cache.agent_settings(org_id, group_id, cached=cached)


def last_seen(device_ids: Iterable[int]) -> dict[int, datetime]:
    """Last check-ins not yet persisted, for these devices (one HMGET)."""
    ids = list(device_ids)
    if not ids:
        return {}
    try:
        values = redis_store.client.hmget(LAST_SEEN_KEY, [str(i) for i in ids])
    except RedisError:
        return {}
    return {
        i: datetime.fromtimestamp(float(v), UTC)
        for i, v in zip(ids, values, strict=True)
        if v is not None
    }


def flush_last_seen(chunk: int = 1000) -> int:
    """Persist buffered last-seen times (worker job); returns how many devices."""
    client = redis_store.client
    batch_key = f"{LAST_SEEN_KEY}:flushing"
    try:
        if not client.exists(batch_key):  # a crashed run left no batch behind
            client.rename(LAST_SEEN_KEY, batch_key)
    except ResponseError:
        return 0  # nothing buffered
    raw = client.hgetall(batch_key)
    rows = [{"did": int(k), "ts": datetime.fromtimestamp(float(v), UTC)} for k, v in raw.items()]
    table = Device.__table__
    stmt = (
        update(table)
        .where(
            table.c.id == bindparam("did"),
            or_(table.c.last_checkin_at.is_(None), table.c.last_checkin_at < bindparam("ts")),
        )
        .values(last_checkin_at=bindparam("ts"))
    )
    for start in range(0, len(rows), chunk):
        db.session.connection().execute(stmt, rows[start : start + chunk])
    db.session.commit()
    client.delete(batch_key)
    return len(rows)
