"""Creating, changing, deleting and assigning roles: the one way the portal and the API
change roles. Every change passes the escalation rules of `app.people.role_rules` first
and is audited in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app import audit
from app.core.listing import MAX_ID
from app.extensions import db
from app.models import Membership, ReportingGroup, Role, User
from app.models.agent_setting import AgentSettingValue
from app.people.permissions import ALL_PERMISSIONS
from app.people.role_rules import (
    KEEP,
    Keep,
    RoleChangeRefused,
    check_grant,
    check_role_delete,
    check_role_edit,
)

ROLE_NAME_MAX = 80


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise RoleChangeRefused("A role needs a name.", 400)
    if len(name) > ROLE_NAME_MAX:
        raise RoleChangeRefused(f"A role name has at most {ROLE_NAME_MAX} characters.", 400)
    return name


def _clean_permissions(perms) -> set[str]:
    perms = set(perms)
    unknown = sorted(perms - ALL_PERMISSIONS)
    if unknown:
        raise RoleChangeRefused("Unknown permission(s): " + ", ".join(unknown) + ".", 400)
    return perms


def _clean_groups(org_id: int, group_ids) -> frozenset[int] | None:
    """None stays None (all groups); ids must be reporting groups of the organization
    (another organization's id is as unknown as a missing one: 404)."""
    if group_ids is None:
        return None
    ids = frozenset(group_ids)
    if any(not 1 <= i <= MAX_ID for i in ids):  # beyond any id: unknown, not a query
        raise RoleChangeRefused("No such reporting group.", 404)
    if ids:
        found = set(
            db.session.execute(
                select(ReportingGroup.id).where(
                    ReportingGroup.organization_id == org_id, ReportingGroup.id.in_(ids)
                )
            ).scalars()
        )
        if found != ids:
            raise RoleChangeRefused("No such reporting group.", 404)
    return ids


def _check_name_free(org_id: int, name: str, role_id: int | None) -> None:
    taken = db.session.execute(
        select(Role.id).where(
            Role.organization_id == org_id,
            func.lower(Role.name) == name.lower(),
            Role.id != (role_id or 0),
        )
    ).first()
    if taken is not None:
        raise RoleChangeRefused(f"A role named {name} already exists.", 409)


def describe_role(role: Role) -> dict:
    """What the audit log and the API say about a role."""
    limit = role.group_limit
    return {
        "id": role.id,
        "name": role.name,
        "builtin": role.builtin_key,
        "permissions": sorted(role.permissions),
        "reporting_groups": None if limit is None else sorted(limit),
    }


def create_role(
    actor: User, org_id: int, name: str, permissions, group_ids=None, *, via: str = "portal"
) -> Role:
    """Create a custom role (`group_ids` None: all groups)."""
    name = _clean_name(name)
    permissions = _clean_permissions(permissions)
    groups = _clean_groups(org_id, group_ids)
    role = Role(organization_id=org_id, name=name)
    check_role_edit(actor, role, permissions, groups)
    _check_name_free(org_id, name, None)
    role.set_permissions(permissions)
    role.set_group_limit(groups)
    db.session.add(role)
    db.session.flush()
    audit.record(
        "role.created",
        organization_id=org_id,
        target=role,
        actor=actor,
        details={"role": describe_role(role), "via": via},
    )
    return role


def update_role(
    actor: User, role: Role, name: str, permissions, group_ids=KEEP, *, via: str = "portal"
) -> bool:
    """Rename `role` and set its permissions and group limit; False if nothing changed."""
    name = _clean_name(name)
    permissions = _clean_permissions(permissions)
    groups = (
        group_ids if isinstance(group_ids, Keep) else _clean_groups(role.organization_id, group_ids)
    )
    check_role_edit(actor, role, permissions, groups)
    _check_name_free(role.organization_id, name, role.id)
    before = describe_role(role)
    role.name = name
    role.set_permissions(permissions)
    if not isinstance(groups, Keep):
        role.set_group_limit(groups)
    after = describe_role(role)
    if after == before:
        return False
    db.session.flush()
    audit.record(
        "role.updated",
        organization_id=role.organization_id,
        target=role,
        actor=actor,
        details={
            "changes": {
                k: {"before": before[k], "after": after[k]} for k in after if after[k] != before[k]
            },
            "via": via,
        },
    )
    return True


def delete_role(
    actor: User, role: Role, replacement: Role | None = None, *, via: str = "portal"
) -> int:
    """Delete a custom role; its members move to `replacement` in the same transaction.
    Returns how many members moved."""
    members = check_role_delete(actor, role, replacement)
    for membership in members:
        membership.role = replacement
        audit.record(
            "membership.updated",
            organization_id=membership.organization_id,
            target=membership,
            actor=actor,
            details={
                "user": membership.user.email,
                "changes": {"role": {"before": role.name, "after": replacement.name}},
                "reason": f"role {role.name} deleted",
                "via": via,
            },
        )
    db.session.flush()
    # Per-role FlexxAgent settings of the role go with it (foreign key cascade): say so.
    settings_removed = db.session.execute(
        select(func.count())
        .select_from(AgentSettingValue)
        .where(AgentSettingValue.role_id == role.id)
    ).scalar_one()
    details = {
        "role": describe_role(role),
        "replacement": replacement.name if members else None,
        "members_moved": len(members),
        "role_settings_removed": settings_removed,
        "via": via,
    }
    audit.record(
        "role.deleted",
        organization_id=role.organization_id,
        target=role,
        actor=actor,
        details=details,
    )
    db.session.delete(role)
    db.session.flush()
    return len(members)


def assign_role(actor: User, membership: Membership, role: Role, *, via: str = "portal") -> bool:
    """Give `membership` the role `role`; False if it already had it."""
    if role.organization_id != membership.organization_id:
        raise RoleChangeRefused("No such role.", 404)
    if role.id == membership.role_id:
        return False
    check_grant(actor, membership.organization_id, role, target=membership)
    before = membership.role.name
    membership.role = role
    db.session.flush()
    audit.record(
        "membership.updated",
        organization_id=membership.organization_id,
        target=membership,
        actor=actor,
        details={
            "user": membership.user.email,
            "changes": {"role": {"before": before, "after": role.name}},
            "via": via,
        },
    )
    return True
