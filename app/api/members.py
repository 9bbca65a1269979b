"""Roles and who holds them: list roles, list members, change a member's role."""

from __future__ import annotations

from flask import jsonify
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.api import bp
from app.api.auth import require
from app.api.schemas import MemberRoleBody
from app.errors import json_error
from app.extensions import db
from app.models import Membership, Role
from app.people.role_rules import RoleChangeRefused
from app.people.roles import assign_role, describe_role
from app.tenancy import current_org, get_in_org_or_404
from app.web_input import parse

REFUSAL_CODES = {400: "invalid", 403: "role_change_refused", 409: "role_change_conflict"}


@bp.errorhandler(RoleChangeRefused)
def role_change_refused(exc: RoleChangeRefused):
    db.session.rollback()
    if exc.status == 404:
        return json_error(404, "Not Found")
    return json_error(exc.status, exc.message, REFUSAL_CODES.get(exc.status))


def _member_json(m: Membership) -> dict:
    return {
        "id": m.id,
        "user": {"id": m.user.id, "email": m.user.email, "name": m.user.name},
        "role": {"id": m.role.id, "name": m.role.name},
    }


@bp.get("/roles")
@require("roles.manage", "roles.assign")
def list_roles():
    roles = db.session.execute(
        select(Role).where(Role.organization_id == current_org.id).order_by(Role.id)
    ).scalars()
    counts = dict(
        db.session.execute(
            select(Membership.role_id, func.count())
            .where(Membership.organization_id == current_org.id)
            .group_by(Membership.role_id)
        ).all()
    )
    return jsonify({"items": [{**describe_role(r), "members": counts.get(r.id, 0)} for r in roles]})


@bp.get("/members")
@require("roles.assign")
def list_members():
    members = (
        db.session.execute(
            select(Membership)
            .options(joinedload(Membership.user))
            .where(Membership.organization_id == current_org.id)
            .order_by(Membership.id)
        )
        .unique()
        .scalars()
    )
    return jsonify({"items": [_member_json(m) for m in members]})


@bp.put("/members/<int:membership_id>/role")
@require("roles.assign")
def put_member_role(membership_id: int):
    membership = get_in_org_or_404(Membership, membership_id)
    # The body's one field is named in every refusal, even of a body that is no object.
    role_id = parse(MemberRoleBody, code="invalid_body", field_of=lambda _loc: "role_id").role_id
    role = get_in_org_or_404(Role, role_id)
    changed = assign_role(current_user._get_current_object(), membership, role, via="api")
    db.session.commit()
    return jsonify({**_member_json(membership), "changed": changed})
