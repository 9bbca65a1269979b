"""Workspaces → Approvals: requests waiting for the approver's decision (a page that stays
current, a count for the badge), and approve / deny from there or the assistance page."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.assistance import approvals
from app.assistance.rules import AssistanceRefused
from app.assistance.start import REASON_MAX
from app.extensions import db
from app.portal import bp
from app.portal.assistances import _assistance
from app.tenancy import current_membership, permission_required


@bp.route("/workspaces/approvals")
@permission_required("ra.approve")
def approvals_page():
    return render_template("workspaces/approvals.html", rows=approvals.pending(current_membership))


@bp.route("/workspaces/approvals/list")
@permission_required("ra.approve")
def approvals_list():
    """The list alone, for the page to refresh in place."""
    return render_template(
        "workspaces/_approvals_list.html", rows=approvals.pending(current_membership)
    )


@bp.route("/workspaces/approvals/count")
@login_required
def approvals_count():
    """How many requests wait for the signed-in member (0 without ra.approve)."""
    membership = current_membership._get_current_object()
    return jsonify({"count": approvals.pending_count(membership)})


def _back(assistance_id: int):
    if request.form.get("back") == "assistance":
        return redirect(url_for("portal.assistance_page", assistance_id=assistance_id))
    return redirect(url_for("portal.approvals_page"))


def _text(name: str) -> str | None:
    text = request.form.get(name, "").strip()
    if len(text) > REASON_MAX:
        flash(_("Keep it under %(limit)s characters.", limit=REASON_MAX), "error")
        return None
    return text


@bp.route("/workspaces/assistances/<int:assistance_id>/approve", methods=["POST"])
@permission_required("ra.approve")
def approve_request(assistance_id: int):
    note = _text("note")
    if note is None:
        return _back(assistance_id)
    a = _assistance(assistance_id)
    try:
        approvals.approve(a, current_user._get_current_object(), current_membership, note)
    except AssistanceRefused as exc:
        db.session.rollback()
        flash(exc.refusal.message, "error")
        return _back(assistance_id)
    flash(
        _("Approved: the assistance on %(device)s is starting.", device=a.device.hostname),
        "success",
    )
    return _back(assistance_id)


@bp.route("/workspaces/assistances/<int:assistance_id>/deny", methods=["POST"])
@permission_required("ra.approve")
def deny_request(assistance_id: int):
    reason = _text("reason")
    if reason is None:
        return _back(assistance_id)
    if not reason:
        flash(_("Say why you deny the request: the requester is told."), "error")
        return _back(assistance_id)
    a = _assistance(assistance_id)
    try:
        approvals.deny(a, current_user._get_current_object(), current_membership, reason)
    except AssistanceRefused as exc:
        db.session.rollback()
        flash(exc.refusal.message, "error")
        return _back(assistance_id)
    flash(_("Denied the request on %(device)s.", device=a.device.hostname), "success")
    return _back(assistance_id)
