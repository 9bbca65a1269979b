"""People: users, their memberships in organizations, and their sign-in sessions."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.organization import Organization
from app.models.role import Role


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased; compared lower-cased.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    # argon2id encoded hash; NULL means "no password sign-in" (invitation pending, SSO).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_platform_admin: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # The person's own choices; NULL = the browser's language / the organization's zone.
    language: Mapped[str | None] = mapped_column(String(8))
    time_zone: Mapped[str | None] = mapped_column(String(64))

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def __str__(self) -> str:
        return self.email


class Membership(Base):
    """A user's place in one organization, with exactly one role of that organization."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "organization_id"),
        # The role must belong to the membership's organization.
        ForeignKeyConstraint(["role_id", "organization_id"], ["roles.id", "roles.organization_id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    role_id: Mapped[int] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    organization: Mapped[Organization] = relationship(overlaps="role")
    role: Mapped[Role] = relationship(overlaps="organization", lazy="joined")

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} as {self.role}"


class AuthSession(Base):
    """A signed-in browser session. The cookie holds a random id; we keep only its hash.

    A single sign-on session acts only in the organization whose identity provider
    vouched for it (`organization_id`); a password session acts in every organization of
    the user that still allows passwords. `mfa_verified_at` is set once the second
    factor was given (or the identity provider proved one)."""

    __tablename__ = "auth_sessions"
    __table_args__ = (CheckConstraint("auth_method IN ('password', 'sso')", name="auth_method"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    auth_method: Mapped[str] = mapped_column(
        String(16), default="password", server_default="password"
    )
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    mfa_verified_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
