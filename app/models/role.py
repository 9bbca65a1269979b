"""Roles: named sets of permission strings, per organization."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.organization import Organization


class RolePermission(Base):
    __tablename__ = "role_permissions"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(String(64), primary_key=True)

    def __init__(self, permission: str) -> None:
        self.permission = permission


class Role(Base):
    __tablename__ = "roles"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        UniqueConstraint("organization_id", "builtin_key"),
        UniqueConstraint("id", "organization_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    # Set for the five built-in roles ("org_admin", ...); NULL for custom roles.
    builtin_key: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship()
    permission_rows: Mapped[list[RolePermission]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    permissions: AssociationProxy[list[str]] = association_proxy("permission_rows", "permission")

    @property
    def is_builtin(self) -> bool:
        return self.builtin_key is not None

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    def set_permissions(self, perms) -> None:
        wanted = set(perms)
        self.permission_rows = [r for r in self.permission_rows if r.permission in wanted]
        have = {r.permission for r in self.permission_rows}
        for perm in sorted(wanted - have):
            self.permission_rows.append(RolePermission(perm))

    def __str__(self) -> str:
        return self.name
