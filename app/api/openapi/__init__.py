"""The OpenAPI 3.1 document of the portal's three APIs, served at /api/v1/openapi.json:
the operator API (/api/v1), the agent API (/api/agent/v1) and the relay API
(/api/relay/v1), each with its security scheme.

Request bodies come from the pydantic models that validate them (`components`); paths and
responses are declared next to each other (`paths`, `agent_relay`). Tests check that the
document is valid OpenAPI, that every route of the three blueprints is documented and
nothing else, and a fuzzer (schemathesis) runs the whole document against a real server.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from app.api import bp
from app.api.openapi.agent_relay import agent_paths, relay_paths
from app.api.openapi.components import components
from app.api.openapi.dashboard import dashboard_paths, dashboard_schemas
from app.api.openapi.paths import paths
from app.api.openapi.webhooks import webhook_paths, webhook_schemas


def build_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Remote Assistance Portal APIs",
            "version": "1",
            "description": "Three APIs. **Operator API** (`/api/v1`): a personal API token "
            "(`Authorization: Bearer rap_…`) or the browser session (send the CSRF token in "
            "X-CSRFToken on changes). **Agent API** (`/api/agent/v1`, tag agent): FlexxAgent, "
            "with its device token (`Authorization: Bearer dev_…`) except enroll. **Relay "
            "API** (`/api/relay/v1`, tag relay): the operator's RA client, authenticated by "
            'the activation file itself. Errors are {"error": {"code", "message", "field"?}} '
            "with a fitting 4xx status; bad input is never a 5xx.",
        },
        "servers": [{"url": current_app.config["PORTAL_URL"]}],
        "tags": [
            {"name": "operator", "description": "Operator API (/api/v1)"},
            {"name": "agent", "description": "Agent API (/api/agent/v1), for FlexxAgent"},
            {"name": "relay", "description": "Relay API (/api/relay/v1), for RA clients"},
        ],
        "security": [{"apiToken": []}, {"session": []}],
        "paths": {
            **_tagged({**paths(), **dashboard_paths(), **webhook_paths()}, "operator"),
            **agent_paths(),
            **relay_paths(),
        },
        "components": _with_schemas(components(), {**dashboard_schemas(), **webhook_schemas()}),
    }


def _with_schemas(parts: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {**parts, "schemas": {**parts["schemas"], **schemas}}


def _tagged(path_items: dict[str, Any], tag: str) -> dict[str, Any]:
    for item in path_items.values():
        for key, op in item.items():
            if key != "parameters":
                op.setdefault("tags", [tag])
    return path_items


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_document())
