"""The dashboard (SPEC §5): the home page's numbers, for programs."""

from __future__ import annotations

from flask import jsonify, request

from app.api import bp
from app.api.auth import require
from app.errors import json_error
from app.overview.dashboard import MAX_DAYS, dashboard
from app.tenancy import current_org, visible_group_ids


def days_arg(args) -> int | None:
    """`days` from 1 to MAX_DAYS (default 14); None when it is not one."""
    raw = (args.get("days") or "").strip()
    if not raw:
        return 14
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        return None
    return int(raw)


@bp.get("/dashboard")
@require("devices.view")
def get_dashboard():
    days = days_arg(request.args)
    if days is None:
        return json_error(
            400, f"days is a whole number from 1 to {MAX_DAYS}", "invalid_filter", field="days"
        )
    return jsonify(dashboard(current_org.id, visible_groups=visible_group_ids(), days=days))
