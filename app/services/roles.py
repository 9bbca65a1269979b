"""Who may give which role, and change which role: the rules against escalation.

Nobody grants a role holding a permission they do not hold, changes their own role or the
permissions of the role they hold, or removes the last Organization Admin. Platform
admins are above organization roles, but the last-admin rule binds them too.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Membership, Role, User
from app.permissions import PERMISSIONS


class RoleChangeRefused(ValueError):
    """The change would escalate privileges or orphan the organization; says why."""


def _labels(perms) -> str:
    return "; ".join(f"{p} ({PERMISSIONS.get(p, p)})" for p in sorted(perms))


def _actor_permissions(actor: User, org_id: int) -> set[str] | None:
    """None for platform admins (no ceiling)."""
    if actor.is_platform_admin:
        return None
    membership = next((m for m in actor.memberships if m.organization_id == org_id), None)
    return set(membership.role.permissions) if membership else set()


def _org_admin_count(org_id: int) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(Membership)
        .join(Role, Membership.role_id == Role.id)
        .where(Membership.organization_id == org_id, Role.builtin_key == "org_admin")
    ).scalar_one()


def _check_ceiling(actor: User, org_id: int, perms, what: str) -> None:
    ceiling = _actor_permissions(actor, org_id)
    if ceiling is None:
        return
    missing = set(perms) - ceiling
    if missing:
        raise RoleChangeRefused(
            f"You cannot {what}: it holds permissions you do not have: {_labels(missing)}."
        )


def check_grant(actor: User, org_id: int, new_role: Role, target: Membership | None = None) -> None:
    """May `actor` give `new_role` (to a new member, or to `target`)?"""
    if target is not None and target.user_id == actor.id and not actor.is_platform_admin:
        raise RoleChangeRefused("You cannot change your own role; ask another admin.")
    _check_ceiling(actor, org_id, new_role.permissions, f"give the role {new_role.name}")
    if target is not None:
        _check_ceiling(
            actor,
            org_id,
            target.role.permissions,
            f"change the role of someone who is {target.role.name}",
        )
        if (
            target.role.builtin_key == "org_admin"
            and new_role.builtin_key != "org_admin"
            and _org_admin_count(org_id) <= 1
        ):
            raise RoleChangeRefused(
                "This is the last Organization Admin; make someone else Organization Admin first."
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
    )
    if target.role.builtin_key == "org_admin" and _org_admin_count(target.organization_id) <= 1:
        raise RoleChangeRefused(
            "This is the last Organization Admin; make someone else Organization Admin first."
        )


def check_role_edit(actor: User, role: Role, new_permissions) -> None:
    """May `actor` give `role` exactly `new_permissions`?"""
    if actor.is_platform_admin:
        return
    current = set(role.permissions if role.id is not None else ())
    added = set(new_permissions) - current
    changed = added or current - set(new_permissions)
    mine = next((m for m in actor.memberships if m.organization_id == role.organization_id), None)
    if changed and role.id is not None and mine is not None and mine.role_id == role.id:
        raise RoleChangeRefused("You cannot change the permissions of your own role.")
    _check_ceiling(
        actor, role.organization_id, added, f"give {role.name or 'this role'} those permissions"
    )
