"""Whether a remote assistance may start: every refusal of SPEC §4, computed once.

`check(...)` raises nothing; it returns a `Refusal` (code, message, status) or None. The
start service refuses with it; the device page and the API show it per type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from babel.dates import format_date
from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _

from app.agent_settings.access_windows import state_at, zone_of
from app.agent_settings.resolution import EffectiveSetting
from app.agent_settings.schedule import format_schedule
from app.extensions import db
from app.models import Assistance, Device, DeviceSession
from app.models.assistance import LIVE_STATES, REQUESTED_TYPES

MIN_AGENT = (23, 7)
MIN_AGENT_DYNAMIC = (24, 9, 2)


@dataclass(frozen=True)
class Refusal:
    """Why an assistance cannot start: a stable `code` for programs, a `message` for
    people (a sentence in the reader's language), and the live assistance that holds the
    device when that is the reason."""

    code: str
    message: str
    status: int = 409
    assistance_id: int | None = None

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class AssistanceRefused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def refuse(code: str, message: str, status: int = 409) -> AssistanceRefused:
    return AssistanceRefused(Refusal(code, message, status))


def parse_version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        return ()


def _fmt(version: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in version)


def active_sessions(device: Device) -> list[DeviceSession]:
    return [s for s in device.sessions if s.state == "active"]


def live_assistance(device_id: int) -> Assistance | None:
    return db.session.execute(
        db.select(Assistance).where(
            Assistance.device_id == device_id, Assistance.state.in_(LIVE_STATES)
        )
    ).scalar_one_or_none()


def live_assistances(device_ids) -> dict[int, Assistance]:
    """The live assistance of each of these devices that has one (one query)."""
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        db.select(Assistance).where(
            Assistance.device_id.in_(ids), Assistance.state.in_(LIVE_STATES)
        )
    ).scalars()
    return {a.device_id: a for a in rows}


def check(
    device: Device,
    requested: str,
    *,
    can_start: bool,
    types_setting: EffectiveSetting,
    online: bool,
    session_key: str | None = None,
    busy: Assistance | None = None,
    access_windows: EffectiveSetting | None = None,
) -> Refusal | None:
    """Why `requested` cannot start on `device` now, or None. `types_setting` is the group's
    effective `remote_assistance.types`, `access_windows` its schedule; `busy` the device's
    live assistance, if any."""
    name = device.hostname
    group = device.reporting_group.name
    if requested not in REQUESTED_TYPES:
        return Refusal(
            "unknown_type",
            _(
                "%(type)s is not a remote assistance type; choose interactive, unattended "
                "or dynamic.",
                type=repr(requested),
            ),
            400,
        )
    if not can_start:
        return Refusal(
            "ra_not_permitted",
            _(
                "Your role does not allow starting remote assistance (permission ra.start); "
                "ask an administrator."
            ),
            403,
        )
    if not device.is_windows:
        return Refusal(
            "not_windows",
            _(
                "%(device)s runs %(os)s; remote assistance supports Windows devices only.",
                device=name,
                os=device.os_name or _("an unknown operating system"),
            ),
        )
    version = parse_version(device.agent_version)
    if version < MIN_AGENT:
        return Refusal(
            "agent_too_old",
            _(
                "%(device)s runs FlexxAgent %(version)s; remote assistance needs %(needed)s "
                "or later. Update the agent.",
                device=name,
                version=device.agent_version or "?",
                needed=_fmt(MIN_AGENT),
            ),
        )
    if requested == "dynamic" and version < MIN_AGENT_DYNAMIC:
        return Refusal(
            "agent_too_old_for_dynamic",
            _(
                "%(device)s runs FlexxAgent %(version)s; dynamic remote assistance needs "
                "%(needed)s or later. Update the agent, or start an interactive or unattended "
                "assistance if the group allows.",
                device=name,
                version=device.agent_version,
                needed=_fmt(MIN_AGENT_DYNAMIC),
            ),
        )
    enabled = types_setting.value or []
    if not enabled:
        return Refusal(
            "ra_disabled",
            _(
                "Remote assistance is disabled for the reporting group %(group)s (%(source)s). "
                "An administrator can enable it in Settings → Reporting groups → FlexxAgent "
                "settings.",
                group=group,
                source=types_setting.label,
            ),
        )
    if enabled == ["dynamic"] and requested != "dynamic":
        return Refusal(
            "dynamic_only",
            _(
                "The reporting group %(group)s is configured for dynamic remote assistance: "
                "start a dynamic assistance instead; it chooses interactive or unattended from "
                "the device's user sessions.",
                group=group,
            ),
        )
    if requested not in enabled:
        return Refusal(
            "type_not_enabled",
            _(
                "The reporting group %(group)s does not allow %(type)s remote assistance (it "
                "allows %(allowed)s). Choose an allowed type, or ask an administrator to "
                "enable it.",
                group=group,
                type=_type_name(requested),
                allowed=", ".join(_type_name(t) for t in enabled),
            ),
        )
    if access_windows is not None and (closed := window_refusal(device, access_windows.value)):
        return closed
    if not online:
        return Refusal(
            "device_offline",
            _(
                "%(device)s is offline: its FlexxAgent has not checked in recently. It must "
                "be online to receive the assistance order.",
                device=name,
            ),
        )
    if busy is not None:
        return Refusal(
            "device_busy",
            _(
                "%(device)s already has a live remote assistance (#%(id)s). End it before "
                "starting another.",
                device=name,
                id=busy.id,
            ),
            assistance_id=busy.id,
        )
    if requested in ("interactive", "dynamic"):
        return _session_refusal(device, requested, session_key)
    return None


def window_refusal(device: Device, windows: list, now: datetime | None = None) -> Refusal | None:
    """`remote_assistance.access_windows`: outside the schedule, a refusal naming the next
    window's start in the organization's time zone."""
    zone = device.organization.time_zone or "UTC"
    state = state_at(windows, zone, now or datetime.now(UTC))
    if state.open:
        return None
    locale = get_locale() or "en"
    opens = state.next_opens_at.astimezone(zone_of(zone))
    return Refusal(
        "outside_access_window",
        _(
            "Remote assistance on the reporting group %(group)s is allowed %(schedule)s "
            "(%(zone)s); the next window opens %(day)s at %(time)s.",
            group=device.reporting_group.name,
            schedule=format_schedule(windows, locale),
            zone=zone,
            day=format_date(opens, "full", locale=locale),
            time=opens.strftime("%H:%M"),
        ),
    )


def _type_name(ra_type: str) -> str:
    return {
        "interactive": _("interactive"),
        "unattended": _("unattended"),
        "dynamic": _("dynamic"),
    }.get(ra_type, ra_type)


def _session_refusal(device: Device, requested: str, session_key: str | None) -> Refusal | None:
    active = active_sessions(device)
    if session_key is not None:
        if not any(s.session_key == session_key for s in active):
            return Refusal(
                "session_not_active",
                _(
                    "User session %(session)s is not an active session on %(device)s; refresh "
                    "the sessions and choose an active one.",
                    session=session_key,
                    device=device.hostname,
                ),
            )
        return None
    if requested == "interactive" and not active:
        return Refusal(
            "no_active_session",
            _(
                "%(device)s has no active user session to assist interactively; use "
                "unattended (or dynamic) assistance instead.",
                device=device.hostname,
            ),
        )
    if len(active) > 1:
        return Refusal(
            "session_required",
            _(
                "%(device)s has %(count)s active user sessions; choose the session to assist.",
                device=device.hostname,
                count=len(active),
            ),
        )
    return None


def decide_dynamic(device: Device, session_key: str | None) -> tuple[str, str | None, str]:
    """Dynamic: interactive on the active session if there is one, else unattended.
    Returns (type, session key, reason)."""
    active = active_sessions(device)
    if session_key is not None:
        return "interactive", session_key, f"dynamic: chosen active session {session_key}"
    if active:
        s = active[0]
        return (
            "interactive",
            s.session_key,
            (f"dynamic: active user session {s.session_key} ({s.username}) found"),
        )
    return "unattended", None, "dynamic: no active user session on the device"


def checkin_online(device: Device, last_seen) -> bool:
    return device.is_online(
        current_app.config["AGENT_CHECKIN_INTERVAL_SECONDS"], last_seen=last_seen
    )


def tools_refusal(
    ra_type: str, tools_flag: bool, role_name: str, device: Device, operator_device: Device | None
) -> str | None:
    """Why Flexxible Tools are not allowed for this operator on this device, or None
    (SPEC §4: interactive, the flag on for the operator's role in the device's group, and
    the operator's device in the same FlexxAgent environment)."""
    if ra_type != "interactive":
        return _("Flexxible Tools are available in interactive assistance only.")
    if not tools_flag:
        return _(
            "Flexxible Tools are not enabled for the role %(role)s in the reporting group "
            "%(group)s.",
            role=role_name,
            group=device.reporting_group.name,
        )
    if operator_device is None:
        return _("Register your operator device (Profile) to use Flexxible Tools.")
    if operator_device.environment != device.environment:
        return _(
            "Your device is in FlexxAgent environment %(mine)s and %(device)s in %(theirs)s: "
            "they must match.",
            mine=operator_device.environment or _("(none)"),
            device=device.hostname,
            theirs=device.environment or _("(none)"),
        )
    return None


def reason_refusal(required: bool, reason: str) -> Refusal | None:
    """`remote_assistance.reason_required`: a start must say why."""
    if required and not reason.strip():
        return Refusal(
            "reason_required",
            _(
                "This reporting group requires a reason for every remote assistance: say why "
                "you are starting it (and give the ticket number if there is one)."
            ),
            400,
        )
    return None
