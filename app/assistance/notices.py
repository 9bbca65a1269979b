"""E-mails of the approval flow: approvers are told of a new request, the requester of
its outcome. Each in the recipient's language; links use PORTAL_URL, never a request's
Host header. Best effort: the portal's badge and pages show the same at once."""

from __future__ import annotations

import logging

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.core import mail
from app.extensions import db
from app.models import Assistance, Membership, User

log = logging.getLogger(__name__)


def _link(path: str) -> str:
    return current_app.config["PORTAL_URL"].rstrip("/") + path


def _who(user: User | None) -> str:
    return (user.name or user.email) if user else "?"


def approvers_of(assistance: Assistance) -> list[User]:
    """Active members holding ra.approve whose role sees the device's group, never the
    requester."""
    group_id = assistance.device.reporting_group_id
    members = db.session.execute(
        select(Membership)
        .options(joinedload(Membership.user))
        .where(Membership.organization_id == assistance.organization_id)
    ).scalars()
    return [
        m.user
        for m in members
        if m.role.has("ra.approve")
        and m.user_id != assistance.operator_id
        and m.user.active
        and (m.role.group_limit is None or group_id in m.role.group_limit)
    ]


def _send(user: User, subject: str, body: str) -> bool:
    try:
        mail.send(user.email, subject, body)
    except mail.MailError as exc:
        log.warning("approval e-mail to user %s not sent: %s", user.id, exc)
        return False
    return True


def tell_approvers(assistance_id: int) -> int:
    assistance = db.session.get(Assistance, assistance_id)
    if assistance is None or assistance.state != "awaiting_approval":
        return 0
    sent = 0
    for user in approvers_of(assistance):
        with force_locale(user.language or "en"):
            subject = gettext(
                "Approval needed: remote assistance on %(device)s",
                device=assistance.device.hostname,
            )
            lines = [
                gettext(
                    "%(who)s asks to start remote assistance on %(device)s.",
                    who=_who(assistance.operator),
                    device=assistance.device.hostname,
                )
            ]
            if assistance.reason:
                lines.append(gettext("Reason: %(reason)s", reason=assistance.reason))
            if assistance.ticket:
                lines.append(gettext("Ticket: %(ticket)s", ticket=assistance.ticket))
            lines.append(
                gettext(
                    "Approve or deny it in the portal: %(link)s",
                    link=_link(f"/workspaces/assistances/{assistance.id}"),
                )
            )
            lines.append(
                gettext(
                    "Undecided requests expire; the first decision is final and another "
                    "approver may already have taken it."
                )
            )
            sent += _send(user, subject, "\n\n".join(lines) + "\n")
    return sent


def tell_requester(assistance_id: int) -> bool:
    assistance = db.session.get(Assistance, assistance_id)
    if assistance is None or assistance.operator is None or assistance.approval_deadline is None:
        return False
    user = assistance.operator
    host = assistance.device.hostname
    with force_locale(user.language or "en"):
        if assistance.state == "denied":
            subject = gettext("Denied: remote assistance on %(device)s", device=host)
            text = gettext(
                "%(who)s denied your request: %(note)s",
                who=_who(assistance.decided_by),
                note=assistance.decision_note,
            )
        elif assistance.state == "expired" and assistance.decided_at is None:
            subject = gettext("Expired: remote assistance on %(device)s", device=host)
            text = gettext("Nobody decided on your request in time; start a new one if needed.")
        elif assistance.state == "failed":
            subject = gettext("Could not start: remote assistance on %(device)s", device=host)
            text = gettext(
                "%(who)s approved your request, but it could not start: %(why)s",
                who=_who(assistance.decided_by),
                why=assistance.end_reason,
            )
        else:
            subject = gettext("Approved: remote assistance on %(device)s", device=host)
            text = gettext(
                "%(who)s approved your request; the assistance is starting.",
                who=_who(assistance.decided_by),
            )
        link = _link(f"/workspaces/assistances/{assistance.id}")
        return _send(user, subject, f"{text}\n\n{link}\n")
