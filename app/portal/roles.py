"""Portal → Settings → Roles (`roles.manage`) and → People (`roles.assign`).

Views parse the form, call `app.people.roles` (which holds every rule against
escalation) and render; a refusal shows the form again with the reason.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Membership, ReportingGroup, Role
from app.people.permissions import PERMISSIONS
from app.people.role_rules import RoleChangeRefused, check_can_change, grantable, members_of
from app.people.roles import assign_role, create_role, delete_role, update_role
from app.portal import bp
from app.tenancy import current_org, get_in_org_or_404, permission_required


def _actor():
    return current_user._get_current_object()


def _groups() -> list[ReportingGroup]:
    return list(
        db.session.execute(
            select(ReportingGroup)
            .where(ReportingGroup.organization_id == current_org.id)
            .order_by(ReportingGroup.name)
        ).scalars()
    )


def _roles() -> list[Role]:
    return list(
        db.session.execute(
            select(Role).where(Role.organization_id == current_org.id).order_by(Role.id)
        ).scalars()
    )


def _member_counts() -> dict[int, int]:
    rows = db.session.execute(
        select(Membership.role_id, func.count())
        .where(Membership.organization_id == current_org.id)
        .group_by(Membership.role_id)
    ).all()
    return dict(rows)


def _limit_labels(roles: list[Role]) -> dict[int, str | None]:
    """Role id -> the names of the groups it is limited to (None: all groups)."""
    names = {g.id: g.name for g in _groups()}
    return {
        r.id: None
        if r.group_limit is None
        else ", ".join(sorted(names[g] for g in r.group_limit if g in names)) or "no group"
        for r in roles
    }


def _posted_role() -> dict:
    """The role form as posted: name, permissions, and the group limit (None: all)."""
    group_ids = None
    if request.form.get("limit") == "groups":
        try:
            group_ids = {int(g) for g in request.form.getlist("group_ids")}
        except ValueError:
            abort(404)
    return {
        "name": request.form.get("name", ""),
        "permissions": request.form.getlist("permissions"),
        "group_ids": group_ids,
    }


def _role_form(role: Role | None, posted: dict | None, status: int = 200):
    if posted is None:
        posted = {
            "name": role.name if role else "",
            "permissions": sorted(role.permissions) if role else [],
            "group_ids": role.group_limit if role else None,
        }
    return render_template(
        "settings/role_form.html",
        role=role,
        form=posted,
        groups=_groups(),
        permissions=PERMISSIONS,
    ), status


def _refused(exc: RoleChangeRefused, render):
    db.session.rollback()
    if exc.status == 404:
        abort(404)
    flash(exc.message, "error")
    return render(exc.status)


@bp.route("/settings/roles")
@permission_required("roles.manage")
def roles():
    roles = _roles()
    return render_template(
        "settings/roles.html",
        roles=roles,
        counts=_member_counts(),
        limits=_limit_labels(roles),
    )


@bp.route("/settings/roles/new", methods=["GET", "POST"])
@permission_required("roles.manage")
def new_role():
    if request.method == "GET":
        return _role_form(None, None)
    posted = _posted_role()
    try:
        role = create_role(_actor(), current_org.id, **posted, via="portal")
        db.session.commit()
    except RoleChangeRefused as exc:
        return _refused(exc, lambda status: _role_form(None, posted, status))
    flash(_("Role %(name)s created.", name=role.name), "success")
    return redirect(url_for("portal.roles"))


@bp.route("/settings/roles/<int:role_id>", methods=["GET", "POST"])
@permission_required("roles.manage")
def edit_role(role_id: int):
    role = get_in_org_or_404(Role, role_id)
    if request.method == "GET":
        return _role_form(role, None)
    posted = _posted_role()
    try:
        changed = update_role(_actor(), role, **posted, via="portal")
        db.session.commit()
    except RoleChangeRefused as exc:
        return _refused(
            exc, lambda status: _role_form(get_in_org_or_404(Role, role_id), posted, status)
        )
    flash(
        _("Role %(name)s saved.", name=role.name) if changed else _("Nothing changed."), "success"
    )
    return redirect(url_for("portal.roles"))


@bp.route("/settings/roles/<int:role_id>/delete", methods=["GET", "POST"])
@permission_required("roles.manage")
def delete_role_page(role_id: int):
    role = get_in_org_or_404(Role, role_id)

    def page(status: int = 200):
        current = get_in_org_or_404(Role, role_id)
        others = [r for r in _roles() if r.id != current.id]
        return render_template(
            "settings/role_delete.html",
            role=current,
            members=members_of(current),
            replacements=others,
            refusals=grantable(_actor(), current_org.id, others),
        ), status

    if request.method == "GET":
        return page()
    replacement = None
    if request.form.get("replacement_id"):
        replacement = get_in_org_or_404(Role, request.form["replacement_id"])
    name = role.name
    try:
        moved = delete_role(_actor(), role, replacement, via="portal")
        db.session.commit()
    except RoleChangeRefused as exc:
        return _refused(exc, page)
    except IntegrityError:
        # Someone was given the role while we moved its members: nothing was deleted.
        db.session.rollback()
        flash(_("%(name)s was given to someone meanwhile; try again.", name=name), "error")
        return page(409)
    if moved:
        message = ngettext(
            "Role %(name)s deleted; %(num)s member now holds %(other)s.",
            "Role %(name)s deleted; %(num)s members now hold %(other)s.",
            moved,
            name=name,
            other=replacement.name,
        )
    else:
        message = _("Role %(name)s deleted.", name=name)
    flash(message, "success")
    return redirect(url_for("portal.roles"))


# --- People: who holds which role ------------------------------------------------------


def _members() -> list[Membership]:
    return list(
        db.session.execute(
            select(Membership)
            .options(joinedload(Membership.user))
            .where(Membership.organization_id == current_org.id)
            .order_by(Membership.id)
        )
        .unique()
        .scalars()
    )


def _members_page(status: int = 200):
    actor = _actor()
    roles = _roles()
    members = _members()
    locked = {}
    for m in members:
        # Members whose role the actor cannot change at all (themselves, stronger ones).
        try:
            check_can_change(actor, m)
        except RoleChangeRefused as exc:
            locked[m.id] = exc.message
    return render_template(
        "settings/members.html",
        members=members,
        roles=roles,
        refusals=grantable(actor, current_org.id, roles),
        locked=locked,
        limits=_limit_labels(roles),
    ), status


@bp.route("/settings/people")
@permission_required("roles.assign")
def members():
    return _members_page()


@bp.route("/settings/people/<int:membership_id>/role", methods=["POST"])
@permission_required("roles.assign")
def assign_member_role(membership_id: int):
    membership = get_in_org_or_404(Membership, membership_id)
    role = get_in_org_or_404(Role, request.form.get("role_id"))
    email = membership.user.email
    try:
        changed = assign_role(_actor(), membership, role, via="portal")
        db.session.commit()
    except RoleChangeRefused as exc:
        return _refused(exc, _members_page)
    flash(
        _("%(email)s is now %(role)s.", email=email, role=role.name)
        if changed
        else _("Nothing changed."),
        "success",
    )
    return redirect(url_for("portal.members"))
