"""Roles: named sets of permission strings, per organization."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    UniqueConstraint,
    false,
)
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


class RoleReportingGroup(Base):
    """One reporting group a group-limited role covers. Composite foreign keys keep the
    role and the group in the same organization."""

    __tablename__ = "role_reporting_groups"
    __table_args__ = (
        ForeignKeyConstraint(
            ["role_id", "organization_id"],
            ["roles.id", "roles.organization_id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["reporting_group_id", "organization_id"],
            ["reporting_groups.id", "reporting_groups.organization_id"],
            ondelete="CASCADE",
        ),
    )

    role_id: Mapped[int] = mapped_column(primary_key=True)
    reporting_group_id: Mapped[int] = mapped_column(primary_key=True, index=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )


class Role(Base):
    __tablename__ = "roles"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        UniqueConstraint("organization_id", "builtin_key"),
        UniqueConstraint("id", "organization_id"),
        # The Organization Admin role covers the whole organization, always.
        CheckConstraint(
            "NOT (limited_to_groups AND builtin_key = 'org_admin')", name="org_admin_unlimited"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    # Set for the five built-in roles ("org_admin", ...); NULL for custom roles.
    builtin_key: Mapped[str | None] = mapped_column(String(40))
    # True: holders see and act only on the devices of `group_rows` (possibly none, e.g.
    # after the last of those groups was deleted: a limit never silently widens).
    limited_to_groups: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship()
    permission_rows: Mapped[list[RolePermission]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    permissions: AssociationProxy[list[str]] = association_proxy("permission_rows", "permission")
    group_rows: Mapped[list[RoleReportingGroup]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

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

    @property
    def group_limit(self) -> frozenset[int] | None:
        """Ids of the reporting groups this role is limited to; None: all groups."""
        if not self.limited_to_groups:
            return None
        return frozenset(r.reporting_group_id for r in self.group_rows)

    def set_group_limit(self, group_ids) -> None:
        """Limit the role to `group_ids`, or lift the limit with None."""
        if group_ids is None:
            self.limited_to_groups = False
            self.group_rows = []
            return
        wanted = set(group_ids)
        self.limited_to_groups = True
        self.group_rows = [r for r in self.group_rows if r.reporting_group_id in wanted]
        have = {r.reporting_group_id for r in self.group_rows}
        for group_id in sorted(wanted - have):
            self.group_rows.append(
                RoleReportingGroup(
                    reporting_group_id=group_id, organization_id=self.organization_id
                )
            )

    def __str__(self) -> str:
        return self.name
