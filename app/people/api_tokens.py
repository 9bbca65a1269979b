"""Personal API tokens: created (shown once), authenticated by hash, revoked, expiring."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from app import audit
from app.extensions import db
from app.models import Membership, utcnow
from app.models.api_token import ApiToken

TOKEN_PREFIX = "rap_"  # noqa: S105 (marks our tokens, e.g. for secret scanners)
MAX_DAYS = 365
DEFAULT_DAYS = 90
# Do not write last_used_at more often than this.
TOUCH_EVERY = timedelta(seconds=60)


class TokenError(ValueError):
    pass


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(
    user, organization_id: int, name: str, days: int = DEFAULT_DAYS, actor=None
) -> tuple[ApiToken, str]:
    """Create a token acting as `user` in the organization; return it and the raw token,
    which exists nowhere else. The caller commits."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise TokenError("Give the token a name of 1 to 80 characters.")
    if not 1 <= days <= MAX_DAYS:
        raise TokenError(f"A token lives from 1 to {MAX_DAYS} days.")
    if not any(m.organization_id == organization_id for m in user.memberships):
        raise TokenError("The user is not a member of that organization.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        organization_id=organization_id,
        name=name,
        token_hash=hash_token(raw),
        prefix=raw[:12],
        expires_at=utcnow() + timedelta(days=days),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "api_token.created",
        organization_id=organization_id,
        target=token,
        actor=actor or user,
        details={
            "name": name,
            "prefix": token.prefix,
            "user": user.email,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    return token, raw


def authenticate(raw: str) -> tuple[ApiToken, Membership] | None:
    """The token and its user's membership, if the token is live and its user still
    active and a member of the token's organization."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(raw))
    ).scalar_one_or_none()
    now = utcnow()
    if token is None or not token.is_usable(now) or not token.user.active:
        return None
    membership = next(
        (m for m in token.user.memberships if m.organization_id == token.organization_id), None
    )
    if membership is None:
        return None
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        token.last_used_at = now
        db.session.commit()
    return token, membership


def revoke(token: ApiToken, actor=None) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            "api_token.revoked",
            organization_id=token.organization_id,
            target=token,
            actor=actor,
            details={"name": token.name, "prefix": token.prefix},
        )


def tokens_of(user_id: int) -> list[ApiToken]:
    return list(
        db.session.execute(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at.desc())
        ).scalars()
    )


def revoke_all(user_id: int, organization_id: int | None = None, actor=None) -> int:
    """Revoke the user's live tokens (in one organization, or everywhere); how many."""
    stmt = select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    if organization_id is not None:
        stmt = stmt.where(ApiToken.organization_id == organization_id)
    tokens = list(db.session.execute(stmt).scalars())
    for token in tokens:
        revoke(token, actor=actor)
    return len(tokens)
