"""Tenancy: organizations, their products and reporting groups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow

# How long audit events are kept (days): the default and the range admins may choose.
AUDIT_RETENTION_DEFAULT_DAYS = 365
AUDIT_RETENTION_MIN_DAYS = 30
AUDIT_RETENTION_MAX_DAYS = 3650
# Who must use a second factor: nobody required, every member, or members whose role
# holds `ra.start` (those who can take control of computers).
MFA_POLICIES = ("off", "all", "ra_start")


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(
            f"audit_retention_days BETWEEN {AUDIT_RETENTION_MIN_DAYS} "
            f"AND {AUDIT_RETENTION_MAX_DAYS}",
            name="audit_retention_days",
        ),
        CheckConstraint("mfa_policy IN ('off', 'all', 'ra_start')", name="mfa_policy"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    # Older audit events are pruned by the worker (app.audit.retention).
    audit_retention_days: Mapped[int] = mapped_column(
        default=AUDIT_RETENTION_DEFAULT_DAYS, server_default=str(AUDIT_RETENTION_DEFAULT_DAYS)
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    mfa_policy: Mapped[str] = mapped_column(String(16), default="off", server_default="off")
    # IANA zone: times are shown in it to members who chose none of their own.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")

    products: Mapped[list[Product]] = relationship(
        back_populates="organization", order_by="Product.name"
    )

    def __str__(self) -> str:
        return self.name


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        # Target of composite foreign keys that keep children in the same tenant.
        UniqueConstraint("id", "organization_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship(back_populates="products")
    reporting_groups: Mapped[list[ReportingGroup]] = relationship(
        back_populates="product", order_by="ReportingGroup.name", overlaps="organization"
    )

    def __str__(self) -> str:
        return self.name


class ReportingGroup(Base):
    __tablename__ = "reporting_groups"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        UniqueConstraint("id", "organization_id"),
        ForeignKeyConstraint(
            ["product_id", "organization_id"],
            ["products.id", "products.organization_id"],
            ondelete="CASCADE",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship(overlaps="product,reporting_groups")
    product: Mapped[Product] = relationship(
        back_populates="reporting_groups", overlaps="organization"
    )

    def __str__(self) -> str:
        return self.name
