"""Who may give which role, and change which role: the rules against escalation.

Nobody grants a role holding a permission they do not hold, changes their own role or the
permissions of the role they hold, or removes the last Organization Admin. Platform
admins are above organization roles, but the last-admin rule binds them too.

A role may be limited to chosen reporting groups; a limit is fewer rights. A member whose
own role is limited cannot grant an unlimited role or one covering groups outside their
limit, nor widen a role beyond it.

The changes themselves are in `app.people.roles`; the admin views call these checks
directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import Membership, ReportingGroup, Role, User
from app.people.permissions import ALL_PERMISSIONS, PERMISSIONS

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


class Keep:
    """Marker: the role's group limit is not being changed."""


KEEP = Keep()


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
    if not isinstance(groups, Keep):
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
    if isinstance(new_groups, Keep):
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
