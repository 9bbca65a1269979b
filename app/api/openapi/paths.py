"""The operator API's paths, one entry per route (a test fails when a route is missing
here or a documented one is gone)."""

from __future__ import annotations

from typing import Any

from app.api.openapi.common import ERRORS, error_response, id_param, json_body, query


def paths() -> dict[str, Any]:
    settings_put = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SettingsPut"}}},
    }
    group_id = id_param("group_id", "reporting group id")
    product_id = id_param("product_id", "product id")
    return {
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
                    query("q", "string", "hostname contains"),
                    query("group", "integer", "reporting group id"),
                    query("online", "string", "yes or no"),
                    query("os", "string", "OS name"),
                    query("version", "string", "agent version"),
                    query("kind", "string", "device kind"),
                    query("page", "integer", "page number, from 1"),
                ],
                "responses": {"200": json_body("#/components/schemas/DevicePage"), **ERRORS},
            },
        },
        "/devices/{device_id}": {
            "parameters": [id_param("device_id", "device id")],
            "get": {
                "summary": "One device with its user sessions",
                "description": "Needs devices.view. 404 for a device outside the "
                "reporting groups the caller's role covers.",
                "responses": {"200": json_body("#/components/schemas/Device"), **ERRORS},
            },
        },
        "/sessions": {
            "get": {
                "summary": "User sessions across devices, filtered and paginated",
                "description": "Needs devices.view. Only sessions on devices of the "
                "reporting groups the caller's role covers.",
                "parameters": [
                    query("q", "string", "user name or hostname contains"),
                    query("group", "integer", "reporting group id"),
                    query("state", "string", "active, disconnected or locked"),
                    query("page", "integer", "page number, from 1"),
                ],
                "responses": {"200": json_body("#/components/schemas/SessionPage"), **ERRORS},
            },
        },
        "/audit": {
            "get": {
                "summary": "The organization's audit events, newest first, filtered and paginated",
                "description": "Needs audit.view.",
                "parameters": [
                    query("actor", "string", "actor (e-mail or label) contains"),
                    query("action", "string", 'action, exact; "role.*" for a prefix'),
                    query("target_type", "string", "target type, exact (e.g. Role)"),
                    query("target_id", "string", "target id, exact"),
                    query(
                        "from",
                        "string",
                        "from this date (YYYY-MM-DD) or date-time (ISO 8601, UTC), inclusive",
                    ),
                    query(
                        "to",
                        "string",
                        "up to this date (the whole day) or date-time, exclusive",
                    ),
                    query("page", "integer", "page number, from 1"),
                    query("page_size", "integer", "events per page, 1-500 (default 50)"),
                ],
                "responses": {"200": json_body("#/components/schemas/AuditPage"), **ERRORS},
            },
        },
        "/roles": {
            "get": {
                "summary": "The organization's roles, their permissions and group limits",
                "description": "Needs roles.manage or roles.assign.",
                "responses": {"200": json_body("#/components/schemas/RoleList"), **ERRORS},
            },
        },
        "/members": {
            "get": {
                "summary": "The organization's members and their roles",
                "description": "Needs roles.assign.",
                "responses": {"200": json_body("#/components/schemas/MemberList"), **ERRORS},
            },
        },
        "/members/{membership_id}/role": {
            "parameters": [id_param("membership_id", "membership id")],
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
                    "200": json_body("#/components/schemas/Member"),
                    "409": error_response("The last Organization Admin stays"),
                    **ERRORS,
                },
            },
        },
        "/assistances": {
            "get": {
                "summary": "Assistances of the caller's reporting groups, newest first",
                "description": "Needs ra.start, ra.manage or devices.view. `live=1` lists "
                "the live ones (for leads holding ra.manage, who may end any of them).",
                "parameters": [
                    query("live", "string", "1: live assistances only"),
                    query("state", "string", "a state, or live"),
                    query("type", "string", "interactive or unattended"),
                    query("mine", "string", "1: started by the caller"),
                    query("device", "integer", "device id"),
                    query("q", "string", "hostname contains"),
                    query("page", "integer", "page number, from 1"),
                ],
                "responses": {"200": {"description": "A page of assistances"}, **ERRORS},
            },
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
                    "202": json_body("#/components/schemas/Assistance", "Started"),
                    "409": error_response("Refused: the code says why"),
                    **ERRORS,
                },
            },
        },
        "/assistances/{assistance_id}": {
            "parameters": [id_param("assistance_id", "assistance id")],
            "get": {
                "summary": "An assistance and its state",
                "responses": {"200": json_body("#/components/schemas/Assistance"), **ERRORS},
            },
        },
        "/assistances/{assistance_id}/reveal": {
            "parameters": [id_param("assistance_id", "assistance id")],
            "post": {
                "summary": "Unattended: the session ID and password, once (409 after)",
                "description": "Only the initiating operator.",
                "responses": {
                    "200": json_body("#/components/schemas/Credentials"),
                    "409": error_response("Already revealed or not ready"),
                    **ERRORS,
                },
            },
        },
        "/assistances/{assistance_id}/activation-file": {
            "parameters": [id_param("assistance_id", "assistance id")],
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
                    "409": error_response("Not ready or not signed yet"),
                    **ERRORS,
                },
            },
        },
        "/assistances/{assistance_id}/end": {
            "parameters": [id_param("assistance_id", "assistance id")],
            "post": {
                "summary": 'End now (no grace); {"revoke": true} records a revocation',
                "responses": {
                    "200": json_body("#/components/schemas/Assistance"),
                    "409": error_response("Already ended"),
                    **ERRORS,
                },
            },
        },
        "/assistances/{assistance_id}/tools": {
            "parameters": [id_param("assistance_id", "assistance id")],
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
                                    "tool": {"enum": ["cmd", "powershell", "regedit", "taskmgr"]}
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
                "summary": "A product's stored FlexxAgent settings (the defaults of its groups)",
                "description": "Needs product.configure or group.configure.",
                "responses": {"200": json_body("#/components/schemas/ProductSettings"), **ERRORS},
            },
            "put": {
                "summary": "Change a product's settings (partial; null = inherit)",
                "description": "Needs product.configure.",
                "requestBody": settings_put,
                "responses": {"200": json_body("#/components/schemas/ProductSettings"), **ERRORS},
            },
        },
        "/reporting-groups/{group_id}/agent-settings": {
            "parameters": [group_id],
            "get": {
                "summary": "A group's stored overrides and the values in effect",
                "description": "Needs group.configure or product.configure.",
                "responses": {"200": json_body("#/components/schemas/GroupSettings"), **ERRORS},
            },
            "put": {
                "summary": "Change a group's overrides (partial; null = inherit)",
                "description": "Needs group.configure. A value the product enforces "
                "is refused with 409 enforced_by_product.",
                "requestBody": settings_put,
                "responses": {
                    "200": json_body("#/components/schemas/GroupSettings"),
                    "409": error_response("Enforced by the product"),
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
                "responses": {"200": json_body("#/components/schemas/EffectiveSettings"), **ERRORS},
            },
        },
    }
