"""The OpenAPI 3.1 document of the operator API, served at /api/v1/openapi.json.

Kept by hand next to the endpoints (`paths`, `components`); tests check it is valid
OpenAPI and that every route of the blueprint is documented (and nothing documented is
missing).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from app.api import bp
from app.api.openapi.components import components
from app.api.openapi.dashboard import dashboard_paths, dashboard_schemas
from app.api.openapi.paths import paths


def build_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Remote Assistance Portal — operator API",
            "version": "1",
            "description": "Authenticate with the browser session (send the CSRF token in "
            "X-CSRFToken on changes) or with `Authorization: Bearer <personal API token>`. "
            'Errors are {"error": {"code", "message", "field"?}}.',
        },
        "servers": [{"url": current_app.config["PORTAL_URL"] + "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": {**paths(), **dashboard_paths()},
        "components": _with_schemas(components(), dashboard_schemas()),
    }


def _with_schemas(parts: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {**parts, "schemas": {**parts["schemas"], **schemas}}


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_document())
