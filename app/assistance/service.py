"""Starting, following and ending remote assistances (SPEC §4)."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from app import audit
from app.agent_settings.resolution import effective_settings
from app.assistance import rules
from app.assistance.rules import Refusal
from app.core import sealing
from app.core.jobs import QUEUE_SIGNING, enqueue_after_commit
from app.core.passwords import hash_password
from app.extensions import db
from app.fleet.checkin import RESTART_HANDLERS, last_seen
from app.fleet.orders import create_order, on_result
from app.models import (
    AgentOrder,
    Assistance,
    Device,
    DeviceSession,
    Membership,
    OperatorDevice,
    User,
    utcnow,
)
from app.models.assistance import LIVE_STATES
from app.tenancy import can_see_group

log = logging.getLogger(__name__)

PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"  # noqa: S105
PASSWORD_LENGTH = 14  # log2(55) * 14 ≈ 81 bits
SEAL_PURPOSE = "assistance-password"
TOOLS = ("cmd", "powershell", "regedit", "taskmgr")


class AssistanceRefused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def generate_sid() -> str:
    return str(secrets.randbelow(900_000_000) + 100_000_000)


def _refuse(code: str, message: str, status: int = 409) -> AssistanceRefused:
    return AssistanceRefused(Refusal(code, message, status))


# --- what may start ------------------------------------------------------------------
def _context(device: Device, membership: Membership) -> dict:
    settings = effective_settings(device.reporting_group, membership.role)
    return {
        "can_start": membership.role.has("ra.start"),
        "types_setting": settings["remote_assistance.types"],
        "online": rules.checkin_online(device, last_seen([device.id]).get(device.id)),
        "busy": rules.live_assistance(device.id),
        "settings": settings,
    }


def availability(device: Device, membership: Membership) -> dict[str, Refusal | None]:
    """Per type, why it cannot start now (None: it can). Same function as the refusal."""
    ctx = _context(device, membership)
    return {
        t: rules.check(
            device,
            t,
            can_start=ctx["can_start"],
            types_setting=ctx["types_setting"],
            online=ctx["online"],
            busy=ctx["busy"],
        )
        for t in ("interactive", "unattended", "dynamic")
    }


def load_device(device_id: int, org_id: int) -> Device:
    device = db.session.execute(
        select(Device)
        .options(joinedload(Device.reporting_group), selectinload(Device.sessions))
        .where(Device.id == device_id, Device.organization_id == org_id)
    ).scalar_one_or_none()
    if device is None or not can_see_group(device.reporting_group_id):
        raise _refuse("not_found", "No such device.", 404)
    return device


def operator_device_of(user_id: int, org_id: int) -> Device | None:
    row = db.session.execute(
        select(OperatorDevice)
        .options(joinedload(OperatorDevice.device))
        .where(OperatorDevice.user_id == user_id, OperatorDevice.organization_id == org_id)
    ).scalar_one_or_none()
    return row.device if row else None


def start_assistance(
    operator: User,
    membership: Membership,
    *,
    requested_type: str,
    device_id: int | None = None,
    session_id: int | None = None,
    operator_device_id: int | None = None,
) -> Assistance:
    """Start an assistance, or raise AssistanceRefused (recorded in the audit log)."""
    org_id = membership.organization_id
    session_key = None
    if session_id is not None:
        row = db.session.execute(
            select(DeviceSession).where(
                DeviceSession.id == session_id, DeviceSession.organization_id == org_id
            )
        ).scalar_one_or_none()
        if row is None:
            raise _refuse("not_found", "No such user session.", 404)
        device_id, session_key = row.device_id, row.session_key
    if device_id is None:
        raise _refuse("invalid_request", "Give a device_id or a session_id.", 400)
    device = load_device(device_id, org_id)
    ctx = _context(device, membership)
    refusal = rules.check(
        device,
        requested_type,
        can_start=ctx["can_start"],
        types_setting=ctx["types_setting"],
        online=ctx["online"],
        session_key=session_key,
        busy=ctx["busy"],
    )
    if refusal is not None:
        _record_refusal(operator, device, requested_type, refusal)
        raise AssistanceRefused(refusal)

    ra_type, reason = requested_type, ""
    if requested_type == "dynamic":
        ra_type, session_key, reason = rules.decide_dynamic(device, session_key)
    elif requested_type == "interactive" and session_key is None:
        session_key = rules.active_sessions(device)[0].session_key
    if ra_type == "unattended":
        session_key = None

    operator_device = _operator_device(operator, org_id, operator_device_id)
    settings = ctx["settings"]
    tools_on = (
        rules.tools_refusal(
            ra_type,
            bool(settings["flexxible_tools"].value),
            membership.role.name,
            device,
            operator_device,
        )
        is None
    )
    username = next((s.username for s in device.sessions if s.session_key == session_key), "")
    assistance = Assistance(
        organization_id=org_id,
        device_id=device.id,
        operator_id=operator.id,
        operator_device_id=operator_device.id if operator_device else None,
        requested_type=requested_type,
        type=ra_type,
        decision_reason=reason,
        state="requested",
        session_key=session_key,
        session_username=username,
        file_kind="flxra" if operator_device else "exe",
        sid=generate_sid(),
        audio_redirection=bool(settings["audio_redirection"].value),
        proxy_url=settings["proxy_url"].value or "",
        tools=list(TOOLS) if tools_on else [],
        agent_instance_id=device.agent_instance_id,
    )
    db.session.add(assistance)
    try:
        db.session.flush()
    except IntegrityError:
        # Another start won the race for this device: the unique live index said no.
        db.session.rollback()
        device = load_device(device_id, org_id)
        refusal = rules.check(
            device,
            requested_type,
            can_start=True,
            types_setting=ctx["types_setting"],
            online=True,
            session_key=session_key,
            busy=rules.live_assistance(device.id),
        ) or Refusal("device_busy", f"{device.hostname} already has a live remote assistance.")
        _record_refusal(operator, device, requested_type, refusal)
        raise AssistanceRefused(refusal) from None

    cfg = current_app.config
    operator_name = operator.name or operator.email
    if ra_type == "interactive":
        order = create_order(
            device,
            "ra.interactive.start",
            {
                "assistance_id": assistance.id,
                "session_key": session_key,
                "audio_redirection": assistance.audio_redirection,
                "operator_name": operator_name,
            },
            answer_s=cfg["RA_CONSENT_TIMEOUT_SECONDS"] + cfg["RA_AGENT_TIMEOUT_SECONDS"],
            actor=operator,
        )
        assistance.state = "awaiting_consent"
    else:
        password = generate_password()
        assistance.password_hash = hash_password(password)
        assistance.sealed_password = sealing.seal(SEAL_PURPOSE, {"password": password})
        order = create_order(
            device,
            "ra.unattended.start",
            {
                "assistance_id": assistance.id,
                "audio_redirection": assistance.audio_redirection,
                "proxy_url": assistance.proxy_url,
            },
            secret={"password": password},
            actor=operator,
        )
        del password
    assistance.start_order_id = order.id
    audit.record(
        "assistance.started",
        organization_id=org_id,
        target=assistance,
        actor=operator,
        details={
            "device": device.hostname,
            "device_id": device.id,
            "requested_type": requested_type,
            "type": ra_type,
            "decision": reason or None,
            "session_key": session_key,
            "file_kind": assistance.file_kind,
            "tools": assistance.tools,
        },
    )
    db.session.commit()
    return assistance


def _operator_device(operator: User, org_id: int, device_id: int | None) -> Device | None:
    if device_id is None:
        return operator_device_of(operator.id, org_id)
    device = db.session.execute(
        select(Device).where(Device.id == device_id, Device.organization_id == org_id)
    ).scalar_one_or_none()
    if device is None or not can_see_group(device.reporting_group_id):
        raise _refuse(
            "invalid_operator_device",
            "The operator device is not a device of this organization you can see.",
            400,
        )
    return device


def _record_refusal(operator, device, requested_type, refusal: Refusal) -> None:
    db.session.rollback()
    audit.record(
        "assistance.refused",
        organization_id=device.organization_id,
        target=device,
        actor=operator,
        details={"code": refusal.code, "type": requested_type, "device": device.hostname},
    )
    db.session.commit()


# --- the agent's answers ---------------------------------------------------------------
def _assistance_for(order: AgentOrder) -> Assistance | None:
    assistance_id = (order.payload or {}).get("assistance_id")
    if not isinstance(assistance_id, int):
        return None
    return db.session.execute(
        select(Assistance)
        .where(
            Assistance.id == assistance_id,
            Assistance.organization_id == order.organization_id,
            Assistance.device_id == order.device_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _end(assistance: Assistance, state: str, reason: str) -> None:
    assistance.state = state
    assistance.ended_at = utcnow()
    assistance.end_reason = reason
    assistance.sealed_password = None
    assistance.activation_file = None
    assistance.connection_hash = None


def _mark_ready(assistance: Assistance) -> None:
    now = utcnow()
    assistance.state = "ready"
    assistance.ready_at = now
    assistance.ready_until = now + timedelta(seconds=current_app.config["RA_READY_TTL_SECONDS"])
    enqueue_signing(assistance.id)


@on_result("ra.interactive.start")
def _consent_answered(order: AgentOrder) -> None:
    assistance = _assistance_for(order)
    if assistance is None or assistance.state != "awaiting_consent":
        return
    consent = (order.result or {}).get("consent") if order.status == "succeeded" else None
    audit.record(
        "assistance.consent_answered",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label="agent",
        details={"consent": consent or "error", "error": order.error},
    )
    if consent == "granted":
        _mark_ready(assistance)
    elif consent in ("denied", "timeout"):
        _end(assistance, "denied", f"consent {consent}")
    else:
        _end(assistance, "failed", f"agent error: {order.error or 'no consent answer'}")


@on_result("ra.unattended.start")
def _service_started(order: AgentOrder) -> None:
    assistance = _assistance_for(order)
    if assistance is None or assistance.state != "requested":
        return
    if order.status != "succeeded":
        _end(assistance, "failed", f"agent error: {order.error or 'service did not start'}")
        audit.record(
            "assistance.failed",
            organization_id=assistance.organization_id,
            target=assistance,
            actor_label="agent",
            details={"error": order.error},
        )
        return
    reported = str((order.result or {}).get("session_id", ""))
    if len(reported) == 9 and reported.isdigit():
        assistance.sid = reported
    audit.record(
        "assistance.service_started",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label="agent",
        details={},
    )
    _mark_ready(assistance)


@on_result("ra.unattended.stop")
def _service_stopped(order: AgentOrder) -> None:
    assistance = _assistance_for(order)
    if assistance is None:
        return
    removed = order.status == "succeeded" and (order.result or {}).get("service_removed") is True
    assistance.teardown = "confirmed" if removed else "unconfirmed"
    audit.record(
        "assistance.teardown_confirmed" if removed else "assistance.teardown_unconfirmed",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label="agent",
        details={"error": order.error},
    )


def _interrupt_on_restart(device: Device) -> None:
    for assistance in db.session.execute(
        select(Assistance)
        .where(Assistance.device_id == device.id, Assistance.state.in_(LIVE_STATES))
        .with_for_update()
    ).scalars():
        _end(assistance, "interrupted", "the agent restarted")
        audit.record(
            "assistance.interrupted",
            organization_id=assistance.organization_id,
            target=assistance,
            actor_label="agent",
            details={"reason": "agent restarted"},
        )
        if assistance.type == "unattended":
            order_stop(assistance, device)


RESTART_HANDLERS.append(_interrupt_on_restart)


def order_stop(assistance: Assistance, device: Device | None = None) -> None:
    """Order the agent to remove the unattended service: once per assistance (the caller
    holds the row lock)."""
    if assistance.type != "unattended" or assistance.stop_order_id is not None:
        return
    device = device or db.session.get(Device, assistance.device_id)
    order = create_order(device, "ra.unattended.stop", {"assistance_id": assistance.id})
    assistance.stop_order_id = order.id
    assistance.teardown = "pending"


# --- signing (worker) ------------------------------------------------------------------
def enqueue_signing(assistance_id: int) -> None:
    enqueue_after_commit(
        QUEUE_SIGNING,
        "app.tasks.assistance.sign_activation_file",
        assistance_id,
        job_id=f"sign-{assistance_id}",
        result_ttl=600,
        failure_ttl=86400,
    )


def sign_activation_file(assistance_id: int) -> bool:
    """Sign and store the assistance's activation file (idempotent; skips rows another
    worker holds). Returns whether this call signed it."""
    from app.assistance import files, keys

    assistance = (
        db.session.execute(
            select(Assistance)
            .options(joinedload(Assistance.device), joinedload(Assistance.operator))
            .where(Assistance.id == assistance_id)
            .with_for_update(of=Assistance, skip_locked=True)
        )
        .unique()
        .scalar_one_or_none()
    )
    if (
        assistance is None
        or assistance.activation_file is not None
        or assistance.state not in ("ready", "connected", "disconnected")
    ):
        db.session.rollback()
        return False
    key_row = keys.ensure_key()
    claims = files.claims_for(assistance)
    token = files.sign(claims, key_row)
    assistance.activation_file = files.package(token, assistance.file_kind)
    assistance.activation_jti = claims["jti"]
    assistance.activation_kid = key_row.kid
    assistance.activation_expires_at = utcnow() + timedelta(seconds=claims["exp"] - claims["iat"])
    assistance.signed_at = utcnow()
    audit.record(
        "assistance.file_signed",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label="worker",
        details={"kid": key_row.kid, "jti": claims["jti"], "file_kind": assistance.file_kind},
    )
    db.session.commit()
    return True
