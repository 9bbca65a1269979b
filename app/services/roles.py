"""Who may give which role, and change which role: the rules against escalation.

Nobody grants a role holding a permission they do not hold, changes their own role or the
permissions of the role they hold, or removes the last Organization Admin. Platform
admins are above organization roles, but the last-admin rule binds them too.

A role may be limited to chosen reporting groups; a limit is fewer rights. A member whose
own role is limited cannot grant an unlimited role or one covering groups outside their
limit, nor widen a role beyond it.

The functions below the checks (`create_role`, `update_role`, `delete_role`,
`assign_role`) are the one way the portal and the API change roles; the admin views call
the checks directly. Each change is audited in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from app import audit
from app.extensions import db
from app.models import Membership, ReportingGroup, Role, User
from app.models.agent_setting import AgentSettingValue
from app.permissions import ALL_PERMISSIONS, PERMISSIONS

ROLE_NAME_MAX = 80
# Permissions that only make sense for the whole organization: a role holding one cannot
# be limited to reporting groups (it manages the groups, enrollment and the admin views).
ORGANIZATION_WIDE_PERMISSIONS = frozenset({"org.manage"})


class RoleChangeRefused(ValueError):
    """The change would escalate privileges, orphan the organization, or is invalid; the
    message says why. `status` is the HTTP status that fits (403 by default)."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class _Keep:
    """Marker: the role's group limit is not being changed."""


KEEP = _Keep()


@dataclass(frozen=True)
class Ceiling:
    """What an actor may hand out: None means no ceiling (platform admins have neither;
    a member of an unlimited role has no group ceiling)."""

    permissions: frozenset[str] | None
    groups: frozenset[int] | None


def _labels(perms) -> str:
    return "; ".join(f"{p} ({PERMISSIONS.get(p, p)})" for p in sorted(perms))


def role_group_names(ids: Iterable[int]) -> str:
    """The groups' names, comma-separated (one query)."""
    ids = set(ids)
    if not ids:
        return "no reporting group"
    names = db.session.execute(
        select(ReportingGroup.name).where(ReportingGroup.id.in_(ids)).order_by(ReportingGroup.name)
    ).scalars()
    return ", ".join(names)


def _membership(actor: User, org_id: int) -> Membership | None:
    return next((m for m in actor.memberships if m.organization_id == org_id), None)


def actor_ceiling(actor: User, org_id: int) -> Ceiling:
    if actor.is_platform_admin:
        return Ceiling(None, None)
    membership = _membership(actor, org_id)
    if membership is None:
        return Ceiling(frozenset(), frozenset())
    return Ceiling(frozenset(membership.role.permissions), membership.role.group_limit)


def _actor_permissions(actor: User, org_id: int) -> set[str] | None:
    """None for platform admins (no ceiling)."""
    perms = actor_ceiling(actor, org_id).permissions
    return None if perms is None else set(perms)


def _org_admin_count(org_id: int) -> int:
    # Lock the admins' memberships (PostgreSQL): two admins demoting each other at the
    # same time cannot both see "two admins" and leave none.
    ids = db.session.execute(
        select(Membership.id)
        .join(Role, Membership.role_id == Role.id)
        .where(Membership.organization_id == org_id, Role.builtin_key == "org_admin")
        .with_for_update(of=Membership)
    ).scalars()
    return len(list(ids))


def _check_groups(ceiling: Ceiling, groups: frozenset[int] | None, what: str) -> None:
    if ceiling.groups is None:
        return
    mine = role_group_names(ceiling.groups)
    if groups is None:
        raise RoleChangeRefused(
            f"You cannot {what}: it covers every reporting group, and your own role is "
            f"limited to {mine}."
        )
    outside = groups - ceiling.groups
    if outside:
        raise RoleChangeRefused(
            f"You cannot {what}: it covers reporting groups outside your own limit "
            f"({mine}): {role_group_names(outside)}."
        )


def _check_ceiling(actor: User, org_id: int, perms, what: str, groups=KEEP) -> None:
    """`perms` (and, unless KEEP, the group limit `groups`) must be within what `actor`
    holds in the organization."""
    ceiling = actor_ceiling(actor, org_id)
    if ceiling.permissions is None:
        return
    missing = set(perms) - ceiling.permissions
    if missing:
        raise RoleChangeRefused(
            f"You cannot {what}: it holds permissions you do not have: {_labels(missing)}."
        )
    if not isinstance(groups, _Keep):
        _check_groups(ceiling, groups, what)


def check_can_change(actor: User, target: Membership) -> None:
    """May `actor` change `target`'s role at all (whatever the new role)?"""
    if target.user_id == actor.id and not actor.is_platform_admin:
        raise RoleChangeRefused("You cannot change your own role; ask another admin.")
    _check_ceiling(
        actor,
        target.organization_id,
        target.role.permissions,
        f"change the role of someone who is {target.role.name}",
        target.role.group_limit,
    )


def check_grant(actor: User, org_id: int, new_role: Role, target: Membership | None = None) -> None:
    """May `actor` give `new_role` (to a new member, or to `target`)?"""
    if target is not None:
        check_can_change(actor, target)
    _check_ceiling(
        actor,
        org_id,
        new_role.permissions,
        f"give the role {new_role.name}",
        new_role.group_limit,
    )
    if (
        target is not None
        and target.role.builtin_key == "org_admin"
        and new_role.builtin_key != "org_admin"
        and _org_admin_count(org_id) <= 1
    ):
        raise RoleChangeRefused(
            "This is the last Organization Admin; make someone else Organization Admin first.",
            409,
        )


def check_removal(actor: User, target: Membership) -> None:
    """May `actor` remove `target` from its organization?"""
    if target.user_id == actor.id and not actor.is_platform_admin:
        raise RoleChangeRefused("You cannot remove yourself from the organization.")
    _check_ceiling(
        actor,
        target.organization_id,
        target.role.permissions,
        f"remove someone who is {target.role.name}",
        target.role.group_limit,
    )
    if target.role.builtin_key == "org_admin" and _org_admin_count(target.organization_id) <= 1:
        raise RoleChangeRefused(
            "This is the last Organization Admin; make someone else Organization Admin first.",
            409,
        )


def _widens(old: frozenset[int] | None, new: frozenset[int] | None) -> bool:
    if old is None:
        return False
    return new is None or bool(new - old)


def check_role_edit(actor: User, role: Role, new_permissions, new_groups=KEEP) -> None:
    """May `actor` give `role` exactly `new_permissions` (and the group limit
    `new_groups`: a set of group ids, None for all groups, KEEP for unchanged)?"""
    new_permissions = set(new_permissions)
    is_new = role.id is None
    old_groups = frozenset() if is_new else role.group_limit
    if isinstance(new_groups, _Keep):
        new_groups = None if is_new else old_groups
    else:
        new_groups = None if new_groups is None else frozenset(new_groups)
    if role.builtin_key == "org_admin":
        if new_permissions != ALL_PERMISSIONS:
            raise RoleChangeRefused("The Organization Admin role keeps every permission.", 400)
        if new_groups is not None:
            raise RoleChangeRefused(
                "The Organization Admin role covers every reporting group; it cannot be limited.",
                400,
            )
    wide = new_permissions & ORGANIZATION_WIDE_PERMISSIONS
    if new_groups is not None and wide:
        raise RoleChangeRefused(
            f"A role holding {_labels(wide)} manages the whole organization and cannot be "
            "limited to reporting groups; remove that permission or the limit.",
            400,
        )
    if actor.is_platform_admin:
        return
    current = set() if is_new else set(role.permissions)
    added = new_permissions - current
    widened = is_new or _widens(old_groups, new_groups)
    changed = added or current - new_permissions or (not is_new and new_groups != old_groups)
    mine = _membership(actor, role.organization_id)
    if changed and not is_new and mine is not None and mine.role_id == role.id:
        raise RoleChangeRefused("You cannot change the permissions of your own role.")
    what = f"give {role.name or 'this role'} those permissions"
    _check_ceiling(actor, role.organization_id, added, what)
    if added:
        # New permissions reach every group the role covers.
        _check_ceiling(actor, role.organization_id, (), what, new_groups)
    if widened and not is_new:
        # More groups give the role's holders all its permissions on more devices.
        _check_ceiling(
            actor,
            role.organization_id,
            new_permissions,
            f"widen {role.name} to those reporting groups",
            new_groups,
        )


# --- changes ------------------------------------------------------------------------


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
        group_ids
        if isinstance(group_ids, _Keep)
        else _clean_groups(role.organization_id, group_ids)
    )
    check_role_edit(actor, role, permissions, groups)
    _check_name_free(role.organization_id, name, role.id)
    before = describe_role(role)
    role.name = name
    role.set_permissions(permissions)
    if not isinstance(groups, _Keep):
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


def members_of(role: Role) -> list[Membership]:
    return list(
        db.session.execute(
            select(Membership).where(Membership.role_id == role.id).order_by(Membership.id)
        ).scalars()
    )


def check_role_delete(actor: User, role: Role, replacement: Role | None = None) -> list[Membership]:
    """May `actor` delete `role`, moving its members to `replacement`? Returns the
    members that would move."""
    if role.is_builtin:
        raise RoleChangeRefused(f"{role.name} is a built-in role and cannot be deleted.", 409)
    members = members_of(role)
    if not members:
        return members
    if replacement is None:
        raise RoleChangeRefused(
            f"{role.name} is held by {len(members)} member(s); choose the role they get "
            "instead (Portal → Settings → Roles).",
            409,
        )
    if replacement.id == role.id or replacement.organization_id != role.organization_id:
        raise RoleChangeRefused("Choose another role of this organization as replacement.", 400)
    if not actor.is_platform_admin and any(m.user_id == actor.id for m in members):
        raise RoleChangeRefused(f"You hold {role.name} yourself; ask another admin to delete it.")
    for membership in members:
        # Each move is a grant: the same rules as changing one member's role.
        check_grant(actor, role.organization_id, replacement, target=membership)
    return members


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


def grantable(actor: User, org_id: int, roles: Iterable[Role]) -> dict[int, str | None]:
    """For each role, None if `actor` may give it, else why not (for disabled choices)."""
    reasons: dict[int, str | None] = {}
    for role in roles:
        try:
            _check_ceiling(
                actor, org_id, role.permissions, f"give the role {role.name}", role.group_limit
            )
        except RoleChangeRefused as exc:
            reasons[role.id] = exc.message
        else:
            reasons[role.id] = None
    return reasons
