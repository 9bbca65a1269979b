"""Devices and user sessions (read-only), within the reporting groups the caller may see."""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy.orm import joinedload, selectinload

from app.api import bp
from app.api.auth import require
from app.assistance.start import availability, governance
from app.fleet.checkin import last_seen
from app.fleet.queries import device_json, devices_page, session_json, sessions_page
from app.models import Device
from app.tenancy import (
    current_membership,
    current_org,
    get_visible_device_or_404,
    visible_group_ids,
)


@bp.get("/devices")
@require("devices.view")
def list_devices():
    page = devices_page(current_org.id, request.args, visible_groups=visible_group_ids())
    return jsonify(page.as_json([device_json(d, page.last_seen.get(d.id)) for d in page.items]))


@bp.get("/devices/<int:device_id>")
@require("devices.view")
def get_device(device_id: int):
    device = get_visible_device_or_404(
        device_id, joinedload(Device.reporting_group), selectinload(Device.sessions)
    )
    body = device_json(device, last_seen([device.id]).get(device.id))
    asks = governance(device, current_membership)
    body["remote_assistance"] = {
        ra_type: {
            "available": refusal is None,
            **asks,
            **({"code": refusal.code, "message": refusal.message} if refusal else {}),
        }
        for ra_type, refusal in availability(device, current_membership).items()
    }
    body["sessions"] = [
        {
            "id": s.id,
            "session_key": s.session_key,
            "username": s.username,
            "state": s.state,
            "kind": s.kind,
        }
        for s in device.sessions
    ]
    return jsonify(body)


@bp.get("/sessions")
@require("devices.view")
def list_sessions():
    page = sessions_page(current_org.id, request.args, visible_groups=visible_group_ids())
    return jsonify(page.as_json([session_json(s) for s in page.items]))
