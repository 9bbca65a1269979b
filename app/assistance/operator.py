"""What the initiating operator does with a live assistance: reveal the credentials once,
download the file, launch Flexxible Tools, end or revoke."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app import audit
from app.agent_settings.resolution import effective_settings
from app.assistance import rules
from app.assistance.launch import SEAL_PURPOSE, TOOLS
from app.assistance.lifecycle import expire
from app.assistance.rules import AssistanceRefused, Refusal, refuse
from app.core import sealing
from app.extensions import db
from app.fleet.orders import create_order
from app.models import Assistance, Device, Membership, User, utcnow


def _own(assistance: Assistance, operator: User) -> None:
    if assistance.operator_id != operator.id:
        raise refuse(
            "not_initiator", _("Only the operator who started this assistance can do that."), 403
        )


def _locked(assistance_id: int) -> Assistance:
    """The assistance as it is now, locked for this transaction (PostgreSQL; without row
    locks the version check refuses a concurrent writer at commit)."""
    return db.session.execute(
        select(Assistance)
        .where(Assistance.id == assistance_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def reveal(assistance: Assistance, operator: User) -> dict[str, str]:
    """Session ID and password, once. The sealed copy is destroyed as it is shown. Two
    reveals at the same moment (two tabs, two web nodes): one gets the credentials, the
    other `already_revealed`."""
    _own(assistance, operator)
    for attempt in (1, 2):
        try:
            return _reveal_once(_locked(assistance.id), operator)
        except StaleDataError:
            # Without row locks, another writer (the other reveal, or the worker storing
            # the file) committed first: look again.
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _reveal_once(assistance: Assistance, operator: User) -> dict[str, str]:
    if assistance.type != "unattended":
        raise refuse(
            "not_unattended",
            _(
                "Only unattended assistances have a password; interactive ones ask the user's "
                "consent instead."
            ),
        )
    if assistance.revealed_at is not None:
        raise refuse(
            "already_revealed",
            _(
                "The credentials were already shown once; they cannot be shown again. End this "
                "assistance and start a new one."
            ),
        )
    if assistance.state not in ("ready", "connected", "disconnected"):
        raise refuse(
            "not_ready",
            _(
                "The assistance is not ready yet: credentials are available once the agent has "
                "started the service."
            ),
        )
    if assistance.sealed_password is None:
        raise refuse("already_revealed", _("The credentials are no longer available."))
    secret = sealing.open_sealed(SEAL_PURPOSE, assistance.sealed_password)
    assistance.sealed_password = None
    assistance.revealed_at = utcnow()
    audit.record(
        "assistance.revealed",
        organization_id=assistance.organization_id,
        target=assistance,
        actor=operator,
        details={},
    )
    db.session.commit()
    return {"session_id": assistance.sid, "password": secret["password"]}


def download(assistance: Assistance, operator: User) -> bytes:
    _own(assistance, operator)
    if assistance.state not in ("ready", "connected", "disconnected"):
        raise refuse(
            "not_ready",
            _("The assistance is not live: there is no activation file to download."),
            409,
        )
    if assistance.activation_file is None:
        raise refuse(
            "file_not_ready",
            _("The activation file is being signed; try again in a moment."),
            409,
        )
    audit.record(
        "assistance.file_downloaded",
        organization_id=assistance.organization_id,
        target=assistance,
        actor=operator,
        details={"file_kind": assistance.file_kind},
    )
    db.session.commit()
    return assistance.activation_file


def may_end(assistance: Assistance, actor: User, membership: Membership) -> bool:
    """The initiator ends their own assistance; a holder of ra.manage any in the groups
    their role covers (the caller has already refused, as 404, one outside them)."""
    return assistance.operator_id == actor.id or membership.role.has("ra.manage")


def end(
    assistance: Assistance, actor: User, membership: Membership, revoke: bool = False
) -> Assistance:
    """End now (no grace): credentials and file stop working, the agent is told. Ending
    another operator's assistance (ra.manage) is recorded with whose it was."""
    if not may_end(assistance, actor, membership):
        raise refuse(
            "not_initiator",
            "Only the operator who started this assistance, or someone whose role may "
            "manage assistances (ra.manage), can end or revoke it.",
            403,
        )
    locked = db.session.execute(
        select(Assistance)
        .where(Assistance.id == assistance.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if not locked.is_live:
        raise refuse("not_live", _("The assistance has already ended."))
    forced = locked.operator_id != actor.id
    verb = "revoked" if revoke else "ended"
    reason = f"{verb} by {actor.name or actor.email}" if forced else f"{verb} by operator"
    state = "cancelled" if locked.connected_at is None else "expired"
    initiator = locked.operator
    expire(
        locked,
        reason,
        state=state,
        actor=actor,
        action=f"assistance.{verb}",
        details={
            "forced": forced,
            "initiator": {
                "id": locked.operator_id,
                "name": (initiator.name or initiator.email) if initiator else None,
            },
        },
    )
    db.session.commit()
    return locked


def recorded_operator_device(assistance: Assistance) -> Device | None:
    """The operator device recorded at start: the one the file's `tools` claim was decided
    for, and so the one every launch is checked against (not the profile's current one)."""
    if assistance.operator_device_id is None:
        return None
    device = db.session.get(Device, assistance.operator_device_id)
    return device if device and device.organization_id == assistance.organization_id else None


def tools_refusal(assistance: Assistance, membership: Membership) -> str | None:
    """Why Flexxible Tools cannot be launched now, or None (SPEC §4): the rule of the
    start, re-checked now for the same operator device, within what the file granted."""
    if assistance.type == "interactive" and assistance.state != "connected":
        return "Flexxible Tools are available while the operator is connected."
    device = db.session.get(Device, assistance.device_id)
    flag = effective_settings(device.reporting_group, membership.role)["flexxible_tools"].value
    why = rules.tools_refusal(
        assistance.type,
        bool(flag),
        membership.role.name,
        device,
        recorded_operator_device(assistance),
    )
    if why is None and not assistance.tools:
        why = (
            "This assistance was started without Flexxible Tools (its activation file grants "
            "none); start a new assistance to use them."
        )
    return why


def launch_tool(assistance: Assistance, operator: User, membership: Membership, tool: str) -> None:
    _own(assistance, operator)
    if tool not in TOOLS:
        raise refuse(
            "unknown_tool",
            _(
                "%(tool)s is not a Flexxible Tool; choose one of %(tools)s.",
                tool=repr(tool),
                tools=", ".join(TOOLS),
            ),
            400,
        )
    if (why := tools_refusal(assistance, membership)) is not None:
        raise AssistanceRefused(Refusal("tools_not_allowed", why, 403))
    device = db.session.get(Device, assistance.device_id)
    create_order(
        device,
        "tools.launch",
        {"assistance_id": assistance.id, "session_key": assistance.session_key, "tool": tool},
        actor=operator,
    )
    audit.record(
        "assistance.tool_launched",
        organization_id=assistance.organization_id,
        target=assistance,
        actor=operator,
        details={"tool": tool},
    )
    db.session.commit()
