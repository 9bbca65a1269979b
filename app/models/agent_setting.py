"""Stored FlexxAgent setting values, at product or reporting-group scope, optionally per role.

A missing row means "inherit". Resolution lives in `app.agent_settings.resolution`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


def _one_value_per(name: str, scope_column: str) -> tuple[Index, Index]:
    def unique(suffix: str, columns: tuple[str, ...], role_condition: str) -> Index:
        where = text(f"{scope_column} IS NOT NULL AND role_id {role_condition}")
        return Index(
            f"uq_agent_setting_values_{name}_{suffix}",
            *columns,
            unique=True,
            postgresql_where=where,
            sqlite_where=where,
        )

    return (
        unique("key", (scope_column, "key"), "IS NULL"),
        unique("key_role", (scope_column, "key", "role_id"), "IS NOT NULL"),
    )


class AgentSettingValue(Base):
    __tablename__ = "agent_setting_values"
    __table_args__ = (
        CheckConstraint("(product_id IS NULL) <> (reporting_group_id IS NULL)", name="one_scope"),
        # Only a product can lock a value for its groups.
        CheckConstraint("enforced = false OR product_id IS NOT NULL", name="enforced_on_product"),
        ForeignKeyConstraint(
            ["product_id", "organization_id"],
            ["products.id", "products.organization_id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["reporting_group_id", "organization_id"],
            ["reporting_groups.id", "reporting_groups.organization_id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["role_id", "organization_id"],
            ["roles.id", "roles.organization_id"],
            ondelete="CASCADE",
        ),
        # One value per (scope, key, role); "all roles" (NULL) gets its own partial index
        # because NULLs are distinct in unique constraints.
        *_one_value_per("product", "product_id"),
        *_one_value_per("group", "reporting_group_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int | None] = mapped_column(Integer)
    reporting_group_id: Mapped[int | None] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    # NULL: the value for every role.
    role_id: Mapped[int | None] = mapped_column(Integer)
    value: Mapped[Any] = mapped_column(JSON)
    enforced: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
