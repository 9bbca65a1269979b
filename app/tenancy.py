"""The current organization and the org-scoped lookups every view goes through.

A row of another organization is indistinguishable from a missing row: 404.
"""

from __future__ import annotations

from functools import wraps
from typing import TypeVar

from flask import abort, g, session
from flask_login import current_user
from sqlalchemy import select
from werkzeug.local import LocalProxy

from app.core.listing import MAX_ID
from app.extensions import db
from app.models import Device, Membership, Organization, ReportingGroup

T = TypeVar("T")

ORG_SESSION_KEY = "org_id"


def available_memberships() -> list[Membership]:
    """The user's memberships this session may act in (SSO sessions: their organization
    only; password sessions: organizations that allow passwords)."""
    if not current_user.is_authenticated:
        return []
    from app.security import current_session_access

    access = current_session_access()
    memberships = current_user.memberships
    if access is None:  # not a browser session (API token, CLI): scoped elsewhere
        return memberships
    return [m for m in memberships if m.organization_id in access.org_ids]


def _load_membership() -> Membership | None:
    if "membership" in g:
        return g.membership
    membership = None
    if current_user.is_authenticated:
        memberships = available_memberships()
        wanted = session.get(ORG_SESSION_KEY)
        membership = next((m for m in memberships if m.organization_id == wanted), None)
        if membership is None and memberships:
            membership = min(memberships, key=lambda m: m.organization_id)
            session[ORG_SESSION_KEY] = membership.organization_id
    g.membership = membership
    return membership


current_membership: Membership | None = LocalProxy(_load_membership)  # type: ignore[assignment]


def get_current_org() -> Organization | None:
    membership = _load_membership()
    return membership.organization if membership else None


current_org: Organization | None = LocalProxy(get_current_org)  # type: ignore[assignment]


def switch_org(org_id: int) -> bool:
    """Make `org_id` the current organization if the user is a member of it."""
    if not any(m.organization_id == org_id for m in available_memberships()):
        return False
    session[ORG_SESSION_KEY] = org_id
    g.pop("membership", None)
    return True


def has_permission(permission: str) -> bool:
    membership = _load_membership()
    return membership is not None and membership.role.has(permission)


def visible_group_ids() -> frozenset[int] | None:
    """Reporting groups the current member may see and act on (devices, user sessions,
    assistances); None means all of the organization's groups. A role limited to chosen
    groups narrows this; someone with no membership here sees no group."""
    membership = _load_membership()
    if membership is None:
        return frozenset()
    return membership.role.group_limit


def can_see_group(group_id: int) -> bool:
    """May the current member see and act on the devices of reporting group `group_id`?"""
    visible = visible_group_ids()
    return visible is None or group_id in visible


def get_group_preview_or_404(group_id: object, *options) -> ReportingGroup:
    """A reporting group whose effective FlexxAgent settings the member may preview, or
    404. The preview is device-facing (why an assistance type is unavailable): operators
    see it for their groups only; settings editors, who configure every group, for all."""
    group = get_in_org_or_404(ReportingGroup, group_id, *options)
    editor = has_permission("product.configure") or has_permission("group.configure")
    if not editor and not can_see_group(group.id):
        abort(404)
    return group


def get_visible_device_or_404(device_id: object, *options) -> Device:
    """A device of the current organization in a group the member may see, or 404 (a
    device outside the member's groups is as unknown as another tenant's)."""
    device = get_in_org_or_404(Device, device_id, *options)
    if not can_see_group(device.reporting_group_id):
        abort(404)
    return device


def get_in_org_or_404(model: type[T], ident: object, *options) -> T:
    """Load `model` by id within the current organization, or 404. `options` are loader
    options (e.g. joinedload) for the same query."""
    org = get_current_org()
    if org is None:
        abort(404)
    try:
        ident = int(ident)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        abort(404)
    if not 1 <= ident <= MAX_ID:  # no such row, and beyond what the database can compare
        abort(404)
    stmt = select(model).where(model.id == ident, model.organization_id == org.id)  # type: ignore[attr-defined]
    row = db.session.execute(stmt.options(*options)).unique().scalar_one_or_none()
    if row is None:
        abort(404)
    return row


def permission_required(*permissions: str):
    """View decorator: signed in, a member of the current organization, holding at least
    one of `permissions` (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                from app.extensions import login_manager

                return login_manager.unauthorized()
            if not any(has_permission(p) for p in permissions):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
