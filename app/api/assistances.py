"""Remote assistances through the operator API."""

from __future__ import annotations

from flask import Response, abort, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.api import bp
from app.api.auth import require
from app.api.schemas import (
    ApproveBody,
    AssistanceEndBody,
    AssistanceStartBody,
    DenyBody,
    ToolLaunchBody,
)
from app.assistance import approvals, files
from app.assistance.operator import download, end, launch_tool, reveal
from app.assistance.queries import assistances_page
from app.assistance.rules import AssistanceRefused, refuse
from app.assistance.start import start_assistance
from app.errors import json_error
from app.extensions import db
from app.models import Assistance
from app.security import no_store
from app.tenancy import (
    can_see_group,
    current_membership,
    current_org,
    get_in_org_or_404,
    visible_group_ids,
)
from app.web_input import json_object, parse


@bp.errorhandler(AssistanceRefused)
def assistance_refused(exc: AssistanceRefused):
    db.session.rollback()
    return json_error(exc.refusal.status, exc.refusal.message, exc.refusal.code)


def _assistance(assistance_id: int) -> Assistance:
    assistance = get_in_org_or_404(
        Assistance, assistance_id, joinedload(Assistance.device), joinedload(Assistance.operator)
    )
    if not can_see_group(assistance.device.reporting_group_id):
        abort(404)
    return assistance


@bp.post("/assistances")
def create_assistance():
    # No permission decorator: lacking ra.start is a refusal of the start rules
    # (ra_not_permitted, computed once in rules.check), after the device lookup (404 for
    # a device outside the caller's groups).
    body = parse(AssistanceStartBody)
    membership = current_membership._get_current_object()
    if membership is None:  # signed in, but in no organization: no device to see
        abort(404)
    assistance = start_assistance(
        current_user._get_current_object(),
        membership,
        requested_type=body.type,
        device_id=body.device_id,
        session_id=body.session_id,
        operator_device_id=body.operator_device_id,
        reason=body.reason,
        ticket=body.ticket,
    )
    return jsonify(assistance.as_json()), 202


@bp.get("/assistances")
@require("ra.start", "ra.manage", "devices.view")
def list_assistances():
    # FilterError becomes a 400 naming the field (app.errors).
    page = assistances_page(
        current_org.id,
        request.args,
        visible_groups=visible_group_ids(),
        user_id=current_user.id,
    )
    return jsonify(page.as_json([a.as_json() for a in page.items]))


@bp.get("/assistances/<int:assistance_id>")
@require("ra.start", "ra.manage", "devices.view")
def get_assistance(assistance_id: int):
    return jsonify(_assistance(assistance_id).as_json())


@bp.post("/assistances/<int:assistance_id>/reveal")
@no_store
@require("ra.start")
def reveal_credentials(assistance_id: int):
    return jsonify(reveal(_assistance(assistance_id), current_user._get_current_object()))


@bp.get("/assistances/<int:assistance_id>/activation-file")
@no_store
@require("ra.start")
def activation_file(assistance_id: int):
    assistance = _assistance(assistance_id)
    content = download(assistance, current_user._get_current_object())
    return Response(
        content,
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{files.filename(assistance)}"'},
    )


@bp.post("/assistances/<int:assistance_id>/end")
@require("ra.start", "ra.manage")
def end_assistance(assistance_id: int):
    # The initiator, or an ra.manage holder (operator.may_end); others get not_initiator.
    body = parse(AssistanceEndBody, json_object(optional=True))
    assistance = end(
        _assistance(assistance_id),
        current_user._get_current_object(),
        current_membership._get_current_object(),
        body.revoke,
    )
    return jsonify(assistance.as_json())


@bp.post("/assistances/<int:assistance_id>/tools")
@require("ra.start")
def launch_tools(assistance_id: int):
    tool = parse(ToolLaunchBody).tool
    launch_tool(
        _assistance(assistance_id),
        current_user._get_current_object(),
        current_membership._get_current_object(),
        tool,
    )
    return jsonify({"launched": tool}), 202


@bp.get("/approvals")
@require("ra.approve")
def list_approvals():
    """Requests waiting for the caller's decision: the groups their role sees, never
    their own."""
    items = approvals.pending(current_membership._get_current_object())
    return jsonify({"items": [a.as_json() for a in items], "total": len(items)})


@bp.post("/assistances/<int:assistance_id>/approve")
@require("ra.approve")
def approve_assistance(assistance_id: int):
    note = parse(ApproveBody, json_object(optional=True)).note
    assistance = approvals.approve(
        _assistance(assistance_id),
        current_user._get_current_object(),
        current_membership._get_current_object(),
        note.strip(),
    )
    return jsonify(assistance.as_json())


@bp.post("/assistances/<int:assistance_id>/deny")
@require("ra.approve")
def deny_assistance(assistance_id: int):
    reason = parse(DenyBody).reason.strip()
    if not reason:
        raise refuse("invalid_request", _("Say why the request is denied."), 400)
    assistance = approvals.deny(
        _assistance(assistance_id),
        current_user._get_current_object(),
        current_membership._get_current_object(),
        reason,
    )
    return jsonify(assistance.as_json())
