"""Portal → Settings → Webhooks (`webhooks.manage`): endpoints, their secret (shown once),
a test event, and each endpoint's delivery log."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core.listing import FilterError, page_number
from app.extensions import db
from app.models import WebhookEndpoint
from app.portal import bp
from app.security import no_store
from app.tenancy import current_org, get_in_org_or_404, permission_required
from app.webhooks import catalog
from app.webhooks import endpoints as service

PERMISSION = "webhooks.manage"


def _actor():
    return current_user._get_current_object()


def _form_events() -> list[str]:
    return request.form.getlist("events")


def _render_list(status: int = 200, form=None):
    org_id = current_org.id
    return render_template(
        "settings/webhooks.html",
        endpoints=service.endpoints_of(org_id),
        undelivered=service.undelivered_counts(org_id),
        groups=catalog.GROUPS,
        form=form or {"url": "", "events": [catalog.ALL]},
    ), status


@bp.route("/settings/webhooks", methods=["GET", "POST"])
@no_store
@permission_required(PERMISSION)
def webhooks():
    if request.method == "GET":
        return _render_list()
    form = {"url": request.form.get("url", ""), "events": _form_events()}
    try:
        endpoint, secret = service.create_endpoint(
            current_org.id, _actor(), form["url"], form["events"]
        )
    except service.WebhookError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _render_list(exc.status, form)
    db.session.commit()
    # Shown in this response only: never flashed into the (client-side) session cookie.
    return render_template("settings/webhook_secret.html", endpoint=endpoint, secret=secret)


def _render_endpoint(endpoint: WebhookEndpoint, status: int = 200, form=None):
    try:
        page = service.deliveries_of(endpoint, page_number(request.args))
    except FilterError:
        page = service.deliveries_of(endpoint)
    return render_template(
        "settings/webhook.html",
        endpoint=endpoint,
        deliveries=page,
        groups=catalog.GROUPS,
        form=form or {"url": endpoint.url, "events": endpoint.events},
    ), status


@bp.route("/settings/webhooks/<int:endpoint_id>", methods=["GET", "POST"])
@permission_required(PERMISSION)
def webhook(endpoint_id: int):
    endpoint = get_in_org_or_404(WebhookEndpoint, endpoint_id)
    if request.method == "GET":
        return _render_endpoint(endpoint)
    form = {"url": request.form.get("url", ""), "events": _form_events()}
    try:
        changed = service.update_endpoint(endpoint, _actor(), form["url"], form["events"])
    except service.WebhookError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _render_endpoint(get_in_org_or_404(WebhookEndpoint, endpoint_id), exc.status, form)
    db.session.commit()
    flash(_("Webhook saved.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("portal.webhook", endpoint_id=endpoint_id)), 303


@bp.route("/settings/webhooks/<int:endpoint_id>/enabled", methods=["POST"])
@permission_required(PERMISSION)
def webhook_enabled(endpoint_id: int):
    endpoint = get_in_org_or_404(WebhookEndpoint, endpoint_id)
    enabled = request.form.get("enabled") == "1"
    service.set_enabled(endpoint, _actor(), enabled)
    db.session.commit()
    if enabled:
        flash(_("Webhook enabled: queued deliveries are sent now, in order."), "success")
    else:
        flash(_("Webhook disabled: no events are sent to it until it is enabled."), "success")
    return redirect(url_for("portal.webhook", endpoint_id=endpoint_id)), 303


@bp.route("/settings/webhooks/<int:endpoint_id>/rotate", methods=["POST"])
@no_store
@permission_required(PERMISSION)
def webhook_rotate(endpoint_id: int):
    endpoint = get_in_org_or_404(WebhookEndpoint, endpoint_id)
    secret = service.rotate_secret(endpoint, _actor())
    db.session.commit()
    return render_template(
        "settings/webhook_secret.html", endpoint=endpoint, secret=secret, rotated=True
    )


@bp.route("/settings/webhooks/<int:endpoint_id>/test", methods=["POST"])
@permission_required(PERMISSION)
def webhook_test(endpoint_id: int):
    endpoint = get_in_org_or_404(WebhookEndpoint, endpoint_id)
    try:
        service.send_test(endpoint, _actor())
    except service.WebhookError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("portal.webhook", endpoint_id=endpoint_id)), 303
    db.session.commit()
    flash(_("Test event queued: its delivery shows in the log below."), "success")
    return redirect(url_for("portal.webhook", endpoint_id=endpoint_id)), 303


@bp.route("/settings/webhooks/<int:endpoint_id>/delete", methods=["POST"])
@permission_required(PERMISSION)
def webhook_delete(endpoint_id: int):
    endpoint = get_in_org_or_404(WebhookEndpoint, endpoint_id)
    service.delete_endpoint(endpoint, _actor())
    db.session.commit()
    flash(_("Webhook deleted."), "success")
    return redirect(url_for("portal.webhooks")), 303
