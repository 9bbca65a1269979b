"""Starting a remote assistance (SPEC §4): what may start on a device, and the start itself
(interactive, unattended, dynamic), refused with the reasons of `rules`."""

from __future__ import annotations

import logging
import secrets

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from app import audit
from app.agent_settings.resolution import effective_settings
from app.assistance import rules, windows
from app.assistance.rules import AssistanceRefused, Refusal, refuse
from app.core import sealing
from app.core.passwords import hash_random_secret
from app.extensions import db
from app.fleet.checkin import last_seen
from app.fleet.orders import create_order
from app.models import (
    Assistance,
    Device,
    DeviceSession,
    Membership,
    OperatorDevice,
    User,
)

log = logging.getLogger(__name__)

PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"  # noqa: S105
PASSWORD_LENGTH = 14  # log2(55) * 14 ≈ 81 bits
SEAL_PURPOSE = "assistance-password"
TOOLS = ("cmd", "powershell", "regedit", "taskmgr")


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def generate_sid() -> str:
    return str(secrets.randbelow(900_000_000) + 100_000_000)


def _context(device: Device, membership: Membership) -> dict:
    settings = effective_settings(device.reporting_group, membership.role)
    return {
        "can_start": membership.role.has("ra.start"),
        "types_setting": settings["remote_assistance.types"],
        "online": rules.checkin_online(device, last_seen([device.id]).get(device.id)),
        "busy": rules.live_assistance(device.id),
        "access_windows": settings["remote_assistance.access_windows"],
        "settings": settings,
    }


def availability(
    device: Device, membership: Membership, session_key: str | None = None
) -> dict[str, Refusal | None]:
    """Per type, why it cannot start now (None: it can), for the user session `session_key`
    when one is chosen. Same function as the refusal."""
    ctx = _context(device, membership)
    return {
        t: rules.check(
            device,
            t,
            can_start=ctx["can_start"],
            types_setting=ctx["types_setting"],
            online=ctx["online"],
            busy=ctx["busy"],
            session_key=session_key,
            access_windows=ctx["access_windows"],
        )
        for t in ("interactive", "unattended", "dynamic")
    }


def _sees(membership: Membership, device: Device) -> bool:
    limit = membership.role.group_limit
    return limit is None or device.reporting_group_id in limit


def load_device(device_id: int, membership: Membership) -> Device:
    """A device `membership` may see (its organization, its role's groups), or refuse
    with not_found: a device outside them is as unknown as another tenant's."""
    device = db.session.execute(
        select(Device)
        .options(joinedload(Device.reporting_group), selectinload(Device.sessions))
        .where(Device.id == device_id, Device.organization_id == membership.organization_id)
    ).scalar_one_or_none()
    if device is None or not _sees(membership, device):
        raise refuse("not_found", _("No such device."), 404)
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
            raise refuse("not_found", _("No such user session."), 404)
        device_id, session_key = row.device_id, row.session_key
    if device_id is None:
        raise refuse("invalid_request", _("Give a device_id or a session_id."), 400)
    device = load_device(device_id, membership)
    ctx = _context(device, membership)
    refusal = rules.check(
        device,
        requested_type,
        can_start=ctx["can_start"],
        types_setting=ctx["types_setting"],
        online=ctx["online"],
        session_key=session_key,
        busy=ctx["busy"],
        access_windows=ctx["access_windows"],
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

    operator_device = _operator_device(operator, membership, operator_device_id)
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
    windows.stamp_close(assistance, ctx["access_windows"].value, device.organization)
    db.session.add(assistance)
    try:
        db.session.flush()
    except IntegrityError:
        # Another start won the race for this device: the unique live index said no.
        db.session.rollback()
        device = load_device(device_id, membership)
        refusal = rules.check(
            device,
            requested_type,
            can_start=True,
            types_setting=ctx["types_setting"],
            online=True,
            session_key=session_key,
            busy=rules.live_assistance(device.id),
        ) or Refusal(
            "device_busy",
            _("%(device)s already has a live remote assistance.", device=device.hostname),
        )
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
        assistance.password_hash = hash_random_secret(password)
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


def _operator_device(
    operator: User, membership: Membership, device_id: int | None
) -> Device | None:
    org_id = membership.organization_id
    if device_id is None:
        return operator_device_of(operator.id, org_id)
    device = db.session.execute(
        select(Device).where(Device.id == device_id, Device.organization_id == org_id)
    ).scalar_one_or_none()
    if device is None or not _sees(membership, device):
        raise refuse(
            "invalid_operator_device",
            _("The operator device is not a device of this organization you can see."),
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
