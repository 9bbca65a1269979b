"""The OpenAPI 3.1 document of the operator API, served at /api/v1/openapi.json.

Kept by hand next to the endpoints; tests check it is valid OpenAPI and that every route
of the blueprint is documented (and nothing documented is missing).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from app.agent_settings import registry
from app.api import bp


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


ERRORS = {
    "400": _error_response("Bad input (the error names the field)"),
    "401": _error_response("Not signed in, or a bad API token"),
    "403": _error_response("The caller's role does not allow this"),
    "404": _error_response("No such object in the caller's organization"),
}


def _json(schema_ref: str, description: str = "OK") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": schema_ref}}},
    }


def _id_param(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": what,
        "schema": {"type": "integer"},
    }


def _query(name: str, type_: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": type_},
    }


def _page_of(item_ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": item_ref}},
            "page": {"type": "integer"},
            "page_size": {"type": "integer"},
            "total": {"type": "integer"},
            "pages": {"type": "integer"},
        },
    }


def _setting_value_schemas() -> dict[str, Any]:
    schemas = {
        "ra_types": {
            "type": "array",
            "items": {"enum": list(registry.RA_TYPES)},
            "description": "empty disables RA; dynamic cannot be combined",
        },
        "bool": {"type": "boolean"},
        "url": {"type": "string", "description": "proxy URL or empty"},
    }
    return {
        "type": "object",
        "properties": {
            d.key: {**schemas[d.kind], "description": d.description} for d in registry.SETTINGS
        },
    }


def build_document() -> dict[str, Any]:
    settings_put = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SettingsPut"}}},
    }
    group_id = _id_param("group_id", "reporting group id")
    product_id = _id_param("product_id", "product id")
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
        "paths": {
            "/health": {
                "get": {
                    "summary": "Liveness",
                    "security": [],
                    "responses": {"200": {"description": "OK"}},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OK"}},
                }
            },
            "/devices": {
                "get": {
                    "summary": "Devices of the organization, filtered and paginated",
                    "description": "Needs devices.view. Only devices of the reporting groups "
                    "the caller's role covers (roles may be limited to chosen groups).",
                    "parameters": [
                        _query("q", "string", "hostname contains"),
                        _query("group", "integer", "reporting group id"),
                        _query("online", "string", "yes or no"),
                        _query("os", "string", "OS name"),
                        _query("version", "string", "agent version"),
                        _query("kind", "string", "device kind"),
                        _query("page", "integer", "page number, from 1"),
                    ],
                    "responses": {"200": _json("#/components/schemas/DevicePage"), **ERRORS},
                },
            },
            "/devices/{device_id}": {
                "parameters": [_id_param("device_id", "device id")],
                "get": {
                    "summary": "One device with its user sessions",
                    "description": "Needs devices.view. 404 for a device outside the "
                    "reporting groups the caller's role covers.",
                    "responses": {"200": _json("#/components/schemas/Device"), **ERRORS},
                },
            },
            "/sessions": {
                "get": {
                    "summary": "User sessions across devices, filtered and paginated",
                    "description": "Needs devices.view. Only sessions on devices of the "
                    "reporting groups the caller's role covers.",
                    "parameters": [
                        _query("q", "string", "user name or hostname contains"),
                        _query("group", "integer", "reporting group id"),
                        _query("state", "string", "active, disconnected or locked"),
                        _query("page", "integer", "page number, from 1"),
                    ],
                    "responses": {"200": _json("#/components/schemas/SessionPage"), **ERRORS},
                },
            },
            "/audit": {
                "get": {
                    "summary": "The organization's audit events, newest first, filtered and "
                    "paginated",
                    "description": "Needs audit.view.",
                    "parameters": [
                        _query("actor", "string", "actor (e-mail or label) contains"),
                        _query("action", "string", 'action, exact; "role.*" for a prefix'),
                        _query("target_type", "string", "target type, exact (e.g. Role)"),
                        _query("target_id", "string", "target id, exact"),
                        _query(
                            "from",
                            "string",
                            "from this date (YYYY-MM-DD) or date-time (ISO 8601, UTC), inclusive",
                        ),
                        _query(
                            "to",
                            "string",
                            "up to this date (the whole day) or date-time, exclusive",
                        ),
                        _query("page", "integer", "page number, from 1"),
                        _query("page_size", "integer", "events per page, 1-500 (default 50)"),
                    ],
                    "responses": {"200": _json("#/components/schemas/AuditPage"), **ERRORS},
                },
            },
            "/roles": {
                "get": {
                    "summary": "The organization's roles, their permissions and group limits",
                    "description": "Needs roles.manage or roles.assign.",
                    "responses": {"200": _json("#/components/schemas/RoleList"), **ERRORS},
                },
            },
            "/members": {
                "get": {
                    "summary": "The organization's members and their roles",
                    "description": "Needs roles.assign.",
                    "responses": {"200": _json("#/components/schemas/MemberList"), **ERRORS},
                },
            },
            "/members/{membership_id}/role": {
                "parameters": [_id_param("membership_id", "membership id")],
                "put": {
                    "summary": "Give a member another role",
                    "description": "Needs roles.assign. Refused (403) for a role holding "
                    "permissions or covering reporting groups beyond the caller's own, for "
                    "the caller's own membership, or a member stronger than the caller; "
                    "409 for the last Organization Admin.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["role_id"],
                                    "properties": {"role_id": {"type": "integer"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json("#/components/schemas/Member"),
                        "409": _error_response("The last Organization Admin stays"),
                        **ERRORS,
                    },
                },
            },
            "/assistances": {
                "post": {
                    "summary": "Start a remote assistance on a device or a user session",
                    "description": "Needs ra.start. Refusals of SPEC §4 come as 409 (403 for "
                    "a missing permission) with their own code: not_windows, agent_too_old, "
                    "agent_too_old_for_dynamic, ra_disabled, dynamic_only, type_not_enabled, "
                    "device_offline, device_busy, no_active_session, session_required, "
                    "session_not_active, ra_not_permitted.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/AssistanceStart"}
                            }
                        },
                    },
                    "responses": {
                        "202": _json("#/components/schemas/Assistance", "Started"),
                        "409": _error_response("Refused: the code says why"),
                        **ERRORS,
                    },
                },
            },
            "/assistances/{assistance_id}": {
                "parameters": [_id_param("assistance_id", "assistance id")],
                "get": {
                    "summary": "An assistance and its state",
                    "responses": {"200": _json("#/components/schemas/Assistance"), **ERRORS},
                },
            },
            "/assistances/{assistance_id}/reveal": {
                "parameters": [_id_param("assistance_id", "assistance id")],
                "post": {
                    "summary": "Unattended: the session ID and password, once (409 after)",
                    "description": "Only the initiating operator.",
                    "responses": {
                        "200": _json("#/components/schemas/Credentials"),
                        "409": _error_response("Already revealed or not ready"),
                        **ERRORS,
                    },
                },
            },
            "/assistances/{assistance_id}/activation-file": {
                "parameters": [_id_param("assistance_id", "assistance id")],
                "get": {
                    "summary": "The signed activation file (.flxra or .exe)",
                    "description": "Only the initiating operator, while the assistance is "
                    "ready, connected or in its grace window.",
                    "responses": {
                        "200": {
                            "description": "The file",
                            "content": {
                                "application/octet-stream": {
                                    "schema": {"type": "string", "format": "binary"}
                                }
                            },
                        },
                        "409": _error_response("Not ready or not signed yet"),
                        **ERRORS,
                    },
                },
            },
            "/assistances/{assistance_id}/end": {
                "parameters": [_id_param("assistance_id", "assistance id")],
                "post": {
                    "summary": 'End now (no grace); {"revoke": true} records a revocation',
                    "responses": {
                        "200": _json("#/components/schemas/Assistance"),
                        "409": _error_response("Already ended"),
                        **ERRORS,
                    },
                },
            },
            "/assistances/{assistance_id}/tools": {
                "parameters": [_id_param("assistance_id", "assistance id")],
                "post": {
                    "summary": "Launch a Flexxible Tool (cmd, powershell, regedit, taskmgr)",
                    "description": "Interactive and connected, flag on for the operator's "
                    "role in the device's group, same FlexxAgent environment.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["tool"],
                                    "properties": {
                                        "tool": {
                                            "enum": ["cmd", "powershell", "regedit", "taskmgr"]
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {"202": {"description": "Ordered"}, **ERRORS},
                },
            },
            "/products/{product_id}/agent-settings": {
                "parameters": [product_id],
                "get": {
                    "summary": "A product's stored FlexxAgent settings (the defaults of "
                    "its groups)",
                    "description": "Needs product.configure or group.configure.",
                    "responses": {"200": _json("#/components/schemas/ProductSettings"), **ERRORS},
                },
                "put": {
                    "summary": "Change a product's settings (partial; null = inherit)",
                    "description": "Needs product.configure.",
                    "requestBody": settings_put,
                    "responses": {"200": _json("#/components/schemas/ProductSettings"), **ERRORS},
                },
            },
            "/reporting-groups/{group_id}/agent-settings": {
                "parameters": [group_id],
                "get": {
                    "summary": "A group's stored overrides and the values in effect",
                    "description": "Needs group.configure or product.configure.",
                    "responses": {"200": _json("#/components/schemas/GroupSettings"), **ERRORS},
                },
                "put": {
                    "summary": "Change a group's overrides (partial; null = inherit)",
                    "description": "Needs group.configure. A value the product enforces "
                    "is refused with 409 enforced_by_product.",
                    "requestBody": settings_put,
                    "responses": {
                        "200": _json("#/components/schemas/GroupSettings"),
                        "409": _error_response("Enforced by the product"),
                        **ERRORS,
                    },
                },
            },
            "/reporting-groups/{group_id}/effective-settings": {
                "parameters": [group_id],
                "get": {
                    "summary": "Every setting in effect for a role on the group's devices, "
                    "with provenance",
                    "parameters": [
                        {
                            "name": "role",
                            "in": "query",
                            "required": False,
                            "description": "role id; omitted: the all-roles values",
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {"200": _json("#/components/schemas/EffectiveSettings"), **ERRORS},
                },
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Personal API token (profile page or `flask api-token create`)",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "portal_session"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "field": {"type": "string"},
                            },
                        }
                    },
                },
                "SettingValues": _setting_value_schemas(),
                "Device": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "hostname": {"type": "string"},
                        "os_name": {"type": "string"},
                        "os_version": {"type": "string"},
                        "agent_version": {"type": "string"},
                        "environment": {"type": "string"},
                        "kind": {"type": "string"},
                        "reporting_group": {"type": "object"},
                        "online": {"type": "boolean"},
                        "last_checkin_at": {"type": ["string", "null"]},
                        "sessions": {"type": "array", "items": {"type": "object"}},
                        "remote_assistance": {
                            "type": "object",
                            "description": "per type: available, or code and message saying "
                            "why not (the same check that refuses a start)",
                        },
                    },
                },
                "Session": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "session_key": {"type": "string"},
                        "username": {"type": "string"},
                        "state": {"type": "string"},
                        "kind": {"type": "string"},
                        "device": {"type": "object"},
                    },
                },
                "DevicePage": _page_of("#/components/schemas/Device"),
                "AssistanceStart": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {
                        "device_id": {"type": "integer"},
                        "session_id": {
                            "type": "integer",
                            "description": "a user session id "
                            "(GET /sessions); exactly one of device_id, session_id",
                        },
                        "type": {"enum": ["interactive", "unattended", "dynamic"]},
                        "operator_device_id": {"type": "integer"},
                    },
                },
                "Assistance": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "state": {
                            "enum": [
                                "requested",
                                "awaiting_consent",
                                "ready",
                                "connected",
                                "disconnected",
                                "expired",
                                "denied",
                                "failed",
                                "interrupted",
                                "cancelled",
                                "locked",
                            ]
                        },
                        "type": {"enum": ["interactive", "unattended"]},
                        "requested_type": {"enum": ["interactive", "unattended", "dynamic"]},
                        "decision_reason": {"type": "string"},
                        "device": {"type": "object"},
                        "operator": {"type": "object"},
                        "session_key": {"type": ["string", "null"]},
                        "session_id": {"type": ["string", "null"]},
                        "file_kind": {"enum": ["flxra", "exe"]},
                        "file_ready": {"type": "boolean"},
                        "password_revealed": {"type": "boolean"},
                        "tools": {"type": "array", "items": {"type": "string"}},
                        "grace_until": {"type": ["string", "null"]},
                        "teardown": {"enum": ["none", "pending", "confirmed", "unconfirmed"]},
                    },
                },
                "Credentials": {
                    "type": "object",
                    "properties": {
                        "session_id": {"type": "string"},
                        "password": {"type": "string"},
                    },
                },
                "AuditEvent": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "seq": {"type": "integer", "description": "position in the chain"},
                        "occurred_at": {"type": "string", "format": "date-time"},
                        "actor": {"type": "string"},
                        "actor_user_id": {"type": ["integer", "null"]},
                        "action": {"type": "string"},
                        "target_type": {"type": "string"},
                        "target_id": {"type": "string"},
                        "details": {"type": "object"},
                        "ip": {"type": "string"},
                        "prev_hash": {"type": "string"},
                        "hash": {"type": "string"},
                    },
                },
                "AuditPage": _page_of("#/components/schemas/AuditEvent"),
                "Role": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "builtin": {"type": ["string", "null"]},
                        "permissions": {"type": "array", "items": {"type": "string"}},
                        "reporting_groups": {
                            "type": ["array", "null"],
                            "items": {"type": "integer"},
                            "description": "ids of the groups the role is limited to; "
                            "null: every group",
                        },
                        "members": {"type": "integer"},
                    },
                },
                "RoleList": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Role"}}
                    },
                },
                "Member": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "user": {"type": "object"},
                        "role": {"type": "object"},
                        "changed": {"type": "boolean"},
                    },
                },
                "MemberList": {
                    "type": "object",
                    "properties": {
                        "items": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Member"},
                        }
                    },
                },
                "SessionPage": _page_of("#/components/schemas/Session"),
                "StoredSetting": {
                    "type": "object",
                    "properties": {
                        "value": {"description": "null: inherited"},
                        "set": {"type": "boolean"},
                        "enforced": {"type": "boolean"},
                        "by_role": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "properties": {"value": {}, "enforced": {"type": "boolean"}},
                            },
                        },
                    },
                },
                "SettingsPut": {
                    "type": "object",
                    "required": ["settings"],
                    "properties": {
                        "settings": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "properties": {
                                    "value": {"description": "new value; null = inherit"},
                                    "enforced": {
                                        "type": "boolean",
                                        "description": "product scope only",
                                    },
                                    "by_role": {
                                        "type": "object",
                                        "additionalProperties": {
                                            "type": "object",
                                            "required": ["value"],
                                            "properties": {
                                                "value": {},
                                                "enforced": {"type": "boolean"},
                                            },
                                        },
                                    },
                                },
                            },
                        }
                    },
                    "example": {
                        "settings": {
                            "remote_assistance.types": {"value": ["interactive", "unattended"]},
                            "flexxible_tools": {"by_role": {"3": {"value": True}}},
                            "proxy_url": {"value": None},
                        }
                    },
                },
                "Effective": {
                    "type": "object",
                    "properties": {
                        "value": {},
                        "source": {
                            "enum": [
                                "default",
                                "product",
                                "product_role",
                                "group",
                                "group_role",
                                "enforced",
                            ]
                        },
                        "source_label": {"type": "string"},
                        "locked": {"type": "boolean"},
                    },
                },
                "ProductSettings": {
                    "type": "object",
                    "properties": {
                        "product": {"type": "object"},
                        "settings": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/components/schemas/StoredSetting"},
                        },
                        "changes": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "GroupSettings": {
                    "type": "object",
                    "properties": {
                        "reporting_group": {"type": "object"},
                        "settings": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/components/schemas/StoredSetting"},
                        },
                        "effective": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/components/schemas/Effective"},
                        },
                        "changes": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "EffectiveSettings": {
                    "type": "object",
                    "properties": {
                        "reporting_group": {"type": "object"},
                        "role": {"type": ["object", "null"]},
                        "settings": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/components/schemas/Effective"},
                        },
                    },
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_document())
