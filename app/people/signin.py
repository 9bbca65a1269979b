"""Sign-in: credential checks with throttling, and server-side session records."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update

from app import audit
from app.core import throttle
from app.core.passwords import hash_password, needs_rehash, verify_password
from app.extensions import db
from app.models import AuthSession, User, utcnow
from app.people import access
from app.people.users import find_user_by_email, normalize_email

# Do not write last_seen_at more often than this (one UPDATE per minute per session).
TOUCH_EVERY = timedelta(seconds=60)


class LoginThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


class PasswordSignInDisabled(Exception):
    """The password was right, but the user's organizations sign in with SSO only."""


@dataclass
class SessionPolicy:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def from_config(cls) -> SessionPolicy:
        cfg = current_app.config
        return cls(
            idle=timedelta(seconds=cfg["SESSION_IDLE_TIMEOUT_SECONDS"]),
            absolute=timedelta(seconds=cfg["SESSION_ABSOLUTE_TIMEOUT_SECONDS"]),
        )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _audit_orgs(user: User | None) -> list[int | None]:
    orgs = [m.organization_id for m in user.memberships] if user else []
    return orgs or [None]


def authenticate(email: str, password: str, ip: str) -> User | None:
    """Return the user when the credentials are right. Raises LoginThrottled when the
    account or the address has failed too often, ThrottleUnavailable when Redis is down.
    Records the outcome in the audit log (caller commits)."""
    cfg = current_app.config
    email = normalize_email(email)
    wait = max(
        throttle.retry_after("login-account", email, cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]),
        throttle.retry_after("login-ip", ip, cfg["LOGIN_MAX_FAILURES_PER_IP"]),
    )
    user = find_user_by_email(email)
    if wait:
        for org_id in _audit_orgs(user):
            audit.record(
                "auth.login_throttled", organization_id=org_id, actor=user, actor_label=email, ip=ip
            )
        raise LoginThrottled(wait)

    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        window = cfg["LOGIN_THROTTLE_WINDOW_SECONDS"]
        throttle.register_failure("login-account", email, window)
        throttle.register_failure("login-ip", ip, window)
        reason = "unknown_user" if user is None else ("inactive" if ok else "bad_password")
        for org_id in _audit_orgs(user):
            audit.record(
                "auth.login_failed",
                organization_id=org_id,
                actor=user,
                actor_label=email,
                ip=ip,
                details={"reason": reason},
            )
        return None

    throttle.reset("login-account", email)
    if not access.password_sign_in_allowed(user):
        for org_id in _audit_orgs(user):
            audit.record(
                "auth.login_refused",
                organization_id=org_id,
                actor=user,
                ip=ip,
                details={"reason": "sso_required"},
            )
        raise PasswordSignInDisabled()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    for org_id in _audit_orgs(user):
        audit.record("auth.login", organization_id=org_id, actor=user, ip=ip)
    return user


def start_session(
    user: User,
    ip: str,
    user_agent: str,
    *,
    method: str = "password",
    organization_id: int | None = None,
    mfa_verified: bool = False,
) -> str:
    """Create a session record; return the random token for the cookie (caller commits).
    A single sign-on session (`method="sso"`) is bound to `organization_id`."""
    token = secrets.token_urlsafe(32)
    db.session.add(
        AuthSession(
            token_hash=_hash_token(token),
            user_id=user.id,
            ip=ip[:64],
            user_agent=user_agent[:255],
            auth_method=method,
            organization_id=organization_id,
            mfa_verified_at=utcnow() if mfa_verified else None,
        )
    )
    return token


def replace_session(
    record: AuthSession, ip: str, user_agent: str, *, mfa_verified: bool | None = None
) -> str:
    """End `record` and return the token of a fresh session like it (same method and
    organization; MFA as before unless `mfa_verified` says otherwise). Caller commits."""
    record.ended_at = utcnow()
    return start_session(
        record.user,
        ip,
        user_agent,
        method=record.auth_method,
        organization_id=record.organization_id,
        mfa_verified=record.mfa_verified_at is not None if mfa_verified is None else mfa_verified,
    )


def promote_session(record: AuthSession, ip: str, user_agent: str) -> str:
    """The second factor was given: a fresh, MFA-verified session replaces `record` (a new
    id, as at every step up). Caller commits."""
    return replace_session(record, ip, user_agent, mfa_verified=True)


def load_session(token: str | None, now: datetime | None = None) -> AuthSession | None:
    """The live session for `token`, touching its last-seen time; None when it is unknown,
    ended, idle too long or older than the absolute limit."""
    if not token:
        return None
    now = now or utcnow()
    policy = SessionPolicy.from_config()
    row = db.session.execute(
        select(AuthSession).where(AuthSession.token_hash == _hash_token(token))
    ).scalar_one_or_none()
    if row is None or row.ended_at is not None:
        return None
    if now - row.created_at >= policy.absolute or now - row.last_seen_at >= policy.idle:
        row.ended_at = now
        db.session.commit()
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    return row


def end_session(token: str | None) -> None:
    if token:
        db.session.execute(
            update(AuthSession)
            .where(AuthSession.token_hash == _hash_token(token), AuthSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


def end_all_sessions(user_id: int) -> None:
    db.session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def end_org_sessions(organization_id: int, user_id: int | None = None) -> None:
    """End the single sign-on sessions bound to an organization (of one user, or all):
    they can act nowhere else."""
    stmt = update(AuthSession).where(
        AuthSession.organization_id == organization_id, AuthSession.ended_at.is_(None)
    )
    if user_id is not None:
        stmt = stmt.where(AuthSession.user_id == user_id)
    db.session.execute(stmt.values(ended_at=utcnow()))


def prune_expired_sessions(now: datetime | None = None) -> int:
    """Delete session records that can no longer be used; return how many."""
    now = now or utcnow()
    policy = SessionPolicy.from_config()
    result = db.session.execute(
        delete(AuthSession).where(
            or_(
                AuthSession.ended_at.is_not(None),
                AuthSession.created_at <= now - policy.absolute,
                AuthSession.last_seen_at <= now - policy.idle,
            )
        )
    )
    db.session.commit()
    return result.rowcount
