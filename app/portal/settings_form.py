"""Reading FlexxAgent settings forms into `SettingChange`s.

Each cell is one (key, role) pair named `key` or `key@<role id>`:
`val:<cell>` is keep | inherit | on | off (bool) | set (types, URL, schedule);
`types:<cell>` the chosen types; `text:<cell>` the URL or the schedule's text
(`Mon-Fri 08:00-18:00`); `enforce:<cell>` = 1 locks it.
A cell that is absent is kept as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from app.agent_settings import registry
from app.agent_settings.service import INHERIT, SettingChange, SettingsError
from app.models import Role


def cell_name(key: str, role_id: int | None) -> str:
    return key if role_id is None else f"{key}@{role_id}"


def cells(roles: Iterable[Role]) -> list[tuple[registry.SettingDef, Role | None]]:
    """Every editable cell: each setting for all roles, and per role where it applies."""
    roles = list(roles)
    result = []
    for definition in registry.SETTINGS:
        result.append((definition, None))
        if definition.per_role:
            result.extend((definition, role) for role in roles)
    return result


def parse_cell(
    form: Mapping, definition, role_id: int | None, allow_enforce: bool
) -> SettingChange | None:
    name = cell_name(definition.key, role_id)
    mode = form.get(f"val:{name}", "keep")
    if mode == "keep":
        return None
    enforced = allow_enforce and form.get(f"enforce:{name}") == "1"
    if mode == "inherit":
        return SettingChange(definition.key, INHERIT, role_id)
    if definition.kind == "bool" and mode in ("on", "off"):
        return SettingChange(definition.key, mode == "on", role_id, enforced)
    if definition.kind == "ra_types" and mode == "set":
        return SettingChange(definition.key, form.getlist(f"types:{name}"), role_id, enforced)
    if definition.kind in ("url", "schedule") and mode == "set":
        return SettingChange(definition.key, form.get(f"text:{name}", ""), role_id, enforced)
    raise SettingsError("invalid_value", f"{definition.label}: {mode!r} is not a choice", name)


def parse_form(form: Mapping, roles: Iterable[Role], allow_enforce: bool) -> list[SettingChange]:
    changes = []
    for definition, role in cells(roles):
        change = parse_cell(form, definition, role.id if role else None, allow_enforce)
        if change is not None:
            changes.append(change)
    return changes
