"""Remote assistances through the operator API."""

from __future__ import annotations

from flask import Response, abort, jsonify, request
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.api import bp
from app.api.auth import require
from app.assistance import files
from app.assistance.operator import download, end, launch_tool, reveal
from app.assistance.rules import AssistanceRefused
from app.assistance.start import start_assistance
from app.errors import json_error
from app.extensions import db
from app.models import Assistance
from app.tenancy import can_see_group, current_membership, get_in_org_or_404


@bp.errorhandler(AssistanceRefused)
def assistance_refused(exc: AssistanceRefused):
    db.session.rollback()
    return json_error(exc.refusal.status, exc.refusal.message, exc.refusal.code)


def _optional_id(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise AssistanceRefused(_invalid(f"{name} must be an integer id"))
    return value


def _invalid(message: str):
    from app.assistance.rules import Refusal

    return Refusal("invalid_request", message, 400)


def _assistance(assistance_id: int) -> Assistance:
    assistance = get_in_org_or_404(
        Assistance, assistance_id, joinedload(Assistance.device), joinedload(Assistance.operator)
    )
    if not can_see_group(assistance.device.reporting_group_id):
        abort(404)
    return assistance


@bp.post("/assistances")
@require("ra.start")
def create_assistance():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise AssistanceRefused(
            _invalid("Send a JSON object with device_id or session_id, and type.")
        )
    requested = body.get("type")
    if not isinstance(requested, str):
        raise AssistanceRefused(_invalid("type is interactive, unattended or dynamic"))
    device_id, session_id = _optional_id(body, "device_id"), _optional_id(body, "session_id")
    if (device_id is None) == (session_id is None):
        raise AssistanceRefused(_invalid("Give exactly one of device_id and session_id."))
    assistance = start_assistance(
        current_user._get_current_object(),
        current_membership._get_current_object(),
        requested_type=requested,
        device_id=device_id,
        session_id=session_id,
        operator_device_id=_optional_id(body, "operator_device_id"),
    )
    return jsonify(assistance.as_json()), 202


@bp.get("/assistances/<int:assistance_id>")
@require("ra.start", "devices.view")
def get_assistance(assistance_id: int):
    return jsonify(_assistance(assistance_id).as_json())


@bp.post("/assistances/<int:assistance_id>/reveal")
@require("ra.start")
def reveal_credentials(assistance_id: int):
    return jsonify(reveal(_assistance(assistance_id), current_user._get_current_object()))


@bp.get("/assistances/<int:assistance_id>/activation-file")
@require("ra.start")
def activation_file(assistance_id: int):
    assistance = _assistance(assistance_id)
    content = download(assistance, current_user._get_current_object())
    return Response(
        content,
        mimetype="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{files.filename(assistance)}"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/assistances/<int:assistance_id>/end")
@require("ra.start")
def end_assistance(assistance_id: int):
    revoke = bool((request.get_json(silent=True) or {}).get("revoke", False))
    assistance = end(_assistance(assistance_id), current_user._get_current_object(), revoke)
    return jsonify(assistance.as_json())


@bp.post("/assistances/<int:assistance_id>/tools")
@require("ra.start")
def launch_tools(assistance_id: int):
    body = request.get_json(silent=True)
    tool = body.get("tool") if isinstance(body, dict) else None
    if not isinstance(tool, str):
        raise AssistanceRefused(_invalid("tool is one of cmd, powershell, regedit, taskmgr"))
    launch_tool(
        _assistance(assistance_id),
        current_user._get_current_object(),
        current_membership._get_current_object(),
        tool,
    )
    return jsonify({"launched": tool}), 202
