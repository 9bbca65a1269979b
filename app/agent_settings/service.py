"""Changing stored FlexxAgent settings: validation, the product lock, bulk apply, audit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app import audit
from app.agent_settings.cache import invalidate_after_commit
from app.agent_settings.registry import SettingValueError, get_setting
from app.agent_settings.resolution import StoredValues
from app.extensions import db
from app.models import Product, ReportingGroup, Role
from app.models.agent_setting import AgentSettingValue

INHERIT = None  # a change whose value is INHERIT removes the stored value


class SettingsError(ValueError):
    """A settings change was refused. `code` is stable for programs, `field` names the
    offending input, `message` says why and what would fix it."""

    def __init__(
        self, code: str, message: str, field: str | None = None, status: int = 400
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.status = status


@dataclass(frozen=True)
class SettingChange:
    key: str
    value: Any  # INHERIT (None) removes the value
    role_id: int | None = None  # None: the value for all roles
    enforced: bool = False  # product scope only

    @property
    def field(self) -> str:
        return self.key if self.role_id is None else f"{self.key}@{self.role_id}"


def _scope_kind(scope: Product | ReportingGroup) -> str:
    return "product" if isinstance(scope, Product) else "reporting_group"


def _roles_of(org_id: int) -> dict[int, Role]:
    return {
        r.id: r
        for r in db.session.execute(select(Role).where(Role.organization_id == org_id)).scalars()
    }


def stored_values(
    scope: Product | ReportingGroup,
) -> dict[tuple[str, int | None], AgentSettingValue]:
    column = (
        AgentSettingValue.product_id
        if isinstance(scope, Product)
        else AgentSettingValue.reporting_group_id
    )
    rows = db.session.execute(select(AgentSettingValue).where(column == scope.id)).scalars()
    return {(r.key, r.role_id): r for r in rows}


def _validate(
    scope, change: SettingChange, roles: dict[int, Role], locks: StoredValues | None
) -> SettingChange:
    try:
        definition = get_setting(change.key)
    except SettingValueError as exc:
        raise SettingsError("unknown_setting", exc.message, change.key) from None
    if change.role_id is not None:
        if not definition.per_role:
            raise SettingsError(
                "not_per_role",
                f"{change.key} applies to every role; it cannot be set per role",
                change.field,
            )
        if change.role_id not in roles:
            raise SettingsError(
                "unknown_role",
                f"role {change.role_id} does not exist in this organization",
                change.field,
            )
    if change.enforced and not isinstance(scope, Product):
        raise SettingsError("enforce_on_group", "only a product can enforce a value", change.field)
    if change.enforced and change.value is INHERIT:
        raise SettingsError(
            "enforce_without_value", f"{change.key}: choose a value to enforce", change.field
        )
    if locks is not None and change.value is not INHERIT:  # a group: refuse what the product locks
        product = scope.product
        p_role = (
            locks.product_value(product.id, change.key, change.role_id) if change.role_id else None
        )
        p_all = locks.product_value(product.id, change.key, None)
        if (p_all is not None and p_all.enforced) or (p_role is not None and p_role.enforced):
            raise SettingsError(
                "enforced_by_product",
                f"{definition.label} is enforced by product {product.name}; ask a product "
                "owner to lift the lock to override it on this group",
                change.field,
                status=409,
            )
    value = change.value
    if value is not INHERIT:
        try:
            value = definition.validate(value)
        except SettingValueError as exc:
            raise SettingsError("invalid_value", exc.message, change.field) from None
    return SettingChange(change.key, value, change.role_id, change.enforced)


def _snapshot(row: AgentSettingValue | None) -> dict[str, Any] | None:
    return None if row is None else {"value": row.value, "enforced": row.enforced}


def apply_changes(
    scope: Product | ReportingGroup, changes: Sequence[SettingChange], actor=None
) -> list[dict[str, Any]]:
    """Validate and store `changes` on a product or a group, all or nothing; record one
    audit event listing each key's before/after. Returns that list (empty: nothing
    changed). The caller commits."""
    roles = _roles_of(scope.organization_id)
    locks = StoredValues.load([scope], roles) if isinstance(scope, ReportingGroup) else None
    valid = [_validate(scope, c, roles, locks) for c in changes]
    seen: set[tuple[str, int | None]] = set()
    for change in valid:
        if (change.key, change.role_id) in seen:
            raise SettingsError("duplicate", f"{change.field} is given twice", change.field)
        seen.add((change.key, change.role_id))

    stored = stored_values(scope)
    diff = []
    for change in valid:
        row = stored.get((change.key, change.role_id))
        before = _snapshot(row)
        if change.value is INHERIT:
            if row is None:
                continue
            db.session.delete(row)
            after = None
        else:
            after = {"value": change.value, "enforced": change.enforced}
            if before == after:
                continue
            if row is None:
                row = AgentSettingValue(
                    organization_id=scope.organization_id,
                    key=change.key,
                    role_id=change.role_id,
                    product_id=scope.id if isinstance(scope, Product) else None,
                    reporting_group_id=scope.id if isinstance(scope, ReportingGroup) else None,
                )
                db.session.add(row)
            row.value = change.value
            row.enforced = change.enforced
            row.updated_by_id = getattr(actor, "id", None)
        diff.append(
            {
                "key": change.key,
                "role_id": change.role_id,
                "role": roles[change.role_id].name if change.role_id else None,
                "before": before,
                "after": after,
            }
        )
    if diff:
        db.session.flush()
        invalidate_after_commit(scope.organization_id)
        audit.record(
            "agent_settings.changed",
            organization_id=scope.organization_id,
            target=scope,
            actor=actor,
            details={"scope": _scope_kind(scope), "scope_name": scope.name, "changes": diff},
        )
    return diff


def apply_to_groups(
    groups: Sequence[ReportingGroup], changes: Sequence[SettingChange], actor=None
) -> dict[int, list[dict[str, Any]]]:
    """Apply the same changes to several groups, all or nothing: a group that refuses
    (e.g. a value its product enforces) refuses the whole bulk, naming the group."""
    if not groups:
        raise SettingsError("no_groups", "choose at least one reporting group", "groups")
    result = {}
    for group in groups:
        try:
            result[group.id] = apply_changes(group, changes, actor)
        except SettingsError as exc:
            raise SettingsError(
                exc.code, f"{group.name}: {exc.message}", exc.field, exc.status
            ) from None
    return result


def describe(scope: Product | ReportingGroup) -> dict[str, Any]:
    """Stored values of a product or group, every registry key present (value None:
    inherited), per-role values under `by_role`."""
    from app.agent_settings import registry

    stored = stored_values(scope)
    result: dict[str, Any] = {}
    for definition in registry.SETTINGS:
        row = stored.get((definition.key, None))
        entry: dict[str, Any] = {
            "value": row.value if row else None,
            "set": row is not None,
            "enforced": bool(row and row.enforced),
        }
        if definition.per_role:
            entry["by_role"] = {
                str(role_id): {"value": r.value, "enforced": r.enforced}
                for (key, role_id), r in sorted(stored.items(), key=lambda kv: kv[0][1] or 0)
                if key == definition.key and role_id is not None
            }
        result[definition.key] = entry
    return result
