"""Single sign-on with OpenID Connect, one identity provider per organization.

The flow is the authorization code flow with PKCE (S256), `state` and `nonce`, through
Authlib's OAuth 2 client; the ID token is verified with joserfc against the provider's
published keys (signature, `iss`, `aud`, `exp`, `iat`, `nonce`, `azp`).

Who gets in, and as whom:
- a provider subject (`sub`) already linked to a member of the organization signs in as
  that member (an e-mail address reassigned at the provider cannot take an account);
- otherwise the e-mail (of an allowed domain, not marked unverified) must be a member of
  the organization, and is linked; an account that is *not* a member is refused (joining
  an organization takes an invitation, accepted by the account holder);
- nobody with that e-mail: a new account is provisioned just in time with the configured
  role, or refused if the organization provisions nobody;
- platform admins never sign in through an organization's provider.
The session opened is bound to that organization (see app.services.access).

The client secret is sealed at rest, never shown back, logged or audited. Addresses the
portal fetches (discovery, keys, token endpoint) must be https and, in production, not
loopback or private (an admin-entered URL must not reach into our network).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, select

from app import audit
from app.core.sealing import SealBroken, open_sealed, seal
from app.extensions import db
from app.models import Organization, Role, SsoConfig, SsoDomain, SsoIdentity, User, utcnow
from app.services.auth import end_org_sessions
from app.services.roles import RoleChangeRefused, check_grant
from app.services.users import add_membership, create_user, find_user_by_email, membership_of

log = logging.getLogger(__name__)

SEAL_PURPOSE = "sso-client-secret"
CALLBACK_PATH = "/sso/callback"
SCOPE = "openid email profile"
FLOW_TTL_SECONDS = 600
MAX_RESPONSE_BYTES = 512 * 1024
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
# RFC 8176 "amr" value saying the provider used more than one factor.
MFA_AMR = "mfa"
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class SsoError(Exception):
    """A refused or failed sign-in or setting; `message` is safe to show, `reason` goes
    to the audit log."""

    def __init__(self, message: str, status: int = 400, reason: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason
        self.email = ""  # who was refused, once the provider told us


# --- addresses ------------------------------------------------------------------------


def _check_url(url: str, what: str) -> str:
    """`url` if the portal may fetch it: https (http only to this machine where private
    addresses are allowed), no credentials, and not into a private network in production."""
    allow_private = current_app.config["SSO_ALLOW_PRIVATE_NETWORKS"]
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise SsoError(f"The {what} is not a valid URL.", 400, "bad_url") from None
    if not host or parts.username or parts.password:
        raise SsoError(f"The {what} must be a plain https:// URL.", 400, "bad_url")
    try:
        addresses = {
            ipaddress.ip_address(info[4][0].split("%")[0])
            for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        }
    except (socket.gaierror, UnicodeError, ValueError):
        raise SsoError(
            f"The {what} names a host that cannot be found: {host}.", 502, "dns"
        ) from None
    internal = any(
        a.is_private
        or a.is_loopback
        or a.is_link_local
        or a.is_reserved
        or a.is_multicast
        or a.is_unspecified
        for a in addresses
    )
    if internal and not allow_private:
        raise SsoError(
            f"The {what} points into a private network ({host}); use the provider's public "
            "https address.",
            400,
            "private_address",
        )
    loopback_only = all(a.is_loopback for a in addresses)
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_private and loopback_only):
        raise SsoError(f"The {what} must use https://.", 400, "insecure_url")
    return url


def _get_json(url: str, what: str) -> dict[str, Any]:
    _check_url(url, what)
    try:
        with requests.get(
            url,
            timeout=current_app.config["SSO_HTTP_TIMEOUT_SECONDS"],
            allow_redirects=False,
            stream=True,
            headers={"Accept": "application/json"},
        ) as response:
            body = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
            status = response.status_code
    except requests.RequestException as exc:
        log.warning("identity provider unreachable (%s): %s", what, type(exc).__name__)
        raise SsoError(
            "The identity provider could not be reached; try again later.", 502, "unreachable"
        ) from None
    if status != 200 or len(body) > MAX_RESPONSE_BYTES:
        raise SsoError(
            f"The identity provider's {what} answered with status {status}.", 502, "bad_answer"
        )
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SsoError(f"The identity provider's {what} is not JSON.", 502, "bad_answer")
    return data


def discover(issuer: str) -> dict[str, Any]:
    """The provider's metadata; its `issuer` must be exactly the configured one."""
    meta = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery URL")
    if meta.get("issuer") != issuer:
        raise SsoError(
            f"The provider calls itself {str(meta.get('issuer'))[:200]!r}; the issuer must be "
            "exactly that.",
            502,
            "issuer_mismatch",
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(meta.get(key), str):
            raise SsoError(f"The provider's metadata lacks {key}.", 502, "bad_answer")
    return meta


def callback_url() -> str:
    return current_app.config["PORTAL_URL"] + CALLBACK_PATH


# --- settings -------------------------------------------------------------------------


def config_of(org_id: int) -> SsoConfig | None:
    return db.session.get(SsoConfig, org_id)


def client_secret(config: SsoConfig) -> str:
    if not config.client_secret_sealed:
        raise SsoError("Single sign-on has no client secret yet.", 409, "no_secret")
    try:
        return open_sealed(SEAL_PURPOSE, config.client_secret_sealed)["secret"]
    except SealBroken:
        raise SsoError(
            "The stored client secret cannot be read (the server's key changed); an "
            "administrator must enter it again.",
            409,
            "secret_unreadable",
        ) from None


def parse_domains(text: str) -> list[str]:
    domains = sorted(
        {d.strip().lower().lstrip("@") for d in re.split(r"[\s,;]+", text or "") if d.strip()}
    )
    bad = [d for d in domains if not _DOMAIN_RE.match(d)]
    if bad:
        raise SsoError(f"Not an e-mail domain: {', '.join(bad)}.", 400, "bad_domain")
    return domains


@dataclass
class SsoSettings:
    enabled: bool
    issuer: str
    client_id: str
    client_secret: str | None  # None or "": keep the stored one
    domains: str
    jit_role_id: int | None
    allow_passwords: bool


def save_settings(
    actor: User, org: Organization, form: SsoSettings, *, actor_uses_sso_here: bool
) -> bool:
    """Store the organization's single sign-on settings; returns whether anything changed.
    Changing the provider or turning SSO off ends the sessions it opened. Caller commits."""
    config = config_of(org.id)
    before = _snapshot(config)
    issuer = (form.issuer or "").strip()
    client_id = (form.client_id or "").strip()
    if len(issuer) > 500 or len(client_id) > 255 or len(form.client_secret or "") > 1000:
        raise SsoError("A value is too long.")
    domains = parse_domains(form.domains)
    role = None
    if form.jit_role_id is not None:
        role = db.session.execute(
            select(Role).where(Role.id == form.jit_role_id, Role.organization_id == org.id)
        ).scalar_one_or_none()
        if role is None:
            raise SsoError("That role does not exist here.", 404, "bad_role")
        try:
            check_grant(actor, org.id, role)
        except RoleChangeRefused as exc:
            raise SsoError(str(exc), 403, "escalation") from None
    has_secret = bool(form.client_secret) or bool(config and config.client_secret_sealed)
    if form.enabled:
        missing = [
            label
            for label, ok in (
                ("issuer URL", issuer),
                ("client ID", client_id),
                ("client secret", has_secret),
                ("at least one e-mail domain", domains),
            )
            if not ok
        ]
        if missing:
            raise SsoError("To turn single sign-on on, enter: " + ", ".join(missing) + ".")
        _check_url(issuer, "issuer URL")
        discover(issuer)
    if not form.allow_passwords:
        if not form.enabled:
            raise SsoError("Passwords can only be turned off while single sign-on is on.", 409)
        if (
            not actor.is_platform_admin
            and not actor_uses_sso_here
            and (before is None or before["allow_passwords"])
        ):
            raise SsoError(
                "Sign in with single sign-on first (and check that it works for you), then "
                "turn passwords off: otherwise you would lock yourself out.",
                409,
                "lockout",
            )
    if config is None:
        config = SsoConfig(organization_id=org.id, issuer="", client_id="")
        db.session.add(config)
    provider_changed = before is not None and (
        before["issuer"] != issuer or before["client_id"] != client_id
    )
    config.enabled = form.enabled
    config.issuer = issuer
    config.client_id = client_id
    config.jit_role_id = role.id if role else None
    config.allow_passwords = form.allow_passwords
    kept = {d.domain: d for d in config.domains}
    config.domains = [kept.get(d) or SsoDomain(d) for d in domains]
    if form.client_secret:
        config.client_secret_sealed = seal(SEAL_PURPOSE, {"secret": form.client_secret})
    config.updated_at = utcnow()
    db.session.flush()
    after = _snapshot(config)
    changes = {
        k: {"before": before.get(k) if before else None, "after": v}
        for k, v in after.items()
        if before is None or before.get(k) != v
    }
    if form.client_secret:
        changes["client_secret"] = "changed"  # noqa: S105 (a marker, never the secret)
    if not changes:
        return False
    if provider_changed:
        # Subjects are per provider: links to the old one mean nothing any more.
        db.session.execute(delete(SsoIdentity).where(SsoIdentity.organization_id == org.id))
    if provider_changed or (before and before["enabled"] and not form.enabled):
        end_org_sessions(org.id)
    audit.record(
        "sso.configured",
        organization_id=org.id,
        target=org,
        actor=actor,
        details={"changes": changes},
    )
    return True


def _snapshot(config: SsoConfig | None) -> dict[str, Any] | None:
    if config is None:
        return None
    return {
        "enabled": config.enabled,
        "issuer": config.issuer,
        "client_id": config.client_id,
        "domains": config.domain_names,
        "jit_role": config.jit_role.name if config.jit_role else None,
        "allow_passwords": config.allow_passwords,
    }


# --- sign-in --------------------------------------------------------------------------


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


def _client(config: SsoConfig, secret: str | None = None) -> OAuth2Session:
    return OAuth2Session(
        client_id=config.client_id,
        client_secret=secret,
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name)
        scope=SCOPE,
        redirect_uri=callback_url(),
        code_challenge_method="S256",
    )


def begin(org: Organization, next_url: str | None) -> tuple[str, dict[str, Any]]:
    """The provider's authorization URL, and what the callback must find in the session."""
    config = config_of(org.id)
    if config is None or not config.enabled:
        raise SsoError("Single sign-on is not set up for this organization.", 404, "disabled")
    meta = discover(config.issuer)
    _check_url(meta["authorization_endpoint"], "authorization endpoint")
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    url, _ = _client(config).create_authorization_url(
        meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
    )
    pending = {
        "org": org.id,
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "started": int(time.time()),
        "next": next_url or "",
    }
    return url, pending


@dataclass
class SsoResult:
    user: User
    organization: Organization
    provisioned: bool
    mfa_by_provider: bool


def complete(pending: dict[str, Any] | None, args: dict[str, str], ip: str) -> SsoResult:
    """Finish the sign-in from the provider's redirect. Raises SsoError. Caller commits
    (and records refusals with `record_refusal`)."""
    if not pending or not isinstance(pending, dict):
        raise SsoError(
            "This sign-in was not started from this browser, or it already finished. Start "
            "again from the sign-in page.",
            400,
            "no_pending_sign_in",
        )
    if time.time() - pending.get("started", 0) > FLOW_TTL_SECONDS:
        raise SsoError("The sign-in took too long; start again.", 400, "expired")
    if args.get("error"):
        # An error answer signs nobody in, so it is shown even without a state (some
        # providers leave it out of error redirects).
        raise SsoError(
            f"The identity provider did not sign you in ({str(args.get('error'))[:60]}).",
            401,
            "provider_refused",
        )
    if not hmac.compare_digest(str(args.get("state", "")), str(pending.get("state", ""))):
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
    code = args.get("code")
    if not code:
        raise SsoError("The identity provider sent no authorization code.", 400, "no_code")
    meta = discover(config.issuer)
    claims = _exchange_and_verify(config, meta, code, pending)
    email = str(claims.get("email") or "").strip().lower()
    if not email or "@" not in email:
        raise SsoError(
            "The identity provider did not tell us your e-mail address.", 403, "no_email"
        )
    if claims.get("email_verified") is False:
        raise SsoError(
            "The identity provider says your e-mail address is not verified.",
            403,
            "email_unverified",
        )
    try:
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


def _exchange_and_verify(
    config: SsoConfig, meta: dict[str, Any], code: str, pending: dict[str, Any]
) -> dict[str, Any]:
    _check_url(meta["token_endpoint"], "token endpoint")
    client = _client(config, client_secret(config))
    try:
        token = client.fetch_token(
            meta["token_endpoint"],
            grant_type="authorization_code",
            code=code,
            code_verifier=pending["verifier"],
            timeout=current_app.config["SSO_HTTP_TIMEOUT_SECONDS"],
            allow_redirects=False,
        )
    except OAuthError as exc:
        log.info("token endpoint refused the code: %s", exc.error)
        raise SsoError(
            "The identity provider did not accept the sign-in; start again.", 401, "token_refused"
        ) from None
    except (requests.RequestException, ValueError) as exc:
        log.warning("token endpoint failed: %s", type(exc).__name__)
        raise SsoError(
            "The identity provider could not be reached; try again later.", 502, "unreachable"
        ) from None
    finally:
        client.close()
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SsoError("The identity provider sent no ID token.", 401, "no_id_token")
    keys = _get_json(meta["jwks_uri"], "key set")
    try:
        decoded = jwt.decode(id_token, KeySet.import_key_set(keys), algorithms=ID_TOKEN_ALGORITHMS)
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": config.issuer},
            aud={"essential": True, "value": config.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        log.info("ID token refused: %s", type(exc).__name__)
        raise SsoError(
            "The identity provider's ID token is not valid for this portal.",
            401,
            "id_token_invalid",
        ) from None
    claims = decoded.claims
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != config.client_id:
        raise SsoError("The ID token was issued to another client.", 401, "id_token_invalid")
    if not hmac.compare_digest(str(claims.get("nonce", "")), str(pending.get("nonce", ""))):
        raise SsoError(
            "The ID token does not belong to this sign-in (nonce mismatch). Start again.",
            401,
            "nonce_mismatch",
        )
    return claims


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
