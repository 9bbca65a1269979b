"""Four-eyes approval (SPEC §5 "Access governance"): a start by a role whose
`remote_assistance.approval_required` is on waits in `awaiting_approval`; a member holding
`ra.approve` who sees the device's group (never the requester) approves or denies; the
first decision is final; undecided requests expire after RA_APPROVAL_TTL_SECONDS.

The database decides a race: the decision locks the row (PostgreSQL) and the version
check refuses the second writer (everywhere), so two approvers at once get one decision
and one `already_decided`. An approval re-plans the start for the requester's role as it
is now, so every SPEC §4 refusal that arose meanwhile (device offline, type disabled,
group busy, role changed) fails the request with that refusal instead of launching it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from app import audit
from app.assistance.launch import Plan, launch, plan, reason_details, shape, started_details
from app.assistance.lifecycle import end_state
from app.assistance.rules import AssistanceRefused, Refusal, refuse
from app.assistance.start import load_device, notify, operator_device_of
from app.extensions import db
from app.models import Assistance, Device, Membership, User, utcnow

STATE = "awaiting_approval"


def _visible(membership: Membership):
    """Conditions for the requests `membership` may decide: its organization, the groups
    its role sees, never its own."""
    conditions = [
        Assistance.organization_id == membership.organization_id,
        Assistance.state == STATE,
        Assistance.operator_id != membership.user_id,
    ]
    limit = membership.role.group_limit
    if limit is not None:
        conditions.append(Device.reporting_group_id.in_(sorted(limit)))
    return and_(*conditions)


def pending(membership: Membership, limit: int = 200) -> list[Assistance]:
    """Requests waiting for `membership`'s decision, oldest first (none without ra.approve)."""
    if not membership.role.has("ra.approve"):
        return []
    return list(
        db.session.execute(
            select(Assistance)
            .join(Device, Device.id == Assistance.device_id)
            .options(
                joinedload(Assistance.device).joinedload(Device.reporting_group),
                joinedload(Assistance.operator),
            )
            .where(_visible(membership))
            .order_by(Assistance.created_at, Assistance.id)
            .limit(limit)
        ).scalars()
    )


def pending_count(membership: Membership | None) -> int:
    if membership is None or not membership.role.has("ra.approve"):
        return 0
    return db.session.execute(
        select(func.count(Assistance.id))
        .join(Device, Device.id == Assistance.device_id)
        .where(_visible(membership))
    ).scalar_one()


def may_decide(assistance: Assistance, membership: Membership) -> bool:
    return (
        assistance.state == STATE
        and membership.role.has("ra.approve")
        and assistance.operator_id != membership.user_id
    )


def _claim(assistance_id: int, approver: User) -> Assistance:
    """The request, locked, still waiting, and not the approver's own."""
    row = db.session.execute(
        select(Assistance)
        .where(Assistance.id == assistance_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if row.operator_id == approver.id:
        raise refuse(
            "own_request",
            _("You cannot decide on your own request: another approver must."),
            403,
        )
    if row.state != STATE:
        raise _already_decided(row)
    return row


def _already_decided(row: Assistance) -> AssistanceRefused:
    return refuse(
        "already_decided",
        _("This request was already decided or has expired; nothing was changed."),
        409,
    )


def _decide(row: Assistance, approver: User, note: str) -> None:
    row.decided_by_id = approver.id
    row.decided_at = utcnow()
    row.decision_note = note


def approve(
    assistance: Assistance, approver: User, membership: Membership, note: str = ""
) -> Assistance:
    """Approve and start. Raises AssistanceRefused: `already_decided` (409, someone else
    decided first), `own_request` (403), or the SPEC §4 refusal that now stops the start
    (the request is then `failed` with that reason, and stays decided)."""
    if not membership.role.has("ra.approve"):
        raise refuse("forbidden", _("Your role may not approve remote assistance requests."), 403)
    with _deciding(assistance, approver, note) as row:
        refusal, planned = _replan(row)
        audit.record(
            "assistance.approved",
            organization_id=row.organization_id,
            target=row,
            actor=approver,
            details=_decision_details(row, note),
        )
        if refusal is not None:
            end_state(row, "failed", refusal.message)
            audit.record(
                "assistance.refused",
                organization_id=row.organization_id,
                target=row,
                actor=approver,
                details={"code": refusal.code, "type": row.requested_type, "after_approval": True},
            )
            notify("notify_requester", row.id)
            db.session.commit()
            raise AssistanceRefused(refusal)
        device = db.session.get(Device, row.device_id)
        launch(row, device, row.operator, planned)
        audit.record(
            "assistance.started",
            organization_id=row.organization_id,
            target=row,
            actor=row.operator,
            details={**started_details(row, device), "approved_by": approver.email},
        )
        notify("notify_requester", row.id)
        db.session.commit()
    return row


@contextmanager
def _deciding(assistance: Assistance, approver: User, text: str) -> Iterator[Assistance]:
    """The request claimed and marked decided by `approver`; the first decision wins."""
    try:
        row = _claim(assistance.id, approver)
        _decide(row, approver, text)
        yield row
    except StaleDataError:
        # Without row locks (SQLite) the version check is what refuses the second decision.
        db.session.rollback()
        raise _already_decided(assistance) from None


def _replan(row: Assistance) -> tuple[Refusal | None, Plan | None]:
    """The start, planned again for the requester as they are now: the refusal that stops
    it, or the plan (already given to `row`)."""
    requester = row.operator
    membership = (
        db.session.execute(
            select(Membership).where(
                Membership.user_id == row.operator_id,
                Membership.organization_id == row.organization_id,
            )
        ).scalar_one_or_none()
        if requester is not None and requester.active
        else None
    )
    if membership is None:
        return Refusal(
            "ra_not_permitted",
            _("The requester is no longer a member of this organization."),
            403,
        ), None
    try:
        device = load_device(row.device_id, membership)
    except AssistanceRefused:
        return Refusal(
            "not_found", _("The requester's role no longer covers this device's group."), 404
        ), None
    operator_device = None
    if row.operator_device_id is not None:
        operator_device = db.session.get(Device, row.operator_device_id)
    elif requester is not None:
        operator_device = operator_device_of(requester.id, row.organization_id)
    planned = plan(
        device, membership, row.requested_type, row.session_key, operator_device, holder=row
    )
    if planned.refusal is not None:
        return planned.refusal, None
    shape(row, planned)
    return None, planned


def deny(assistance: Assistance, approver: User, membership: Membership, reason: str) -> Assistance:
    if not membership.role.has("ra.approve"):
        raise refuse("forbidden", _("Your role may not deny remote assistance requests."), 403)
    with _deciding(assistance, approver, reason) as row:
        end_state(row, "denied", reason)
        audit.record(
            "assistance.denied",
            organization_id=row.organization_id,
            target=row,
            actor=approver,
            details=_decision_details(row, reason),
        )
        notify("notify_requester", row.id)
        db.session.commit()
    return row


def _decision_details(row: Assistance, note: str) -> dict:
    requester = row.operator
    return {
        "device": row.device.hostname if row.device else None,
        "requester": (requester.name or requester.email) if requester else None,
        "note": note or None,
        **reason_details(row),
    }


def expire_due(now, limit: int = 200) -> int:
    """Requests nobody decided in time become `expired` (once, whatever the workers)."""
    rows = list(
        db.session.execute(
            select(Assistance)
            .where(Assistance.state == STATE, Assistance.approval_deadline <= now)
            .order_by(Assistance.approval_deadline)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    for row in rows:
        end_state(row, "expired", "no approver decided in time")
        audit.record(
            "assistance.approval_expired",
            organization_id=row.organization_id,
            target=row,
            actor_label="system",
            details={"device_id": row.device_id, **reason_details(row)},
        )
        notify("notify_requester", row.id)
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()  # another sweeper expired them first
        return 0
    return len(rows)
