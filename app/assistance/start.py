"""Starting a remote assistance (SPEC §4): what may start on a device, and the start itself
(interactive, unattended, dynamic), refused with the reasons of `rules`. A role whose
`remote_assistance.approval_required` is on gets a request instead (`app.assistance.
approvals`); a group whose `remote_assistance.reason_required` is on wants a reason."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from app import audit
from app.assistance import rules
from app.assistance.launch import (
    TOOLS,
    generate_sid,
    launch,
    operator_device_of,
    plan,
    reason_details,
    shape,
    started_details,
)
from app.assistance.rules import AssistanceRefused, Refusal, refuse
from app.core.jobs import QUEUE_DEFAULT, enqueue_after_commit
from app.extensions import db
from app.models import Assistance, Device, DeviceSession, Membership, User, utcnow

__all__ = ["TOOLS", "availability", "load_device", "operator_device_of", "start_assistance"]

log = logging.getLogger(__name__)

REASON_MAX, TICKET_MAX = 500, 100


def availability(
    device: Device, membership: Membership, session_key: str | None = None
) -> dict[str, Refusal | None]:
    """Per type, why it cannot start now (None: it can), for the user session `session_key`
    when one is chosen. Same function as the refusal."""
    return {
        t: plan(device, membership, t, session_key, None).refusal
        for t in ("interactive", "unattended", "dynamic")
    }


def governance(device: Device, membership: Membership) -> dict[str, bool]:
    """What a start by `membership` on `device` will ask for: approval, a reason."""
    from app.agent_settings.resolution import effective_settings

    settings = effective_settings(device.reporting_group, membership.role)
    return {
        "approval_required": bool(settings["remote_assistance.approval_required"].value),
        "reason_required": bool(settings["remote_assistance.reason_required"].value),
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


def clean_text(value: str | None, limit: int, what: str) -> str:
    """A reason or ticket as stored: stripped, control characters refused, within `limit`."""
    value = (value or "").strip()
    if len(value) > limit:
        raise refuse(
            "invalid_request",
            _("The %(what)s is too long (at most %(limit)s characters).", what=what, limit=limit),
            400,
        )
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise refuse(
            "invalid_request", _("The %(what)s contains control characters.", what=what), 400
        )
    return value


def start_assistance(
    operator: User,
    membership: Membership,
    *,
    requested_type: str,
    device_id: int | None = None,
    session_id: int | None = None,
    operator_device_id: int | None = None,
    reason: str | None = None,
    ticket: str | None = None,
) -> Assistance:
    """Start an assistance (or request one, when the role needs approval), or raise
    AssistanceRefused (recorded in the audit log)."""
    org_id = membership.organization_id
    reason = clean_text(reason, REASON_MAX, _("reason"))
    ticket = clean_text(ticket, TICKET_MAX, _("ticket"))
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
    operator_device = _operator_device(operator, membership, operator_device_id)
    planned = plan(device, membership, requested_type, session_key, operator_device)
    refusal = planned.refusal or rules.reason_refusal(
        bool(planned.setting("remote_assistance.reason_required")), reason
    )
    if refusal is not None:
        _record_refusal(operator, device, requested_type, refusal)
        raise AssistanceRefused(refusal)

    needs_approval = bool(planned.setting("remote_assistance.approval_required"))
    assistance = Assistance(
        organization_id=org_id,
        device_id=device.id,
        operator_id=operator.id,
        operator_device_id=operator_device.id if operator_device else None,
        requested_type=requested_type,
        state="awaiting_approval" if needs_approval else "requested",
        file_kind="flxra" if operator_device else "exe",
        sid=generate_sid(),
        reason=reason,
        ticket=ticket,
    )
    shape(assistance, planned)
    if needs_approval:
        # Nothing reaches the agent and no password exists until someone approves.
        assistance.approval_deadline = utcnow() + timedelta(
            seconds=current_app.config["RA_APPROVAL_TTL_SECONDS"]
        )
    db.session.add(assistance)
    try:
        db.session.flush()
    except IntegrityError:
        # Another start won the race for this device: the unique live index said no.
        db.session.rollback()
        device = load_device(device_id, membership)
        refusal = plan(device, membership, requested_type, session_key, None).refusal or (
            Refusal(
                "device_busy",
                _("%(device)s already has a live remote assistance.", device=device.hostname),
            )
        )
        _record_refusal(operator, device, requested_type, refusal)
        raise AssistanceRefused(refusal) from None

    if needs_approval:
        audit.record(
            "assistance.approval_requested",
            organization_id=org_id,
            target=assistance,
            actor=operator,
            details={
                "device": device.hostname,
                "device_id": device.id,
                "requested_type": requested_type,
                "expires_at": assistance.approval_deadline.isoformat(),
                **reason_details(assistance),
            },
        )
        notify("notify_approvers", assistance.id)
    else:
        launch(assistance, device, operator, planned)
        audit.record(
            "assistance.started",
            organization_id=org_id,
            target=assistance,
            actor=operator,
            details=started_details(assistance, device),
        )
    db.session.commit()
    return assistance


def notify(task: str, assistance_id: int) -> None:
    """Queue, once this transaction commits, an e-mail about `assistance_id` (Redis down:
    the portal's badge and pages still show it)."""
    enqueue_after_commit(QUEUE_DEFAULT, f"app.tasks.assistance.{task}", assistance_id)


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
