"""GET /healthz (the process answers), GET /readyz (it can do its work), GET /metrics."""

from __future__ import annotations

import hmac

from flask import Response, current_app, jsonify, request

from app.core import metrics
from app.ops import bp, readiness


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    checks = readiness.checks()
    ready = all(c["ok"] for c in checks.values())
    response = jsonify({"status": "ready" if ready else "not_ready", "checks": checks})
    if not ready:
        response.status_code = 503
        response.headers["Retry-After"] = "5"
    return response


@bp.get("/metrics")
def metrics_view():
    token = current_app.config["METRICS_TOKEN"]
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            return Response("metrics need the bearer token (METRICS_TOKEN)\n", 401)
    elif current_app.config["PORTAL_ENV"] == "production":
        return Response("set METRICS_TOKEN to expose metrics\n", 404)
    body, content_type = metrics.render(readiness.database_collectors())
    return Response(body, content_type=content_type)
