"""Workspaces: devices, a device's page, and user sessions across devices."""

from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy.orm import joinedload, selectinload

from app.agent_settings.resolution import effective_settings
from app.assistance.rules import live_assistances
from app.core.listing import FilterError
from app.fleet.checkin import last_seen
from app.fleet.orders import recent_orders
from app.fleet.queries import devices_page, filter_choices, sessions_page
from app.models import Device
from app.portal import bp
from app.tenancy import (
    current_membership,
    current_org,
    get_visible_device_or_404,
    permission_required,
    visible_group_ids,
)


def _page_or_400(build):
    try:
        return build()
    except FilterError as exc:
        abort(400, description=exc.message)


@bp.route("/workspaces/")
@bp.route("/workspaces/devices")
@permission_required("devices.view")
def devices():
    visible = visible_group_ids()
    page = _page_or_400(lambda: devices_page(current_org.id, request.args, visible_groups=visible))
    return render_template(
        "workspaces/devices.html",
        page=page,
        live_by_device=live_assistances(d.id for d in page.items),
        args=request.args,
        choices=filter_choices(current_org.id, visible_groups=visible),
    )


@bp.route("/workspaces/devices/<int:device_id>")
@permission_required("devices.view")
def device(device_id: int):
    device = get_visible_device_or_404(
        device_id, joinedload(Device.reporting_group), selectinload(Device.sessions)
    )
    seen = last_seen([device.id]).get(device.id)
    role = current_membership.role
    return render_template(
        "workspaces/device.html",
        device=device,
        seen=seen,
        orders=recent_orders(device.id),
        settings=effective_settings(device.reporting_group, role),
        role=role,
        live=live_assistances([device.id]).get(device.id),
    )


@bp.route("/workspaces/sessions")
@permission_required("devices.view")
def sessions():
    visible = visible_group_ids()
    page = _page_or_400(lambda: sessions_page(current_org.id, request.args, visible_groups=visible))
    return render_template(
        "workspaces/sessions.html",
        page=page,
        args=request.args,
        choices=filter_choices(current_org.id, visible_groups=visible),
    )
