"""OpenAPI description of the dashboard endpoint and its body."""

from __future__ import annotations

from typing import Any

from app.api.openapi.common import OPERATOR_ERRORS, errors, json_response, ref

_INT = {"type": "integer"}
_STR = {"type": "string"}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": sorted(properties)}


def dashboard_paths() -> dict[str, Any]:
    return {
        "/api/v1/dashboard": {
            "get": {
                "summary": "The dashboard: live assistances, devices online and offline by "
                "reporting group, agent versions, assistances per day, refusals by code",
                "description": "Needs devices.view. Counts only the reporting groups the "
                "caller's role covers. Days are UTC calendar days; the window ends today.",
                "parameters": [
                    {
                        "name": "days",
                        "in": "query",
                        "required": False,
                        "description": "length of the window in days, 1 to 90 (default 14)",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 90},
                    }
                ],
                "responses": {
                    "200": json_response(ref("Dashboard")),
                    **errors(*OPERATOR_ERRORS),
                },
            }
        }
    }


def dashboard_schemas() -> dict[str, Any]:
    per_day = _object(
        {
            "date": {"type": "string", "format": "date"},
            "interactive": _INT,
            "unattended": _INT,
            "live": _INT,
            "completed": _INT,
            "denied": _INT,
            "failed": _INT,
        }
    )
    live_item = _object(
        {
            "id": _INT,
            "state": _STR,
            "type": _STR,
            "created_at": {"type": "string", "format": "date-time"},
            "device": _object({"id": _INT, "hostname": _STR}),
        }
    )
    return {
        "Dashboard": _object(
            {
                "days": _INT,
                "generated_at": {"type": "string", "format": "date-time"},
                "live_assistances": _object(
                    {
                        "total": _INT,
                        "by_state": {"type": "object", "additionalProperties": _INT},
                        "items": {
                            "type": "array",
                            "items": live_item,
                            "description": "the 20 most recent",
                        },
                    }
                ),
                "devices_by_group": {
                    "type": "array",
                    "items": _object({"id": _INT, "name": _STR, "online": _INT, "offline": _INT}),
                },
                "agent_versions": _object(
                    {
                        "versions": {
                            "type": "array",
                            "items": _object(
                                {
                                    "version": _STR,
                                    "devices": _INT,
                                    "support": {"enum": ["ok", "no_dynamic", "too_old"]},
                                }
                            ),
                        },
                        "too_old_for_ra": _INT,
                        "too_old_for_dynamic": _INT,
                        "min_ra": _STR,
                        "min_dynamic": _STR,
                    }
                ),
                "assistances_per_day": {"type": "array", "items": per_day},
                "refusals_by_code": {
                    "type": "array",
                    "items": _object({"code": _STR, "count": _INT}),
                },
            }
        )
    }
