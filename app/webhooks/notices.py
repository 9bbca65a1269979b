"""Telling people about their endpoints: the e-mail sent when one is disabled after failing.

The owner is the member who created the endpoint, while they still may manage webhooks in
its organization; otherwise every active member who may.
"""

from __future__ import annotations

import logging

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import select

from app.core import mail
from app.extensions import db
from app.models import Membership, Organization, Role, RolePermission, User, WebhookEndpoint
from app.webhooks.signing import redact

log = logging.getLogger(__name__)
PERMISSION = "webhooks.manage"


def managers(organization_id: int) -> list[User]:
    """Active members of the organization whose role may manage webhooks."""
    return list(
        db.session.execute(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .join(Role, Role.id == Membership.role_id)
            .join(RolePermission, RolePermission.role_id == Role.id)
            .where(
                Membership.organization_id == organization_id,
                RolePermission.permission == PERMISSION,
                User.active.is_(True),
            )
            .order_by(User.id)
        ).scalars()
    )


def owners(endpoint: WebhookEndpoint) -> list[User]:
    """Who is told about `endpoint`: its creator if they still may manage webhooks there,
    else everyone who may."""
    allowed = managers(endpoint.organization_id)
    creator = next((u for u in allowed if u.id == endpoint.created_by_id), None)
    return [creator] if creator is not None else allowed


def tell_owners(endpoint_id: int) -> int:
    """E-mail the owners that the endpoint was disabled (after the change is committed).
    A mail server that refuses is logged, never raised: the endpoint stays disabled and the
    portal shows why. Returns how many messages went out."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        return 0
    org = db.session.get(Organization, endpoint.organization_id)
    link = f"{current_app.config['PORTAL_URL']}/settings/webhooks/{endpoint.id}"
    sent = 0
    for user in owners(endpoint):
        with force_locale(user.language or "en"):
            subject = gettext("Webhook disabled: %(url)s", url=redact(endpoint.url))
            body = gettext(
                "The webhook endpoint %(url)s of %(org)s kept failing and was disabled: "
                "events are no longer sent to it.\n\n"
                "Why: %(reason)s\n\n"
                "Fix the receiver, then enable the endpoint again (Settings, Webhooks):\n"
                "%(link)s\n\n"
                "Deliveries queued before it was disabled are kept and sent, in order, once "
                "it is enabled. Events of the meantime are in the audit log.",
                url=redact(endpoint.url),
                org=org.name if org else "",
                reason=endpoint.disabled_reason,
                link=link,
            )
        try:
            mail.send(user.email, subject, body)
            sent += 1
        except mail.MailError:
            log.warning("webhook endpoint %s: could not e-mail an owner", endpoint_id)
    db.session.rollback()
    return sent
