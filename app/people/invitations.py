"""Invitations: how people join an organization, new accounts and existing ones alike.

An organization admin (`users.manage`) invites an e-mail address with a role of the
organization; the role obeys the no-escalation rules (`roles.check_grant`), both when the
invitation is sent and again when it is accepted (the inviter may have lost the right).

The link carries a random 256-bit token; only its SHA-256 is stored (like API tokens).
A signed (itsdangerous) token would still need a row to be single-use and revocable, so
it would add a key to rotate and nothing else; and a database dump yields no usable link.
Accepting is one atomic UPDATE guarded by "not accepted, not revoked, not expired", so a
link works once even under concurrent clicks.

The admin sees the same flow whether the address already has an account or not. The
invitee either creates the account (choosing a password) or, if it exists, signs in as
that account and accepts: nobody is put in an organization without their consent.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import force_locale, gettext, ngettext
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import audit
from app.core import mail
from app.extensions import db
from app.models import Invitation, Membership, Organization, Role, SsoConfig, User, utcnow
from app.people.role_rules import RoleChangeRefused, check_grant
from app.people.users import (
    UserError,
    add_membership,
    create_user,
    find_user_by_email,
    membership_of,
    normalize_email,
)

LINK_PATH = "/invitations/"


class InvitationError(ValueError):
    """Refused; the message says why and `status` fits."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class InvitationGone(InvitationError):
    """The link can no longer be used (accepted, withdrawn, expired, inviter lost rights)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 410)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def link_for(raw: str) -> str:
    # The configured public URL, never the request's Host header (which a client chooses).
    return current_app.config["PORTAL_URL"] + LINK_PATH + raw


def _new_token() -> tuple[str, str]:
    raw = secrets.token_urlsafe(32)
    return raw, hash_token(raw)


def _expiry():
    return utcnow() + timedelta(seconds=current_app.config["INVITATION_TTL_SECONDS"])


def _check_inviter(actor: User, org_id: int, role: Role) -> None:
    if not actor.active:
        raise InvitationError("Your account is disabled.", 403)
    if not actor.is_platform_admin:
        membership = next((m for m in actor.memberships if m.organization_id == org_id), None)
        if membership is None or not membership.role.has("users.manage"):
            raise InvitationError("You cannot invite people to this organization.", 403)
    try:
        check_grant(actor, org_id, role)
    except RoleChangeRefused as exc:
        raise InvitationError(str(exc), 403) from None


def grantable_roles(actor: User, org_id: int) -> list[Role]:
    """The organization's roles `actor` may give through an invitation."""
    roles = db.session.execute(
        select(Role).where(Role.organization_id == org_id).order_by(Role.id)
    ).scalars()
    allowed = []
    for role in roles:
        try:
            check_grant(actor, org_id, role)
        except RoleChangeRefused:
            continue
        allowed.append(role)
    return allowed


def create_invitation(
    actor: User, org: Organization, email: str, role: Role
) -> tuple[Invitation, str]:
    """Invite `email` to `org` as `role`; returns the invitation and the raw token (for
    the e-mail only). An open invitation of the same address is replaced. Caller commits."""
    try:
        email = normalize_email(validate_email(email or "", check_deliverability=False).normalized)
    except EmailNotValidError:
        raise InvitationError("Enter a valid e-mail address.") from None
    if role.organization_id != org.id:
        raise InvitationError("That role belongs to another organization.", 404)
    _check_inviter(actor, org.id, role)
    existing = find_user_by_email(email)
    if existing is not None and membership_of(existing, org.id) is not None:
        raise InvitationError(f"{email} is already a member of {org.name}.", 409)
    now = utcnow()
    replaced = db.session.execute(
        update(Invitation)
        .where(
            Invitation.organization_id == org.id,
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    raw, digest = _new_token()
    invitation = Invitation(
        organization_id=org.id,
        email=email,
        role_id=role.id,
        token_hash=digest,
        invited_by_id=actor.id,
        created_at=now,
        sent_at=now,
        expires_at=_expiry(),
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(
        "invitation.sent",
        organization_id=org.id,
        target=invitation,
        actor=actor,
        details={
            "email": email,
            "role": role.name,
            "expires_at": invitation.expires_at.isoformat(),
            "replaced_open_invitation": bool(replaced),
        },
    )
    return invitation, raw


def resend(actor: User, invitation: Invitation) -> str:
    """A new link (new token, new expiry) for a pending or expired invitation; the old
    link stops working. Caller commits."""
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise InvitationError("Only pending or expired invitations can be sent again.", 409)
    _check_inviter(actor, invitation.organization_id, invitation.role)
    raw, digest = _new_token()
    invitation.token_hash = digest
    invitation.sent_at = utcnow()
    invitation.expires_at = _expiry()
    invitation.invited_by_id = actor.id
    audit.record(
        "invitation.resent",
        organization_id=invitation.organization_id,
        target=invitation,
        actor=actor,
        details={"email": invitation.email, "expires_at": invitation.expires_at.isoformat()},
    )
    return raw


def revoke(actor: User, invitation: Invitation) -> None:
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation was already accepted.", 409)
    if invitation.revoked_at is not None:
        return
    invitation.revoked_at = utcnow()
    audit.record(
        "invitation.revoked",
        organization_id=invitation.organization_id,
        target=invitation,
        actor=actor,
        details={"email": invitation.email, "role": invitation.role.name},
    )


def send_mail(invitation: Invitation, raw: str) -> None:
    """E-mail the link (raises mail.MailError). Call after the invitation is committed."""
    org, role = invitation.organization, invitation.role
    inviter = invitation.invited_by
    days = max(1, round(current_app.config["INVITATION_TTL_SECONDS"] / 86400))
    # The recipient's language when they already chose one, else the inviter's.
    invitee = db.session.execute(
        select(User).where(User.email == invitation.email)
    ).scalar_one_or_none()
    language = (invitee.language if invitee else None) or (inviter.language if inviter else None)
    with force_locale(language or "en"):
        who = (inviter.name or inviter.email) if inviter else gettext("An administrator")
        body = (
            gettext(
                "%(who)s invites you to join %(org)s on the FlexxAgent Portal as %(role)s.",
                who=who,
                org=org.name,
                role=role.name,
            )
            + "\n\n"
            + ngettext(
                "Accept the invitation here (the link works once, for %(num)s day):",
                "Accept the invitation here (the link works once, for %(num)s days):",
                days,
            )
            + f"\n\n    {link_for(raw)}\n\n"
            + gettext(
                "If you already have an account with this e-mail address, you will be asked "
                "to sign in to it; otherwise you will choose a password."
            )
            + "\n\n"
            + gettext("If you did not expect this invitation, ignore this message.")
            + "\n"
        )
        subject = gettext("Invitation to join %(org)s", org=org.name)
    mail.send(invitation.email, subject, body)


# --- the invitee's side ---------------------------------------------------------------


def find(raw: str) -> Invitation | None:
    if not raw or len(raw) > 100:
        return None
    return db.session.execute(
        select(Invitation).where(Invitation.token_hash == hash_token(raw))
    ).scalar_one_or_none()


def check_usable(invitation: Invitation) -> None:
    """Raise InvitationGone unless the invitation can be accepted now."""
    org = invitation.organization.name
    status = invitation.status(utcnow())
    if status == "accepted":
        raise InvitationGone("This invitation was already accepted. Sign in instead.")
    if status == "revoked":
        raise InvitationGone(
            f"This invitation was withdrawn or replaced by a newer one. Ask {org} for a new one."
        )
    if status == "expired":
        raise InvitationGone(f"This invitation has expired. Ask {org} to send a new one.")
    inviter = invitation.invited_by
    try:
        if inviter is None:
            raise InvitationError("inviter gone")
        _check_inviter(inviter, invitation.organization_id, invitation.role)
    except InvitationError:
        raise InvitationGone(
            "This invitation is no longer valid: the person who sent it can no longer give "
            f"that role. Ask {org} for a new invitation."
        ) from None


def sso_only(invitation: Invitation) -> bool:
    """Does the organization let its members in through single sign-on only?"""
    config = db.session.get(SsoConfig, invitation.organization_id)
    return config is not None and config.enabled and not config.allow_passwords


def _claim(invitation: Invitation, user: User) -> None:
    now = utcnow()
    claimed = db.session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now, accepted_by_id=user.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise InvitationGone("This invitation was just used or withdrawn.")
    db.session.expire(invitation, ["accepted_at", "accepted_by_id"])


def _join(invitation: Invitation, user: User, new_account: bool) -> Membership:
    _claim(invitation, user)
    membership = add_membership(
        user, invitation.organization, invitation.role, actor=user, via="invitation"
    )
    audit.record(
        "invitation.accepted",
        organization_id=invitation.organization_id,
        target=invitation,
        actor=user,
        details={
            "email": invitation.email,
            "role": invitation.role.name,
            "new_account": new_account,
        },
    )
    return membership


def accept_with_new_account(invitation: Invitation, name: str, password: str | None) -> User:
    """Create the invitee's account and membership. `password` may be None only when the
    organization signs in with SSO only. Caller commits (and signs the user in)."""
    check_usable(invitation)
    if find_user_by_email(invitation.email) is not None:
        raise InvitationError(
            f"An account for {invitation.email} exists: sign in to it to accept.", 409
        )
    if password is None and not sso_only(invitation):
        raise InvitationError("Choose a password.")
    try:
        with db.session.begin_nested():
            user = create_user(invitation.email, password, name=(name or "").strip()[:120])
    except UserError as exc:
        raise InvitationError(str(exc)) from None
    except IntegrityError:
        raise InvitationError(
            f"An account for {invitation.email} was just created: sign in to it to accept.", 409
        ) from None
    audit.record(
        "user.created",
        organization_id=invitation.organization_id,
        target=user,
        actor=user,
        details={"email": user.email, "via": "invitation"},
    )
    _join(invitation, user, new_account=True)
    return user


def accept_as(invitation: Invitation, user: User) -> Membership:
    """The signed-in `user` accepts (their e-mail must be the invited one). Caller commits."""
    check_usable(invitation)
    if normalize_email(user.email) != invitation.email:
        raise InvitationError(
            f"This invitation is for {invitation.email}, but you are signed in as "
            f"{user.email}. Sign out, then open the link again.",
            403,
        )
    if membership_of(user, invitation.organization_id) is not None:
        raise InvitationError(f"You are already a member of {invitation.organization.name}.", 409)
    return _join(invitation, user, new_account=False)


def invitations_of(org_id: int) -> list[Invitation]:
    return list(
        db.session.execute(
            select(Invitation)
            .where(Invitation.organization_id == org_id)
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
            .limit(500)
        ).scalars()
    )
