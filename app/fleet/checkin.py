"""Agent check-in: the hot path of the whole system.

A check-in costs two indexed reads (the device by token hash, its pending orders), one Redis
HSET (last seen) and, on a settings-cache hit, one Redis HGET. It writes to the database
only when something the agent reports changed; the worker persists last-seen times in
batches (`flush_last_seen`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import with_expression

from app import audit
from app.agent_settings import cache as settings_cache
from app.extensions import db, redis_store
from app.fleet.enrollment import DEVICE_TOKEN_PREFIX, token_hash
from app.fleet.orders import deliver_pending
from app.models import AgentOrder, Device, DeviceSession, utcnow

log = logging.getLogger(__name__)
LAST_SEEN_KEY = "agents:last-seen"

# Called with the device when its agent restarted (new instance id), inside the check-in's
# transaction: the assistance logic interrupts what was running there.
RESTART_HANDLERS: list[Callable[[Device], None]] = []


def authenticate_device(raw: str) -> Device | None:
    """The device whose token is `raw`, with `has_pending_orders` loaded: one query, in
    autocommit (no BEGIN or ROLLBACK round trip), the connection given back at once. The
    device comes back detached; a caller that changes it adds it to the session again."""
    if not raw.startswith(DEVICE_TOKEN_PREFIX) or len(raw) > 200:
        return None
    pending = (
        select(AgentOrder.id)
        .where(AgentOrder.device_id == Device.id, AgentOrder.status == "pending")
        .exists()
    )
    db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    try:
        return db.session.execute(
            select(Device)
            .options(with_expression(Device.has_pending_orders, pending))
            .where(Device.token_hash == token_hash(raw))
        ).scalar_one_or_none()
    finally:
        db.session.close()


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


def checkin(device: Device, body, ip: str = "") -> dict[str, Any]:
    now = utcnow()
    db.session.add(device)  # authentication handed it over detached
    changed = restarted = False
    for field in ("agent_version", "os_name", "os_version"):
        if getattr(device, field) != getattr(body, field):
            setattr(device, field, getattr(body, field))
            changed = True
    if device.agent_instance_id != body.agent_instance_id:
        restarted = device.agent_instance_id is not None
        device.agent_instance_id = body.agent_instance_id
        changed = True
        if restarted:
            device.agent_restarted_at = now
            audit.record(
                "device.agent_restarted",
                organization_id=device.organization_id,
                target=device,
                actor_label="agent",
                ip=ip,
                details={"hostname": device.hostname},
            )
            for handler in RESTART_HANDLERS:
                handler(device)
    fingerprint = sessions_fingerprint(body.sessions)
    if fingerprint != device.sessions_hash:
        _replace_sessions(device, body.sessions)
        device.sessions_hash = fingerprint
        changed = True
    device_id, org_id, group_id = device.id, device.organization_id, device.reporting_group_id
    # Restart handlers may have just ordered something (e.g. removing a service).
    orders_waiting = device.has_pending_orders is not False or restarted
    if changed:
        device.last_checkin_at = now
        try:
            db.session.commit()
        except IntegrityError:
            # A concurrent check-in of the same device replaced the sessions first.
            db.session.rollback()
    else:
        db.session.rollback()  # nothing written: give the connection back now
    settings = _seen_and_settings(device_id, org_id, group_id, now)
    return {
        "settings": settings,
        "orders": deliver_pending(device_id) if orders_waiting else [],
        "checkin_interval_s": current_app.config["AGENT_CHECKIN_INTERVAL_SECONDS"],
    }


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
