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

from app.extensions import db
from app.models import Membership, Organization

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


def visible_group_ids() -> set[int] | None:
    """Reporting groups the current member may see and act on; None means all of the
    organization's groups. (Roles limited to chosen groups narrow this.)"""
    return None


def can_see_group(group_id: int) -> bool:
    visible = visible_group_ids()
    return visible is None or group_id in visible


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
