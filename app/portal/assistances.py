"""Workspaces → Operations → Remote Assistance: start, follow live, reveal, download, end."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.assistance import approvals, files
from app.assistance.operator import download, end, launch_tool, may_end, reveal, tools_refusal
from app.assistance.queries import assistances_page
from app.assistance.rules import AssistanceRefused
from app.assistance.start import (
    TOOLS,
    availability,
    governance,
    load_device,
    operator_device_of,
    start_assistance,
)
from app.core.listing import int_arg
from app.extensions import db
from app.models import Assistance, Device, DeviceSession, OperatorDevice
from app.models.assistance import STATES
from app.portal import bp
from app.portal.labels import label
from app.security import no_store
from app.tenancy import (
    can_see_group,
    current_membership,
    current_org,
    get_in_org_or_404,
    has_permission,
    permission_required,
    visible_group_ids,
)

PAGE_SIZE = 50


def _me():
    return current_user._get_current_object()


def _device(device_id: int) -> Device:
    try:
        return load_device(device_id, current_membership)
    except AssistanceRefused:
        abort(404)


def _assistance(assistance_id: int) -> Assistance:
    row = get_in_org_or_404(
        Assistance, assistance_id, joinedload(Assistance.device), joinedload(Assistance.operator)
    )
    if not can_see_group(row.device.reporting_group_id):
        abort(404)
    return row


@bp.route("/workspaces/devices/<int:device_id>/assist", methods=["GET", "POST"])
@login_required
def start_assist(device_id: int):
    # Whether the member may start is the start rules' decision (ra_not_permitted, with
    # its message), not a decorator's: only seeing the page needs devices.view or ra.start.
    if current_membership is None:
        abort(404)
    device = _device(device_id)
    may_view = has_permission("devices.view") or has_permission("ra.start")
    if request.method == "GET" and not may_view:
        abort(403)
    session = None
    if (session_id := int_arg(request.values, "session")) is not None:
        session = db.session.execute(
            select(DeviceSession).where(
                DeviceSession.id == session_id, DeviceSession.device_id == device.id
            )
        ).scalar_one_or_none()
        if session is None:
            abort(404)
    status, error = 200, None
    if request.method == "POST":
        try:
            assistance = start_assistance(
                _me(),
                current_membership._get_current_object(),
                requested_type=request.form.get("type", ""),
                device_id=None if session else device.id,
                session_id=session.id if session else None,
                reason=request.form.get("reason", ""),
                ticket=request.form.get("ticket", ""),
            )
        except AssistanceRefused as exc:
            if not may_view:  # the refusal, without the device's page
                abort(exc.refusal.status, description=exc.refusal.message)
            status, error = exc.refusal.status, exc.refusal
            device = _device(device_id)
        else:
            return redirect(url_for("portal.assistance_page", assistance_id=assistance.id))
    pickable = [s for s in device.sessions if s.state == "active"]
    if session is None and request.form.get("session", "").isdigit():
        session_key = next(
            (s.session_key for s in pickable if s.id == int(request.form["session"])), None
        )
    else:
        session_key = session.session_key if session else None
    options = availability(device, current_membership, session_key=session_key)
    available = [t for t, refusal in options.items() if refusal is None]
    wanted = request.form.get("type")
    return render_template(
        "workspaces/assist.html",
        device=device,
        session=session,
        pickable=pickable,
        error=error,
        options=options,
        available=available,
        chosen=wanted if wanted in available else next(iter(available), None),
        operator_device=operator_device_of(current_user.id, current_org.id),
        asks=governance(device, current_membership),
    ), status


@bp.route("/workspaces/assistances/<int:assistance_id>")
@permission_required("devices.view")
def assistance_page(assistance_id: int):
    a = _assistance(assistance_id)
    return render_template(
        "workspaces/assistance.html",
        a=a,
        may_decide=approvals.may_decide(a, current_membership),
        **_live_context(a),
    )


def _live_context(a: Assistance) -> dict:
    mine = a.operator_id == current_user.id
    return {
        "mine": mine,
        "may_end": a.is_live and may_end(a, _me(), current_membership),
        "tools": TOOLS,
        "tools_refusal": tools_refusal(a, current_membership) if mine else None,
    }


@bp.route("/workspaces/assistances/<int:assistance_id>/live")
@permission_required("devices.view")
def assistance_live(assistance_id: int):
    a = _assistance(assistance_id)
    return render_template("workspaces/_assistance_live.html", a=a, **_live_context(a))


@bp.route("/workspaces/assistances/<int:assistance_id>/reveal", methods=["POST"])
@no_store
@permission_required("ra.start")
def assistance_reveal(assistance_id: int):
    try:
        return jsonify(reveal(_assistance(assistance_id), _me()))
    except AssistanceRefused as exc:
        db.session.rollback()
        return jsonify({"error": exc.refusal.as_dict()}), exc.refusal.status


@bp.route("/workspaces/assistances/<int:assistance_id>/file")
@no_store
@permission_required("ra.start")
def assistance_file(assistance_id: int):
    a = _assistance(assistance_id)
    try:
        content = download(a, _me())
    except AssistanceRefused as exc:
        db.session.rollback()
        abort(exc.refusal.status, description=exc.refusal.message)
    return Response(
        content,
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{files.filename(a)}"'},
    )


@bp.route("/workspaces/assistances/<int:assistance_id>/end", methods=["GET", "POST"])
@permission_required("ra.start", "ra.manage")
def assistance_end(assistance_id: int):
    """GET: confirm ending (someone else's) assistance; POST: end or revoke it."""
    a = _assistance(assistance_id)
    back = "live" if request.values.get("back") == "live" else "page"
    if request.method == "GET":
        if not may_end(a, _me(), current_membership):
            abort(403)
        return render_template("workspaces/end_assistance.html", a=a, back=back)
    try:
        end(
            a,
            _me(),
            current_membership._get_current_object(),
            revoke=request.form.get("revoke") == "1",
        )
    except AssistanceRefused as exc:
        db.session.rollback()
        if exc.refusal.status == 403:  # not_initiator
            abort(403, description=exc.refusal.message)
        flash(exc.refusal.message, "error")
    else:
        if a.operator_id != current_user.id:
            owner = (a.operator.name or a.operator.email) if a.operator else _("an operator")
            flash(
                _(
                    "Ended the assistance of %(owner)s on %(device)s.",
                    owner=owner,
                    device=a.device.hostname,
                ),
                "success",
            )
    if back == "live":
        return redirect(url_for("portal.live_assistances"))
    return redirect(url_for("portal.assistance_page", assistance_id=assistance_id))


@bp.route("/workspaces/assistances/<int:assistance_id>/tools", methods=["POST"])
@permission_required("ra.start")
def assistance_tool(assistance_id: int):
    tool = request.form.get("tool", "")
    try:
        launch_tool(
            _assistance(assistance_id), _me(), current_membership._get_current_object(), tool
        )
        flash(_("%(tool)s launched on the device.", tool=label("tool", tool)), "success")
    except AssistanceRefused as exc:
        db.session.rollback()
        flash(exc.refusal.message, "error")
    return redirect(url_for("portal.assistance_page", assistance_id=assistance_id))


@bp.route("/workspaces/assistances")
@permission_required("devices.view")
def assistances():
    page = assistances_page(
        current_org.id, request.args, visible_groups=visible_group_ids(), user_id=current_user.id
    )
    return render_template(
        "workspaces/assistances.html",
        rows=page.items,
        total=page.total,
        page=page.page,
        pages=page.pages,
        args=request.args,
        states=STATES,
    )


@bp.route("/workspaces/live-assistances")
@permission_required("ra.manage")
def live_assistances():
    """Workspaces → Live assistances: every live assistance in the lead's groups, with a
    force-end for each."""
    args = {**request.args, "live": "1"}
    page = assistances_page(
        current_org.id, args, visible_groups=visible_group_ids(), user_id=current_user.id
    )
    return render_template("workspaces/live_assistances.html", page=page, args=request.args)


@bp.route("/profile/operator-device", methods=["POST"])
@permission_required("devices.view")
def set_operator_device():
    from app import audit

    hostname = request.form.get("hostname", "").strip()
    existing = db.session.execute(
        select(OperatorDevice).where(
            OperatorDevice.user_id == current_user.id,
            OperatorDevice.organization_id == current_org.id,
        )
    ).scalar_one_or_none()
    if not hostname:
        if existing is not None:
            db.session.delete(existing)
            audit.record(
                "operator_device.cleared",
                organization_id=current_org.id,
                target=("User", current_user.id),
            )
        db.session.commit()
        flash(_("Operator device cleared: activation files will be .exe."), "success")
        return redirect(url_for("portal.profile"))
    matches = [
        d
        for d in db.session.execute(
            select(Device).where(
                Device.organization_id == current_org.id,
                func.lower(Device.hostname) == hostname.lower(),
            )
        ).scalars()
        if can_see_group(d.reporting_group_id)
    ]
    if len(matches) != 1:
        flash(
            _(
                "No single device named %(host)s in %(org)s: check the hostname in Workspaces.",
                host=hostname,
                org=current_org.name,
            ),
            "error",
        )
        return redirect(url_for("portal.profile")), 303
    device = matches[0]
    if existing is None:
        existing = OperatorDevice(
            user_id=current_user.id, organization_id=current_org.id, device_id=device.id
        )
        db.session.add(existing)
    existing.device_id = device.id
    audit.record(
        "operator_device.registered",
        organization_id=current_org.id,
        target=device,
        details={"hostname": device.hostname},
    )
    db.session.commit()
    flash(
        _(
            "%(host)s is your operator device: activation files will be .flxra.",
            host=device.hostname,
        ),
        "success",
    )
    return redirect(url_for("portal.profile"))
