"""What an assistance becomes once it may go ahead: the plan decided from the device, the
operator's role and the group's settings (type, session, file kind, what the file grants),
and the launch itself (the order to the agent, the one-time password). A direct start and
an approved request go through the same two functions, so an approval proceeds exactly as
a direct start would, every SPEC §4 rule checked at that moment."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from app.agent_settings.resolution import EffectiveSetting, effective_settings
from app.assistance import rules, windows
from app.assistance.rules import Refusal
from app.core import sealing
from app.core.passwords import hash_random_secret
from app.extensions import db
from app.fleet.checkin import last_seen
from app.fleet.orders import create_order
from app.models import Assistance, Device, Membership, OperatorDevice, User

PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"  # noqa: S105
PASSWORD_LENGTH = 14  # log2(55) * 14 ≈ 81 bits
SEAL_PURPOSE = "assistance-password"
TOOLS = ("cmd", "powershell", "regedit", "taskmgr")


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def generate_sid() -> str:
    return str(secrets.randbelow(900_000_000) + 100_000_000)


def operator_device_of(user_id: int, org_id: int) -> Device | None:
    row = db.session.execute(
        select(OperatorDevice).where(
            OperatorDevice.user_id == user_id, OperatorDevice.organization_id == org_id
        )
    ).scalar_one_or_none()
    return db.session.get(Device, row.device_id) if row else None


@dataclass
class Plan:
    """What a start will do, or why it cannot (`refusal`)."""

    settings: dict[str, EffectiveSetting]
    refusal: Refusal | None = None
    ra_type: str = ""
    session_key: str | None = None
    decision: str = ""
    username: str = ""
    tools: tuple[str, ...] = ()

    def setting(self, key: str):
        return self.settings[key].value


def plan(
    device: Device,
    membership: Membership,
    requested_type: str,
    session_key: str | None,
    operator_device: Device | None,
    *,
    holder: Assistance | None = None,
) -> Plan:
    """Check every refusal for `membership`'s role on `device` now and decide the rest.
    `holder` is the assistance the start belongs to (an approved request): it does not
    count as the device's live assistance."""
    settings = effective_settings(device.reporting_group, membership.role)
    busy = rules.live_assistance(device.id)
    if holder is not None and busy is not None and busy.id == holder.id:
        busy = None
    result = Plan(settings)
    result.refusal = rules.check(
        device,
        requested_type,
        can_start=membership.role.has("ra.start"),
        types_setting=settings["remote_assistance.types"],
        online=rules.checkin_online(device, last_seen([device.id]).get(device.id)),
        session_key=session_key,
        busy=busy,
        access_windows=settings["remote_assistance.access_windows"],
    )
    if result.refusal is not None:
        return result
    ra_type, decision = requested_type, ""
    if requested_type == "dynamic":
        ra_type, session_key, decision = rules.decide_dynamic(device, session_key)
    elif requested_type == "interactive" and session_key is None:
        session_key = rules.active_sessions(device)[0].session_key
    if ra_type == "unattended":
        session_key = None
    tools_on = (
        rules.tools_refusal(
            ra_type,
            bool(result.setting("flexxible_tools")),
            membership.role.name,
            device,
            operator_device,
        )
        is None
    )
    result.ra_type, result.session_key, result.decision = ra_type, session_key, decision
    result.username = next(
        (s.username for s in device.sessions if s.session_key == session_key), ""
    )
    result.tools = TOOLS if tools_on else ()
    return result


def shape(assistance: Assistance, planned: Plan) -> None:
    """Give `assistance` what `planned` decided (type, session, what its file grants)."""
    assistance.type = planned.ra_type
    assistance.decision_reason = planned.decision
    assistance.session_key = planned.session_key
    assistance.session_username = planned.username
    assistance.audio_redirection = bool(planned.setting("audio_redirection"))
    assistance.proxy_url = planned.setting("proxy_url") or ""
    assistance.tools = list(planned.tools)


def launch(assistance: Assistance, device: Device, operator: User, planned: Plan) -> None:
    """Order the agent to start (consent prompt, or unattended service with a new one-time
    password sealed until the operator reveals it). The caller records and commits."""
    cfg = current_app.config
    assistance.agent_instance_id = device.agent_instance_id
    if assistance.type == "interactive":
        order = create_order(
            device,
            "ra.interactive.start",
            {
                "assistance_id": assistance.id,
                "session_key": assistance.session_key,
                "audio_redirection": assistance.audio_redirection,
                "operator_name": operator.name or operator.email,
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
        assistance.state = "requested"
        # Its access window's close, as of now (an approved request: when approved).
        windows.stamp_close(
            assistance,
            planned.setting("remote_assistance.access_windows"),
            device.organization,
        )
    assistance.start_order_id = order.id


def started_details(assistance: Assistance, device: Device) -> dict:
    """The audit details of a start (never the password; the reason and ticket, which the
    activation file never carries)."""
    return {
        "device": device.hostname,
        "device_id": device.id,
        "requested_type": assistance.requested_type,
        "type": assistance.type,
        "decision": assistance.decision_reason or None,
        "session_key": assistance.session_key,
        "file_kind": assistance.file_kind,
        "tools": assistance.tools,
        **reason_details(assistance),
    }


def reason_details(assistance: Assistance) -> dict:
    details = {}
    if assistance.reason:
        details["reason"] = assistance.reason
    if assistance.ticket:
        details["ticket"] = assistance.ticket
    return details
