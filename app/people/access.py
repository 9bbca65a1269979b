"""What a signed-in session may do: the organizations it may act in, and whether it still
owes a second factor. Computed on every request, so a policy change applies at once.

- A single sign-on session acts only in the organization whose identity provider vouched
  for it: another organization's provider must never open the doors of this one.
- A password session acts in the user's organizations that still allow passwords.
- MFA is owed when the user has an authenticator (always asked for), or when one of the
  session's organizations requires it of this member (then they must enroll first).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, select

from app.extensions import db
from app.models import AuthSession, Membership, Organization, RolePermission, SsoConfig, User
from app.models.mfa import TotpCredential

# What the session still owes before it may do anything else.
MFA_OK, MFA_VERIFY, MFA_ENROLL = "ok", "verify", "enroll"


@dataclass(frozen=True)
class OrgAccess:
    organization_id: int
    mfa_policy: str
    passwords_allowed: bool
    holds_ra_start: bool

    @property
    def requires_mfa(self) -> bool:
        return self.mfa_policy == "all" or (self.mfa_policy == "ra_start" and self.holds_ra_start)


@dataclass(frozen=True)
class SessionAccess:
    org_ids: frozenset[int]
    mfa: str
    mfa_required_by: tuple[int, ...] = ()


def org_access(user_id: int) -> list[OrgAccess]:
    """One row per membership of the user, with what its organization demands."""
    holds_ra_start = exists().where(
        RolePermission.role_id == Membership.role_id, RolePermission.permission == "ra.start"
    )
    rows = db.session.execute(
        select(
            Membership.organization_id,
            Organization.mfa_policy,
            SsoConfig.enabled,
            SsoConfig.allow_passwords,
            holds_ra_start,
        )
        .join(Organization, Organization.id == Membership.organization_id)
        .outerjoin(SsoConfig, SsoConfig.organization_id == Membership.organization_id)
        .where(Membership.user_id == user_id)
    ).all()
    return [
        OrgAccess(
            organization_id=org_id,
            mfa_policy=policy,
            passwords_allowed=not (sso_enabled and sso_allow_passwords is False),
            holds_ra_start=bool(ra),
        )
        for org_id, policy, sso_enabled, sso_allow_passwords, ra in rows
    ]


def password_sign_in_allowed(user: User) -> bool:
    """False when every organization of the user signs in with single sign-on only
    (platform admins and people without an organization always may use a password)."""
    if user.is_platform_admin:
        return True
    orgs = org_access(user.id)
    return not orgs or any(o.passwords_allowed for o in orgs)


def has_authenticator(user_id: int) -> bool:
    return (
        db.session.execute(
            select(TotpCredential.user_id).where(
                and_(TotpCredential.user_id == user_id, TotpCredential.confirmed_at.is_not(None))
            )
        ).first()
        is not None
    )


def session_access(user: User, record: AuthSession) -> SessionAccess:
    orgs = org_access(user.id)
    if record.auth_method == "sso":
        usable = [o for o in orgs if o.organization_id == record.organization_id]
    else:
        usable = [o for o in orgs if o.passwords_allowed]
    org_ids = frozenset(o.organization_id for o in usable)
    required_by = tuple(sorted(o.organization_id for o in usable if o.requires_mfa))
    if record.mfa_verified_at is not None:
        mfa = MFA_OK
    elif has_authenticator(user.id):
        mfa = MFA_VERIFY
    elif required_by:
        mfa = MFA_ENROLL
    else:
        mfa = MFA_OK
    return SessionAccess(org_ids=org_ids, mfa=mfa, mfa_required_by=required_by)


def mfa_required_for(user: User) -> bool:
    """Does any organization of the user require a second factor of them?"""
    return any(o.requires_mfa for o in org_access(user.id))
