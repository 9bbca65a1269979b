"""The operator API's paths (/api/v1), one entry per route (a test fails when a route is
missing here or a documented one is gone)."""

from __future__ import annotations

from typing import Any

from app.api import schemas as bodies
from app.api.openapi.common import (
    OPERATOR_ERRORS,
    errors,
    id_param,
    json_response,
    query,
    ref,
    request_body,
)

V1 = "/api/v1"
PUBLIC = {"security": [], "responses": {"200": {"description": "OK"}}}
REFUSALS = (
    "not_windows, agent_too_old, agent_too_old_for_dynamic, ra_disabled, dynamic_only, "
    "type_not_enabled, device_offline, device_busy, no_active_session, session_required, "
    "session_not_active (409); unknown_type (400); ra_not_permitted (403)"
)


def _ops(**operations: dict[str, Any]) -> dict[str, Any]:
    """Operations of one path, each with the errors every operator call can meet."""
    return {
        method: {**op, "responses": {**errors(*OPERATOR_ERRORS), **op["responses"]}}
        for method, op in operations.items()
    }


def paths() -> dict[str, Any]:
    assistance = id_param("assistance_id", "assistance id")
    group = id_param("group_id", "reporting group id")
    page = query("page", "integer", "page number, from 1")
    return {
        f"{V1}/health": {"get": {"summary": "Liveness", **PUBLIC}},
        f"{V1}/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        f"{V1}/devices": _ops(
            get={
                "summary": "Devices of the organization, filtered and paginated",
                "description": "Needs devices.view. Only devices of the reporting groups "
                "the caller's role covers (roles may be limited to chosen groups).",
                "parameters": [
                    query("q", "string", "hostname contains"),
                    query("group", "integer", "reporting group id"),
                    query("online", "string", "yes or no", enum=["yes", "no"]),
                    query("os", "string", "OS name"),
                    query("version", "string", "agent version"),
                    query("kind", "string", "device kind"),
                    page,
                ],
                "responses": {"200": json_response(ref("DevicePage"))},
            }
        ),
        f"{V1}/devices/{{device_id}}": {
            "parameters": [id_param("device_id", "device id")],
            **_ops(
                get={
                    "summary": "One device with its user sessions and what can start on it",
                    "description": "Needs devices.view. 404 for a device outside the "
                    "reporting groups the caller's role covers.",
                    "responses": {"200": json_response(ref("Device"))},
                }
            ),
        },
        f"{V1}/sessions": _ops(
            get={
                "summary": "User sessions across devices, filtered and paginated",
                "description": "Needs devices.view. Only sessions on devices of the "
                "reporting groups the caller's role covers.",
                "parameters": [
                    query("q", "string", "user name or hostname contains"),
                    query("group", "integer", "reporting group id"),
                    query("state", "string", "active, disconnected or locked"),
                    page,
                ],
                "responses": {"200": json_response(ref("SessionPage"))},
            }
        ),
        f"{V1}/audit": _ops(
            get={
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
                    query("to", "string", "up to this date (the whole day) or date-time"),
                    page,
                    query("page_size", "integer", "events per page (default 50)", maximum=500),
                ],
                "responses": {"200": json_response(ref("AuditPage"))},
            }
        ),
        f"{V1}/roles": _ops(
            get={
                "summary": "The organization's roles, their permissions and group limits",
                "description": "Needs roles.manage or roles.assign.",
                "responses": {"200": json_response(ref("RoleList"))},
            }
        ),
        f"{V1}/members": _ops(
            get={
                "summary": "The organization's members and their roles",
                "description": "Needs roles.assign.",
                "responses": {"200": json_response(ref("MemberList"))},
            }
        ),
        f"{V1}/members/{{membership_id}}/role": {
            "parameters": [id_param("membership_id", "membership id")],
            **_ops(
                put={
                    "summary": "Give a member another role",
                    "description": "Needs roles.assign. Refused (403) for a role holding "
                    "permissions or covering reporting groups beyond the caller's own, for "
                    "the caller's own membership, or a member stronger than the caller; "
                    "409 for the last Organization Admin.",
                    "requestBody": request_body(bodies.MemberRoleBody),
                    "responses": {
                        "200": json_response(ref("Member")),
                        **errors(409, 413, e409="The last Organization Admin stays"),
                    },
                }
            ),
        },
        f"{V1}/assistances": _ops(
            get={
                "summary": "Assistances in the caller's reporting groups, newest first",
                "description": "Needs ra.start, ra.manage or devices.view. `live=1` lists "
                "the live ones: the leads' view (ra.manage), who may end any of them.",
                "parameters": [
                    query("live", "string", "1: live assistances only", enum=["1", "0"]),
                    query("state", "string", "a state, or live"),
                    query("type", "string", "interactive or unattended"),
                    query("mine", "string", "1: started by the caller", enum=["1", "0"]),
                    query("device", "integer", "device id"),
                    query("q", "string", "hostname contains"),
                    page,
                ],
                "responses": {"200": json_response(ref("AssistancePage"))},
            },
            post={
                "summary": "Start a remote assistance on a device or a user session",
                "description": "Each refusal of SPEC §4 has its own code, from the same "
                f"rules the device shows: {REFUSALS}. 404 for a device outside the "
                "caller's reporting groups.",
                "requestBody": request_body(bodies.AssistanceStartBody),
                "responses": {
                    "202": json_response(ref("Assistance"), "Started"),
                    **errors(409, 413, e409="Refused: the code says why"),
                },
            },
        ),
        f"{V1}/assistances/{{assistance_id}}": {
            "parameters": [assistance],
            **_ops(
                get={
                    "summary": "An assistance and its state",
                    "description": "Needs ra.start, ra.manage or devices.view.",
                    "responses": {"200": json_response(ref("Assistance"))},
                }
            ),
        },
        f"{V1}/assistances/{{assistance_id}}/reveal": {
            "parameters": [assistance],
            **_ops(
                post={
                    "summary": "Unattended: the session ID and password, once (409 after)",
                    "description": "Only the initiating operator. Cache-Control: no-store.",
                    "responses": {
                        "200": json_response(ref("Credentials")),
                        **errors(409, e409="Already revealed, or not ready"),
                    },
                }
            ),
        },
        f"{V1}/assistances/{{assistance_id}}/activation-file": {
            "parameters": [assistance],
            **_ops(
                get={
                    "summary": "The signed activation file (.flxra or .exe)",
                    "description": "Only the initiating operator, while the assistance is "
                    "ready, connected or in its grace window. Cache-Control: no-store.",
                    "responses": {
                        "200": {
                            "description": "The file",
                            "content": {
                                "application/octet-stream": {
                                    "schema": {"type": "string", "format": "binary"}
                                }
                            },
                        },
                        **errors(409, e409="Not ready, or not signed yet"),
                    },
                }
            ),
        },
        f"{V1}/assistances/{{assistance_id}}/end": {
            "parameters": [assistance],
            **_ops(
                post={
                    "summary": "End now (no grace); revoke: true records a revocation",
                    "description": "The initiating operator, or a holder of ra.manage "
                    "(any assistance in the groups their role covers; the audit event names "
                    "whose it was). Others: 403 not_initiator. The body may be omitted.",
                    "requestBody": request_body(bodies.AssistanceEndBody, required=False),
                    "responses": {
                        "200": json_response(ref("Assistance")),
                        **errors(409, 413, e409="Already ended"),
                    },
                }
            ),
        },
        f"{V1}/approvals": _ops(
            get={
                "summary": "Approval requests waiting for the caller's decision",
                "description": "Needs ra.approve. Requests in the groups the caller's role "
                "sees, never the caller's own, oldest first.",
                "responses": {"200": json_response(ref("ApprovalList"))},
            }
        ),
        f"{V1}/assistances/{{assistance_id}}/approve": {
            "parameters": [assistance],
            **_ops(
                post={
                    "summary": "Approve a request: it starts as a direct start would",
                    "description": "Needs ra.approve; never the requester (403 own_request). "
                    "The first decision is final (409 already_decided). Every start rule is "
                    "checked again now: a refusal that arose meanwhile fails the request "
                    "(409 or 4xx with its code). The body may be omitted.",
                    "requestBody": request_body(bodies.ApproveBody, required=False),
                    "responses": {
                        "200": json_response(ref("Assistance")),
                        **errors(403, 409, 413, e409="Already decided, or refused now"),
                    },
                }
            ),
        },
        f"{V1}/assistances/{{assistance_id}}/deny": {
            "parameters": [assistance],
            **_ops(
                post={
                    "summary": "Deny a request, saying why",
                    "description": "Needs ra.approve; never the requester (403 own_request). "
                    "The first decision is final (409 already_decided).",
                    "requestBody": request_body(bodies.DenyBody),
                    "responses": {
                        "200": json_response(ref("Assistance")),
                        **errors(403, 409, 413, e409="Already decided"),
                    },
                }
            ),
        },
        f"{V1}/assistances/{{assistance_id}}/tools": {
            "parameters": [assistance],
            **_ops(
                post={
                    "summary": "Launch a Flexxible Tool",
                    "description": "Interactive and connected; the flag on for the "
                    "operator's role in the device's group; the operator device recorded at "
                    "start in the device's FlexxAgent environment; granted by the file.",
                    "requestBody": request_body(bodies.ToolLaunchBody),
                    "responses": {
                        "202": {
                            "description": "Ordered",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["launched"],
                                        "properties": {"launched": {"type": "string"}},
                                    }
                                }
                            },
                        },
                        **errors(413),
                    },
                }
            ),
        },
        **_settings_paths(group),
    }


def _settings_paths(group: dict[str, Any]) -> dict[str, Any]:
    put = request_body(bodies.SettingsPutBody)
    return {
        f"{V1}/products/{{product_id}}/agent-settings": {
            "parameters": [id_param("product_id", "product id")],
            **_ops(
                get={
                    "summary": "A product's stored FlexxAgent settings (its groups' defaults)",
                    "description": "Needs product.configure or group.configure.",
                    "responses": {"200": json_response(ref("ProductSettings"))},
                },
                put={
                    "summary": "Change a product's settings (partial; null = inherit)",
                    "description": "Needs product.configure.",
                    "requestBody": put,
                    "responses": {"200": json_response(ref("ProductSettings")), **errors(413)},
                },
            ),
        },
        f"{V1}/reporting-groups/{{group_id}}/agent-settings": {
            "parameters": [group],
            **_ops(
                get={
                    "summary": "A group's stored overrides and the values in effect",
                    "description": "Needs group.configure or product.configure.",
                    "responses": {"200": json_response(ref("GroupSettings"))},
                },
                put={
                    "summary": "Change a group's overrides (partial; null = inherit)",
                    "description": "Needs group.configure. A value the product enforces "
                    "is refused with 409 enforced_by_product.",
                    "requestBody": put,
                    "responses": {
                        "200": json_response(ref("GroupSettings")),
                        **errors(409, 413, e409="Enforced by the product"),
                    },
                },
            ),
        },
        f"{V1}/reporting-groups/{{group_id}}/effective-settings": {
            "parameters": [group],
            **_ops(
                get={
                    "summary": "Every setting in effect for a role on the group's devices, "
                    "with provenance",
                    "parameters": [query("role", "integer", "role id; omitted: all roles")],
                    "responses": {"200": json_response(ref("EffectiveSettings"))},
                }
            ),
        },
    }
