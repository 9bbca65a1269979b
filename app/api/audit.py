"""The organization's audit log (read-only)."""

from __future__ import annotations

from flask import jsonify, request

from app.api import bp
from app.api.auth import require
from app.audit import viewer
from app.tenancy import current_org


@bp.get("/audit")
@require("audit.view")
def list_audit_events():
    # FilterError becomes a 400 naming the field (app.errors).
    page = viewer.audit_page(current_org.id, request.args)
    return jsonify(page.as_json([viewer.event_json(e) for e in page.items]))
