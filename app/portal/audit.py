"""Portal → Audit log (`audit.view`): filter, page, export; and the retention setting
(Settings → Organization → Audit log, `org.manage`)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from app import audit
from app.audit import viewer
from app.audit.retention import RetentionError, set_retention
from app.core.listing import FilterError
from app.extensions import db
from app.portal import audit_sentences as sentences
from app.portal import bp
from app.security import no_store
from app.tenancy import current_org, permission_required


@bp.route("/audit")
@permission_required("audit.view")
def audit_log_page():
    try:
        filters = viewer.parse_filters(request.args)
        page = viewer.audit_page(
            current_org.id, request.args, page_size=viewer.PAGE_SIZE, hide_signins=True
        )
    except FilterError as exc:
        abort(400, description=exc.message)
    return render_template(
        "audit/log.html",
        page=page,
        args=request.args,
        export_args=filters.as_args(),
        choices=viewer.filter_choices(current_org.id),
        show_signins=viewer.shows_signins(request.args),
        describe=sentences.describer(page.items),
    )


@bp.route("/audit/export.csv")
@no_store
@permission_required("audit.view")
def audit_export():
    try:
        filters = viewer.parse_filters(request.args)
    except FilterError as exc:
        abort(400, description=exc.message)
    # Reading the whole log out is worth knowing about.
    audit.record(
        "audit.exported",
        organization_id=current_org.id,
        target=current_org._get_current_object(),
        details={"filters": filters.as_args(), "format": "csv"},
    )
    db.session.commit()
    org_id = current_org.id
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    lines = viewer.csv_lines(viewer.iter_events(org_id, filters))
    return Response(
        stream_with_context(lines),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="audit-{current_org.slug}-{stamp}.csv"',
        },
    )


@bp.route("/settings/organization/audit-retention", methods=["POST"])
@permission_required("org.manage")
def audit_retention():
    org = current_org._get_current_object()
    try:
        changed = set_retention(current_user._get_current_object(), org, request.form.get("days"))
    except RetentionError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return render_template(
            "settings/organization.html", tab="audit", products=[], days=request.form.get("days")
        ), 400
    db.session.commit()
    flash(
        _("Audit events are kept %(days)s days.", days=org.audit_retention_days)
        if changed
        else _("Nothing changed."),
        "success",
    )
    return redirect(url_for("portal.organization_settings", tab="audit"))
