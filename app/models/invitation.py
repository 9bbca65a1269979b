"""Invitations: an organization admin asks someone, by e-mail, to join with a role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.organization import Organization
from app.models.role import Role
from app.models.user import User

_PENDING = text("accepted_at IS NULL AND revoked_at IS NULL")


class Invitation(Base):
    """A single-use link, sent by e-mail. Only the SHA-256 of its random token is kept."""

    __tablename__ = "invitations"
    __table_args__ = (
        # The role must belong to the invitation's organization; deleting the role
        # withdraws the invitations for it.
        ForeignKeyConstraint(
            ["role_id", "organization_id"],
            ["roles.id", "roles.organization_id"],
            ondelete="CASCADE",
        ),
        # At most one open invitation per person and organization (a new one replaces it).
        Index(
            "uq_invitations_open_email",
            "organization_id",
            "email",
            unique=True,
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # Stored lower-cased, like users' e-mails.
    email: Mapped[str] = mapped_column(String(254))
    role_id: Mapped[int] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Renewed when the invitation is sent again (with a new token).
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]

    organization: Mapped[Organization] = relationship(overlaps="role")
    role: Mapped[Role] = relationship(overlaps="organization")
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])

    def status(self, now: datetime) -> str:
        """pending, accepted, revoked or expired."""
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        return "pending"

    def __str__(self) -> str:
        return f"invitation of {self.email}"
