"""The end of assistances: relay connect/disconnect with the grace window, and expiry (one
function for every path). What is due later (grace over, TTL over, no answer) is done by
the sweeper (`app.assistance.sweeper`)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

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
) -> bool:
    """End a live assistance for good: credentials and file dead, file deleted, the agent
    told (stop order for unattended, end order for interactive). Idempotent; the caller
    holds the row lock and commits. Returns whether this call ended it."""
    if not assistance.is_live:
        return False
    end_state(assistance, state, reason)
    assistance.password_hash = None  # "the password is expired": nothing left to check
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
        details={"reason": reason, "state": state},
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


def disconnect(connection_id: str, ip: str) -> Assistance:
    assistance = db.session.execute(
        select(Assistance)
        .where(Assistance.connection_hash == _hash(connection_id))
        .with_for_update()
    ).scalar_one_or_none()
    if assistance is None or assistance.state != "connected":
        raise RelayRefused(404, "unknown_connection", "No such open connection.")
    now = utcnow()
    assistance.connection_hash = None
    assistance.disconnected_at = now
    audit.record(
        "assistance.disconnected",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label="relay",
        ip=ip,
        details={},
    )
    if assistance.type == "unattended":
        grace = timedelta(seconds=current_app.config["RA_GRACE_SECONDS"])
        assistance.state = "disconnected"
        assistance.grace_until = now + grace
    else:
        expire(assistance, "the interactive session ended")
    db.session.commit()
    return assistance
