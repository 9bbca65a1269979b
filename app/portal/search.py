"""The global search of the top bar."""

from __future__ import annotations

from flask import render_template, request

from app.fleet.checkin import last_seen
from app.overview.search import search as find
from app.portal import bp
from app.tenancy import current_org, permission_required, visible_group_ids


@bp.route("/search")
@permission_required("devices.view")
def search():
    found = find(current_org.id, request.args.get("q", ""), visible_groups=visible_group_ids())
    seen = last_seen({d.id for d in found["devices"]} | {s.device_id for s in found["sessions"]})
    return render_template("portal/search.html", found=found, seen=seen)
