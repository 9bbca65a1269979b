"""The end of assistances: relay connect/heartbeat/disconnect with the grace window, and
expiry (one function for every path). What is due later (grace over, TTL over, no answer,
silent connections) is found by the sweeper (`app.assistance.sweeper`)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm.exc import StaleDataError

from app import audit
from app.core.passwords import verify_password
from app.extensions import db
from app.fleet.orders import create_order
from app.models import Assistance, Device, utcnow

log = logging.getLogger(__name__)


class RelayRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _hash(connection_id: str) -> str:
    return hashlib.sha256(connection_id.encode()).hexdigest()


def end_state(assistance: Assistance, state: str, reason: str) -> None:
    """Put `assistance` in the final `state`: its secrets, file and connection are gone."""
    assistance.state = state
    assistance.ended_at = utcnow()
    assistance.end_reason = reason
    assistance.sealed_password = None
    assistance.activation_file = None
    assistance.connection_hash = None


def order_stop(assistance: Assistance, device: Device | None = None) -> None:
    """Order the agent to remove the unattended service: once per assistance (the caller
    holds the row lock)."""
    if assistance.type != "unattended" or assistance.stop_order_id is not None:
        return
    device = device or db.session.get(Device, assistance.device_id)
    order = create_order(device, "ra.unattended.stop", {"assistance_id": assistance.id})
    assistance.stop_order_id = order.id
    assistance.teardown = "pending"


def expire(
    assistance: Assistance,
    reason: str,
    *,
    state: str = "expired",
    actor=None,
    action: str = "assistance.expired",
    details: dict | None = None,
) -> bool:
    """End a live assistance for good: credentials and file dead, file deleted, the agent
    told (stop order for unattended, end order for interactive). Idempotent; the caller
    holds the row lock and commits. Returns whether this call ended it. `details` join
    the audit event's."""
    if not assistance.is_live:
        return False
    end_state(assistance, state, reason)
    assistance.password_hash = None  # "the password is expired": nothing left to check
    if assistance.start_order_id is not None:  # else the agent was never told (a request)
        device = db.session.get(Device, assistance.device_id)
        if assistance.type == "unattended":
            order_stop(assistance, device)
        else:
            create_order(device, "ra.end", {"assistance_id": assistance.id})
    audit.record(
        action,
        organization_id=assistance.organization_id,
        target=assistance,
        actor=actor,
        actor_label=None if actor else "system",
        details={"reason": reason, "state": state, **(details or {})},
    )
    return True


# --- relay -----------------------------------------------------------------------------
def connect(claims: dict, password: str | None, ip: str) -> tuple[Assistance, str]:
    """Open a connection for a verified activation file; RelayRefused otherwise."""
    try:
        assistance_id = int(claims.get("sub", ""))
    except ValueError:
        raise RelayRefused(401, "invalid_activation", "Unknown assistance.") from None
    assistance = db.session.execute(
        select(Assistance)
        .where(Assistance.id == assistance_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if assistance is None or assistance.activation_jti != claims.get("jti"):
        raise RelayRefused(
            401,
            "invalid_activation",
            "This activation file does not belong to a current assistance.",
        )
    now = utcnow()
    if assistance.state == "locked":
        raise RelayRefused(
            423, "locked", "Too many wrong passwords: this assistance is locked. Start a new one."
        )
    if assistance.state == "disconnected" and assistance.grace_until <= now:
        expire(assistance, "grace period over")
        db.session.commit()
    if not assistance.is_live:
        raise RelayRefused(
            410,
            "ended",
            f"This assistance is {assistance.state}; its file and credentials no longer work.",
        )
    if assistance.state in ("requested", "awaiting_consent"):
        raise RelayRefused(409, "not_ready", "The assistance is not ready yet.")
    if assistance.state == "connected":
        raise RelayRefused(409, "already_connected", "An operator is already connected.")
    wrong = assistance.type == "unattended" and not (
        password and verify_password(assistance.password_hash, password)
    )
    if wrong:
        assistance.failed_password_attempts += 1
        audit.record(
            "assistance.wrong_password",
            organization_id=assistance.organization_id,
            target=assistance,
            actor_label="relay",
            ip=ip,
            details={"attempt": assistance.failed_password_attempts},
        )
        if assistance.failed_password_attempts >= current_app.config["RA_MAX_PASSWORD_ATTEMPTS"]:
            expire(
                assistance, "too many wrong passwords", state="locked", action="assistance.locked"
            )
            db.session.commit()
            raise RelayRefused(
                423, "locked", "Too many wrong passwords: this assistance is now locked."
            )
        db.session.commit()
        raise RelayRefused(401, "wrong_password", "Wrong password.")
    connection_id = secrets.token_urlsafe(24)
    assistance.connection_hash = _hash(connection_id)
    assistance.state = "connected"
    assistance.connected_at = now
    assistance.last_heartbeat_at = now  # connecting counts as the first heartbeat
    assistance.grace_until = None
    audit.record(
        "assistance.connected",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label="relay",
        ip=ip,
        details={},
    )
    db.session.commit()
    return assistance, connection_id


def heartbeat(connection_id: str) -> bool:
    """The RA client is alive (SPEC §5): record it; False when the connection is not live
    (any more). One conditional UPDATE: it waits for, then loses to, a concurrent drop or
    disconnect, and bumps the version so a drop that read the old time fails instead."""
    table = Assistance.__table__
    result = db.session.execute(
        update(table)
        .where(table.c.connection_hash == _hash(connection_id), table.c.state == "connected")
        .values(last_heartbeat_at=utcnow(), version=table.c.version + 1)
    )
    db.session.commit()
    return result.rowcount == 1


def disconnect(connection_id: str, ip: str) -> Assistance:
    assistance = db.session.execute(
        select(Assistance)
        .where(Assistance.connection_hash == _hash(connection_id))
        .with_for_update()
    ).scalar_one_or_none()
    if assistance is None or assistance.state != "connected":
        raise RelayRefused(404, "unknown_connection", "No such open connection.")
    _close_connection(assistance, utcnow(), "disconnected by the RA client", "relay", ip)
    db.session.commit()
    return assistance


def _close_connection(assistance: Assistance, now, reason: str, actor_label: str, ip: str):
    """The connection is over: unattended → `disconnected` for the grace window,
    interactive → ended. The caller holds the row lock and commits."""
    assistance.connection_hash = None
    assistance.disconnected_at = now
    audit.record(
        "assistance.disconnected",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label=actor_label,
        ip=ip,
        details={"reason": reason},
    )
    if assistance.type == "unattended":
        grace = timedelta(seconds=current_app.config["RA_GRACE_SECONDS"])
        assistance.state = "disconnected"
        assistance.grace_until = now + grace
    else:
        expire(assistance, f"the interactive session ended ({reason})")


def drop_silent_connections(now=None, limit: int = 200) -> int:
    """A connection with no heartbeat for three RELAY_HEARTBEAT_SECONDS is a disconnection
    (SPEC §5), so a crashed RA client never leaves its device blocked. Each is dropped once
    whatever the number of workers (SKIP LOCKED, re-checked under the lock; the version
    check where the database cannot lock rows) and audited with the reason."""
    now = now or utcnow()
    interval = current_app.config["RELAY_HEARTBEAT_SECONDS"]
    cutoff = now - timedelta(seconds=3 * interval)
    silent = or_(
        Assistance.last_heartbeat_at < cutoff,
        and_(Assistance.last_heartbeat_at.is_(None), Assistance.connected_at < cutoff),
    )
    ids = (
        db.session.execute(
            select(Assistance.id)
            .where(Assistance.state == "connected", silent)
            .order_by(Assistance.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    db.session.rollback()
    dropped = 0
    for assistance_id in ids:
        try:
            assistance = db.session.execute(
                select(Assistance)
                .where(Assistance.id == assistance_id, Assistance.state == "connected", silent)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
            if assistance is None:  # a heartbeat, a disconnect or another worker came first
                db.session.rollback()
                continue
            reason = f"no heartbeat from the RA client for {3 * interval} s"
            _close_connection(assistance, now, reason, "system", "")
            db.session.commit()
            dropped += 1
        except StaleDataError:
            db.session.rollback()
    return dropped
