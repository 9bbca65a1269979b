"""Signing in through an organization's identity provider: finding the organization,
starting the flow, and completing it (who gets in, and as whom)."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app import audit
from app.extensions import db
from app.models import Organization, SsoConfig, SsoDomain, SsoIdentity, User, utcnow
from app.people.sso import SsoError
from app.people.sso.provider import (
    check_url,
    discover,
    email_of,
    oauth_client,
    same_secret,
    sign_in_claims,
)
from app.people.sso.settings import config_of
from app.people.users import add_membership, create_user, find_user_by_email, membership_of

log = logging.getLogger(__name__)

FLOW_TTL_SECONDS = 600
# RFC 8176 "amr" value saying the provider used more than one factor.
MFA_AMR = "mfa"


def find_organization(identifier: str) -> Organization:
    """The organization whose single sign-on serves `identifier` (its short name, or a
    work e-mail address of one of its domains)."""
    identifier = (identifier or "").strip().lower()
    stmt = select(Organization).join(SsoConfig, SsoConfig.organization_id == Organization.id)
    stmt = stmt.where(SsoConfig.enabled.is_(True))
    if "@" in identifier:
        domain = identifier.rsplit("@", 1)[1]
        orgs = list(
            db.session.execute(
                stmt.join(SsoDomain, SsoDomain.organization_id == Organization.id).where(
                    SsoDomain.domain == domain
                )
            ).scalars()
        )
        if len(orgs) > 1:
            raise SsoError(
                "Several organizations use single sign-on for that domain: enter your "
                "organization's short name instead.",
                409,
                "ambiguous_domain",
            )
    else:
        orgs = list(db.session.execute(stmt.where(Organization.slug == identifier)).scalars())
    if not orgs:
        raise SsoError(
            "No single sign-on is set up for that organization or e-mail domain.",
            404,
            "unknown_organization",
        )
    return orgs[0]


def begin(org: Organization, next_url: str | None) -> dict[str, Any]:
    """What the browser's session keeps for this sign-in: the provider's authorization URL
    (see `authorization_url`) and what the callback must find."""
    config = config_of(org.id)
    if config is None or not config.enabled:
        raise SsoError("Single sign-on is not set up for this organization.", 404, "disabled")
    meta = discover(config.issuer)
    check_url(meta["authorization_endpoint"], "authorization endpoint")
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    url, _ = oauth_client(config).create_authorization_url(
        meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
    )
    if not url.isascii():
        # It goes out in a `Refresh` header (see authorization_url), which is ASCII.
        raise SsoError(
            "The provider's authorization endpoint is not a plain ASCII URL.", 502, "bad_answer"
        )
    return {
        "org": org.id,
        "url": url,
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "started": int(time.time()),
        "next": next_url or "",
    }


def authorization_url(pending: Any) -> str:
    """Where the browser goes next for the sign-in it started: only ever the URL that
    `begin` built from the organization's provider, never one from the request."""
    _check_pending(pending)
    url = pending.get("url")
    if not isinstance(url, str) or not url:
        raise _no_pending()
    return url


def _no_pending() -> SsoError:
    return SsoError(
        "This sign-in was not started from this browser, or it already finished. Start "
        "again from the sign-in page.",
        400,
        "no_pending_sign_in",
    )


def _check_pending(pending: Any) -> None:
    if not pending or not isinstance(pending, dict):
        raise _no_pending()
    if time.time() - pending.get("started", 0) > FLOW_TTL_SECONDS:
        raise SsoError("The sign-in took too long; start again.", 400, "expired")


@dataclass
class SsoResult:
    user: User
    organization: Organization
    provisioned: bool
    mfa_by_provider: bool


def complete(pending: dict[str, Any] | None, args: dict[str, str], ip: str) -> SsoResult:
    """Finish the sign-in from the provider's redirect. Raises SsoError. Caller commits
    (and records refusals with `record_refusal`)."""
    _check_pending(pending)
    if args.get("error"):
        # An error answer signs nobody in, so it is shown even without a state (some
        # providers leave it out of error redirects).
        raise SsoError(
            f"The identity provider did not sign you in ({str(args.get('error'))[:60]}).",
            401,
            "provider_refused",
        )
    if not same_secret(args.get("state"), pending.get("state")):
        raise SsoError(
            "The answer from the identity provider does not belong to this sign-in (state "
            "mismatch). Start again from the sign-in page.",
            400,
            "state_mismatch",
        )
    org = db.session.get(Organization, pending.get("org"))
    config = config_of(org.id) if org else None
    if org is None or config is None or not config.enabled:
        raise SsoError("Single sign-on is not set up for this organization.", 404, "disabled")
    if "iss" in args and args["iss"] != config.issuer:
        # RFC 9207: the answer names the provider that sent it (mix-up defence).
        raise SsoError(
            "The answer comes from another identity provider than this sign-in's. Start again.",
            401,
            "response_issuer_mismatch",
        )
    code = args.get("code")
    if not code:
        raise SsoError("The identity provider sent no authorization code.", 400, "no_code")
    meta = discover(config.issuer)
    claims = sign_in_claims(config, meta, code, pending)
    email = email_of(claims)
    if not email:
        raise SsoError(
            "The identity provider did not tell us your e-mail address (neither in the ID "
            "token nor through UserInfo). Its administrator must release the `email` claim "
            "to this portal.",
            403,
            "no_email",
        )
    try:
        # Some providers send the boolean as text.
        if claims.get("email_verified") in (False, "false"):
            raise SsoError(
                "The identity provider says your e-mail address is not verified.",
                403,
                "email_unverified",
            )
        return _admit(config, org, email, claims, ip)
    except SsoError as exc:
        exc.email = email
        raise


def _admit(
    config: SsoConfig, org: Organization, email: str, claims: dict[str, Any], ip: str
) -> SsoResult:
    domain = email.rsplit("@", 1)[1]
    if domain not in config.domain_names:
        raise SsoError(
            f"E-mail addresses of {domain} may not sign in to {org.name} with single sign-on.",
            403,
            "domain_not_allowed",
        )
    user, provisioned = _resolve_user(config, org, str(claims["sub"]), email, claims)
    amr = claims.get("amr")
    mfa_by_provider = isinstance(amr, list) and MFA_AMR in amr
    now = utcnow()
    user.last_login_at = now
    audit.record(
        "auth.sso_login",
        organization_id=org.id,
        actor=user,
        ip=ip,
        details={
            "email": email,
            "provisioned": provisioned,
            "mfa_by_provider": mfa_by_provider,
        },
    )
    return SsoResult(user, org, provisioned, mfa_by_provider)


def _resolve_user(
    config: SsoConfig, org: Organization, subject: str, email: str, claims: dict[str, Any]
) -> tuple[User, bool]:
    identity = db.session.execute(
        select(SsoIdentity).where(
            SsoIdentity.organization_id == org.id, SsoIdentity.subject == subject
        )
    ).scalar_one_or_none()
    provisioned = False
    if identity is not None:
        user = db.session.get(User, identity.user_id)
    else:
        user = find_user_by_email(email)
        if user is None:
            if config.jit_role is None:
                raise SsoError(
                    f"There is no account for {email} in {org.name}. Ask an administrator of "
                    f"{org.name} for an invitation.",
                    403,
                    "no_account",
                )
            name = str(claims.get("name") or "")[:120]
            user = create_user(email, None, name=name)
            audit.record(
                "user.created",
                organization_id=org.id,
                target=user,
                actor=user,
                details={"email": email, "via": "sso"},
            )
            add_membership(user, org, config.jit_role, actor=user, via="sso")
            provisioned = True
        else:
            if membership_of(user, org.id) is None:
                raise SsoError(
                    f"{email} has an account that is not a member of {org.name}. Ask an "
                    f"administrator of {org.name} for an invitation, and accept it.",
                    403,
                    "not_a_member",
                )
            linked = db.session.execute(
                select(SsoIdentity).where(
                    SsoIdentity.organization_id == org.id, SsoIdentity.user_id == user.id
                )
            ).scalar_one_or_none()
            if linked is not None:
                raise SsoError(
                    f"{email} is linked to another identity at {org.name}'s provider. Ask "
                    f"an administrator of {org.name}.",
                    403,
                    "subject_mismatch",
                )
        identity = SsoIdentity(organization_id=org.id, user_id=user.id, subject=subject[:255])
        db.session.add(identity)
    _check_account(user, org)
    identity.last_login_at = utcnow()
    db.session.flush()
    return user, provisioned


def _check_account(user: User, org: Organization) -> None:
    if user.is_platform_admin:
        raise SsoError(
            "Platform admin accounts sign in with their password, never through an "
            "organization's provider.",
            403,
            "platform_admin",
        )
    if not user.active:
        raise SsoError("This account is disabled.", 403, "inactive")
    if membership_of(user, org.id) is None:
        raise SsoError(f"You are no longer a member of {org.name}.", 403, "not_a_member")


def record_refusal(exc: SsoError, org_id: int | None, ip: str) -> None:
    """Audit a refused or failed single sign-on (no secrets: the reason code only)."""
    details = {"reason": exc.reason}
    if exc.email:
        details["email"] = exc.email
    audit.record(
        "auth.sso_refused",
        organization_id=org_id,
        actor_label=exc.email,
        ip=ip,
        details=details,
    )
