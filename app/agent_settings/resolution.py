"""`effective_settings(group, role)`: the one resolution of FlexxAgent settings (SPEC §3).

For (group G, role R): G's value for R → G's value for all roles → product's value for R →
product's value for all roles → registry default; unless the product enforces the key
(for R or for all roles), in which case the product's value wins and the group is locked.
Every value carries its provenance. The agent check-in, the device page, the assistance
rules and the API all call this module; it runs one query however many groups, roles and
keys are asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import or_, select

from app.agent_settings import registry
from app.extensions import db
from app.models import ReportingGroup, Role
from app.models.agent_setting import AgentSettingValue

DEFAULT = "default"
PRODUCT = "product"
PRODUCT_ROLE = "product_role"
GROUP = "group"
GROUP_ROLE = "group_role"
ENFORCED = "enforced"


@dataclass(frozen=True)
class EffectiveSetting:
    key: str
    value: Any
    source: str  # one of the constants above
    label: str  # "inherited from product Workspaces", "set on group Kiosks", ...
    locked: bool  # enforced by the product: groups cannot override

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "source_label": self.label,
            "locked": self.locked,
        }


class StoredValues:
    """Stored values of some products and groups, indexed for resolution."""

    def __init__(self, rows: Iterable[AgentSettingValue]) -> None:
        self._index: dict[tuple[str, int, str, int | None], AgentSettingValue] = {}
        for row in rows:
            if row.product_id is not None:
                self._index[("p", row.product_id, row.key, row.role_id)] = row
            else:
                self._index[("g", row.reporting_group_id, row.key, row.role_id)] = row

    @classmethod
    def load(cls, groups: Sequence[ReportingGroup], role_ids: Iterable[int] = ()) -> StoredValues:
        """One query: every value of these groups and their products, for all roles and
        for `role_ids`."""
        group_ids = {g.id for g in groups}
        product_ids = {g.product_id for g in groups}
        role_ids = set(role_ids)
        if not group_ids:
            return cls([])
        role_clause = AgentSettingValue.role_id.is_(None)
        if role_ids:
            role_clause = or_(role_clause, AgentSettingValue.role_id.in_(role_ids))
        rows = db.session.execute(
            select(AgentSettingValue).where(
                or_(
                    AgentSettingValue.product_id.in_(product_ids),
                    AgentSettingValue.reporting_group_id.in_(group_ids),
                ),
                role_clause,
            )
        ).scalars()
        return cls(rows)

    def product_value(self, product_id: int, key: str, role_id: int | None):
        return self._index.get(("p", product_id, key, role_id))

    def group_value(self, group_id: int, key: str, role_id: int | None):
        return self._index.get(("g", group_id, key, role_id))

    def resolve(self, group: ReportingGroup, role: Role | None) -> dict[str, EffectiveSetting]:
        return {d.key: self.resolve_key(group, role, d.key) for d in registry.SETTINGS}

    def resolve_key(self, group: ReportingGroup, role: Role | None, key: str) -> EffectiveSetting:
        definition = registry.REGISTRY[key]
        role_id = role.id if role is not None and definition.per_role else None
        product = group.product
        p_role = self.product_value(product.id, key, role_id) if role_id else None
        p_all = self.product_value(product.id, key, None)
        g_role = self.group_value(group.id, key, role_id) if role_id else None
        g_all = self.group_value(group.id, key, None)
        role_name = role.name if role_id else None

        if (p_role is not None and p_role.enforced) or (p_all is not None and p_all.enforced):
            row = p_role or p_all
            label = _source_label(ENFORCED, product.name, role_name if row is p_role else None)
            return EffectiveSetting(key, row.value, ENFORCED, label, True)
        if g_role is not None:
            label = _source_label(GROUP, group.name, role_name)
            return EffectiveSetting(key, g_role.value, GROUP_ROLE, label, False)
        if g_all is not None:
            return EffectiveSetting(
                key, g_all.value, GROUP, _source_label(GROUP, group.name), False
            )
        if p_role is not None:
            label = _source_label(PRODUCT, product.name, role_name)
            return EffectiveSetting(key, p_role.value, PRODUCT_ROLE, label, False)
        if p_all is not None:
            label = _source_label(PRODUCT, product.name)
            return EffectiveSetting(key, p_all.value, PRODUCT, label, False)
        return EffectiveSetting(
            key, definition.default, DEFAULT, gettext("registry default"), False
        )


def _source_label(source: str, name: str, role: str | None = None) -> str:
    """Where a value comes from, in the reader's language ("set on group Kiosks")."""
    if source == ENFORCED:
        if role:
            return gettext("enforced by product %(name)s for %(role)s", name=name, role=role)
        return gettext("enforced by product %(name)s", name=name)
    if source == GROUP:
        if role:
            return gettext("set on group %(name)s for %(role)s", name=name, role=role)
        return gettext("set on group %(name)s", name=name)
    if role:
        return gettext("inherited from product %(name)s for %(role)s", name=name, role=role)
    return gettext("inherited from product %(name)s", name=name)


def effective_settings(group: ReportingGroup, role: Role | None) -> dict[str, EffectiveSetting]:
    """Every key's effective value for `role` on `group`'s devices (role None: the value
    that applies to every role, ignoring role-specific values)."""
    role_ids = [role.id] if role is not None else []
    return StoredValues.load([group], role_ids).resolve(group, role)


def effective_for_roles(
    group: ReportingGroup, roles: Sequence[Role]
) -> dict[int | None, dict[str, EffectiveSetting]]:
    """`effective_settings` for several roles at once (plus None = all roles), one query."""
    values = StoredValues.load([group], [r.id for r in roles])
    result: dict[int | None, dict[str, EffectiveSetting]] = {None: values.resolve(group, None)}
    for role in roles:
        result[role.id] = values.resolve(group, role)
    return result
