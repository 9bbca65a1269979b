"""What people read for the codes the product stores (states, kinds, types): one place,
translated when shown. Templates reach them through the `label(kind, code)` global."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from app.people.permissions import BUILTIN_ROLE_LABELS, BUILTIN_ROLES

LABELS: dict[str, dict[str, str]] = {
    "assistance_state": {
        "requested": _l("Starting"),
        "awaiting_consent": _l("Waiting for consent"),
        "awaiting_approval": _l("Waiting for approval"),
        "ready": _l("Ready"),
        "connected": _l("Connected"),
        "disconnected": _l("Disconnected"),
        "expired": _l("Ended"),
        "denied": _l("Denied by the user"),
        "failed": _l("Failed"),
        "interrupted": _l("Interrupted"),
        "cancelled": _l("Ended by the operator"),
        "locked": _l("Locked"),
        "live": _l("Live"),
    },
    "ra_type": {
        "interactive": _l("Interactive"),
        "unattended": _l("Unattended"),
        "dynamic": _l("Dynamic"),
    },
    "session_state": {
        "active": _l("Active"),
        "disconnected": _l("Disconnected"),
        "locked": _l("Locked"),
    },
    "session_kind": {
        "console": _l("Console"),
        "rdp": _l("Remote desktop"),
        "vdi": _l("VDI"),
        "app": _l("Published app"),
    },
    "device_kind": {
        "physical": _l("Physical"),
        "vdi": _l("VDI"),
        "shared_desktop": _l("Shared desktop"),
        "virtual_app": _l("Virtual app"),
        "server": _l("Server"),
        "kiosk": _l("Kiosk"),
    },
    "order_status": {
        "pending": _l("Waiting for the agent"),
        "delivered": _l("Delivered"),
        "succeeded": _l("Done"),
        "failed": _l("Failed"),
        "expired": _l("Not answered in time"),
    },
    "order_type": {
        "ra.interactive.start": _l("Start interactive assistance"),
        "ra.unattended.start": _l("Start unattended assistance"),
        "ra.unattended.stop": _l("Remove the assistance service"),
        "ra.end": _l("End the assistance"),
        "tools.launch": _l("Launch a Flexxible Tool"),
    },
    "teardown": {
        "none": _l("Not needed"),
        "pending": _l("Ordered"),
        "confirmed": _l("Confirmed by the agent"),
        "unconfirmed": _l("Not confirmed"),
    },
    "invitation_status": {
        "pending": _l("Pending"),
        "accepted": _l("Accepted"),
        "expired": _l("Expired"),
        "revoked": _l("Withdrawn"),
    },
    "token_problem": {
        "revoked": _l("Revoked"),
        "expired": _l("Expired"),
        "used up": _l("Used up"),
    },
    "tool": {
        "cmd": _l("Command prompt"),
        "powershell": _l("PowerShell"),
        "regedit": _l("Registry editor"),
        "taskmgr": _l("Task manager"),
    },
    "refusal": {
        "unknown_type": _l("Unknown type"),
        "ra_not_permitted": _l("Role may not start assistance"),
        "not_windows": _l("Not a Windows device"),
        "agent_too_old": _l("Agent too old"),
        "agent_too_old_for_dynamic": _l("Agent too old for dynamic"),
        "ra_disabled": _l("Remote assistance disabled"),
        "dynamic_only": _l("Group allows dynamic only"),
        "type_not_enabled": _l("Type not allowed in the group"),
        "device_offline": _l("Device offline"),
        "device_busy": _l("Device already assisted"),
        "session_not_active": _l("User session not active"),
        "no_active_session": _l("No active user session"),
        "session_required": _l("User session not chosen"),
        "reason_required": _l("Reason missing"),
        "outside_access_window": _l("Outside the access window"),
    },
    "outcome": {
        "live": _l("Live"),
        "completed": _l("Completed"),
        "denied": _l("Denied"),
        "failed": _l("Failed"),
    },
}


def label(kind: str, code: str | None) -> str:
    """The translated label of `code`, or the code itself when it has none."""
    if code is None:
        return ""
    return LABELS.get(kind, {}).get(code, code)


def role_name(role) -> str:
    """A role as people read it: built-in roles still carrying their original name are
    shown in the reader's language; renamed and custom roles as written."""
    key = getattr(role, "builtin_key", None)
    if key in BUILTIN_ROLES and role.name == BUILTIN_ROLES[key][0]:
        return str(BUILTIN_ROLE_LABELS[key])
    return role.name


def state_badge(state: str) -> Markup:
    return Markup('<span class="badge state-{}">{}</span>').format(
        state, label("assistance_state", state)
    )
