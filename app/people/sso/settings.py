"""An organization's single sign-on settings: provider, client, allowed e-mail domains,
the role of people provisioned just in time, and whether passwords still work."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from app import audit
from app.core.sealing import seal
from app.extensions import db
from app.models import Organization, Role, SsoConfig, SsoDomain, SsoIdentity, User, utcnow
from app.people.role_rules import RoleChangeRefused, check_grant
from app.people.signin import end_org_sessions
from app.people.sso import SsoError
from app.people.sso.provider import SEAL_PURPOSE, check_url, discover

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def config_of(org_id: int) -> SsoConfig | None:
    return db.session.get(SsoConfig, org_id)


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
        check_url(issuer, "issuer URL")
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
