"""Single sign-on (OpenID Connect) per organization."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    ForeignKeyConstraint,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.organization import Organization
from app.models.role import Role


class SsoConfig(Base):
    """An organization's identity provider. The client secret is sealed (encrypted) at
    rest and never shown back."""

    __tablename__ = "sso_configs"
    __table_args__ = (
        # The role given to just-in-time provisioned users belongs to this organization.
        ForeignKeyConstraint(
            ["jit_role_id", "organization_id"], ["roles.id", "roles.organization_id"]
        ),
    )

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(default=False)
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # NULL: people without an account are refused (they need an invitation).
    jit_role_id: Mapped[int | None] = mapped_column(index=True)
    # False: the organization's members cannot use a password session in it.
    allow_passwords: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship(overlaps="jit_role")
    jit_role: Mapped[Role | None] = relationship(overlaps="organization")
    domains: Mapped[list[SsoDomain]] = relationship(
        cascade="all, delete-orphan", order_by="SsoDomain.domain", lazy="selectin"
    )

    @property
    def domain_names(self) -> list[str]:
        return [d.domain for d in self.domains]


class SsoDomain(Base):
    """An e-mail domain whose people may sign in through the organization's provider."""

    __tablename__ = "sso_domains"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("sso_configs.organization_id", ondelete="CASCADE"), primary_key=True
    )
    domain: Mapped[str] = mapped_column(String(253), primary_key=True, index=True)

    def __init__(self, domain: str) -> None:
        self.domain = domain


class SsoIdentity(Base):
    """Links the provider's subject (`sub`) to a member: later sign-ins follow the
    subject, so an e-mail address reassigned at the provider cannot take over an account."""

    __tablename__ = "sso_identities"
    __table_args__ = (
        UniqueConstraint("organization_id", "subject"),
        UniqueConstraint("organization_id", "user_id"),
        # Leaving the organization removes the link.
        ForeignKeyConstraint(
            ["user_id", "organization_id"],
            ["memberships.user_id", "memberships.organization_id"],
            ondelete="CASCADE",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
