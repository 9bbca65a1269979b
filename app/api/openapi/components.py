"""The document's security schemes and schemas. Request bodies are generated from the
pydantic models that validate them; responses are declared here, next to their paths."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from app.agent_api import schemas as agent_schemas
from app.agent_settings import registry
from app.agent_settings.schedule import DAYS
from app.api import schemas as operator_schemas
from app.api.openapi.common import page_of, ref
from app.models.assistance import FILE_KINDS, RA_TYPES, REQUESTED_TYPES, STATES, TEARDOWN
from app.models.device import DEVICE_KINDS, SESSION_KINDS, SESSION_STATES
from app.relay import schemas as relay_schemas

# Every model a request body is validated with (nested ones come along).
REQUEST_MODELS = (
    operator_schemas.AssistanceStartBody,
    operator_schemas.AssistanceEndBody,
    operator_schemas.ApproveBody,
    operator_schemas.DenyBody,
    operator_schemas.ToolLaunchBody,
    operator_schemas.MemberRoleBody,
    operator_schemas.SettingsPutBody,
    operator_schemas.WebhookCreateBody,
    operator_schemas.WebhookUpdateBody,
    agent_schemas.EnrollBody,
    agent_schemas.CheckinBody,
    agent_schemas.ResultBody,
    relay_schemas.ConnectBody,
    relay_schemas.ConnectionBody,
)

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
MOMENT = {"type": "string", "format": "date-time"}
MAYBE_MOMENT = {"type": ["string", "null"], "format": "date-time"}
NAMED = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": INTEGER, "name": STRING},
}


def obj(required: list[str] | tuple[str, ...] | None = None, **properties: Any) -> dict[str, Any]:
    """An object schema; every property is required unless `required` says which."""
    return {
        "type": "object",
        "required": list(properties if required is None else required),
        "properties": properties,
    }


def request_schemas() -> dict[str, Any]:
    """JSON Schemas (2020-12, as OpenAPI 3.1 uses) of the request models, by class name."""
    _, top = models_json_schema(
        [(model, "validation") for model in REQUEST_MODELS],
        ref_template="#/components/schemas/{model}",
    )
    return top["$defs"]


def security_schemes() -> dict[str, Any]:
    return {
        "apiToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "Personal API token (profile page or `flask api-token create`)",
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": "portal_session",
            "description": "The browser session; changes also need X-CSRFToken",
        },
        "deviceToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "The device token a FlexxAgent received when it enrolled",
        },
    }


def _setting_value() -> dict[str, Any]:
    kinds = {
        "ra_types": {"type": "array", "items": {"enum": list(registry.RA_TYPES)}},
        "bool": BOOLEAN,
        "url": STRING,
        "schedule": {
            "type": "array",
            "description": "weekly windows in the organization's time zone (empty: any "
            "time); `to` before `from` crosses midnight. PUT also takes the text form, "
            'e.g. "Mon-Fri 08:00-18:00; Sat 09:00-13:00"',
            "maxItems": 50,
            "items": {
                **obj(
                    ["days", "from", "to"],
                    days={"type": "array", "minItems": 1, "items": {"enum": list(DAYS)}},
                    **{
                        "from": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
                        "to": {
                            "type": "string",
                            "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
                        },
                    },
                ),
                "additionalProperties": False,
            },
        },
    }
    used = sorted({d.kind for d in registry.SETTINGS})
    return {"anyOf": [*(kinds[k] for k in used), {"type": "null"}]}


def operator_schemas_() -> dict[str, Any]:
    listed = ("id", "hostname", "os_name", "os_version", "agent_version", "environment")
    device = obj(
        [*listed, "kind", "reporting_group", "online", "last_checkin_at"],
        id=INTEGER,
        hostname=STRING,
        os_name=STRING,
        os_version=STRING,
        agent_version=STRING,
        environment=STRING,
        kind={"enum": list(DEVICE_KINDS)},
        reporting_group=NAMED,
        online=BOOLEAN,
        last_checkin_at=MAYBE_MOMENT,
        sessions={"type": "array", "items": {"$ref": ref("DeviceSession")}},
        remote_assistance={
            "type": "object",
            "description": "per type: whether it can start now and, if not, the refusal "
            "(the same check that refuses a start)",
            "additionalProperties": obj(
                ["available", "approval_required", "reason_required"],
                available=BOOLEAN,
                code=STRING,
                message=STRING,
                approval_required={
                    **BOOLEAN,
                    "description": "a start by the caller's role waits for an approver",
                },
                reason_required={**BOOLEAN, "description": "a start must carry a reason"},
            ),
        },
    )
    session = obj(
        id=INTEGER,
        session_key=STRING,
        username=STRING,
        state={"enum": list(SESSION_STATES)},
        kind={"enum": list(SESSION_KINDS)},
    )
    listed_session = {
        **session,
        "required": [*session["required"], "device"],
        "properties": {
            **session["properties"],
            "device": obj(id=INTEGER, hostname=STRING),
        },
    }
    assistance = obj(
        id=INTEGER,
        state={"enum": list(STATES)},
        type={"enum": list(RA_TYPES)},
        requested_type={"enum": list(REQUESTED_TYPES)},
        decision_reason=STRING,
        device=obj(id=INTEGER, hostname=STRING),
        session_key={"type": ["string", "null"]},
        operator=obj(id={"type": ["integer", "null"]}, name={"type": ["string", "null"]}),
        session_id={"type": ["string", "null"], "description": "9 digits, once ready"},
        file_kind={"enum": list(FILE_KINDS)},
        file_ready=BOOLEAN,
        password_revealed=BOOLEAN,
        tools={"type": "array", "items": STRING},
        created_at=MOMENT,
        state_since={**MOMENT, "description": "when it entered its current state"},
        ready_until=MAYBE_MOMENT,
        connected_at=MAYBE_MOMENT,
        grace_until=MAYBE_MOMENT,
        window_closes_at={
            **MAYBE_MOMENT,
            "description": "unattended, under an access window: it is ended then",
        },
        ended_at=MAYBE_MOMENT,
        end_reason=STRING,
        teardown={"enum": list(TEARDOWN)},
        reason=STRING,
        ticket=STRING,
        approval={
            "oneOf": [
                {"type": "null"},
                obj(
                    expires_at={**MOMENT, "description": "undecided by then: expired"},
                    decided_by={"oneOf": [{"type": "null"}, NAMED]},
                    decided_at=MAYBE_MOMENT,
                    note=STRING,
                ),
            ],
            "description": "null unless the start needed approval",
        },
    )
    audit_event = obj(
        id=INTEGER,
        seq={**INTEGER, "description": "position in the organization's chain"},
        occurred_at=MOMENT,
        actor=STRING,
        actor_user_id={"type": ["integer", "null"]},
        action=STRING,
        target_type=STRING,
        target_id=STRING,
        details={"type": "object"},
        ip=STRING,
        prev_hash=STRING,
        hash=STRING,
    )
    role = obj(
        id=INTEGER,
        name=STRING,
        builtin={"type": ["string", "null"]},
        permissions={"type": "array", "items": STRING},
        reporting_groups={
            "type": ["array", "null"],
            "items": INTEGER,
            "description": "ids of the groups the role is limited to; null: every group",
        },
        members=INTEGER,
    )
    member = obj(
        ["id", "user", "role"],
        id=INTEGER,
        user=obj(id=INTEGER, email=STRING, name=STRING),
        role=NAMED,
        changed={**BOOLEAN, "description": "PUT only: whether the role changed"},
    )
    stored = obj(
        ["value", "set", "enforced"],
        value={**_setting_value(), "description": "null: inherited"},
        set=BOOLEAN,
        enforced=BOOLEAN,
        by_role={
            "type": "object",
            "description": "per role id (per-role settings only)",
            "additionalProperties": obj(value=_setting_value(), enforced=BOOLEAN),
        },
    )
    effective = obj(
        value=_setting_value(),
        source={"enum": ["default", "product", "product_role", "group", "group_role", "enforced"]},
        source_label=STRING,
        locked=BOOLEAN,
    )
    stored_map = {"type": "object", "additionalProperties": {"$ref": ref("StoredSetting")}}
    effective_map = {"type": "object", "additionalProperties": {"$ref": ref("Effective")}}
    changes = {"type": "array", "items": {"type": "object"}, "description": "PUT only"}
    group = obj(id=INTEGER, name=STRING, product=NAMED)
    return {
        "Device": device,
        "DevicePage": page_of(ref("Device")),
        "DeviceSession": session,
        "Session": listed_session,
        "SessionPage": page_of(ref("Session")),
        "Assistance": assistance,
        "AssistancePage": page_of(ref("Assistance")),
        "ApprovalList": obj(
            items={"type": "array", "items": {"$ref": ref("Assistance")}}, total=INTEGER
        ),
        "Credentials": obj(session_id=STRING, password=STRING),
        "AuditEvent": audit_event,
        "AuditPage": page_of(ref("AuditEvent")),
        "Role": role,
        "RoleList": obj(items={"type": "array", "items": {"$ref": ref("Role")}}),
        "Member": member,
        "MemberList": obj(items={"type": "array", "items": {"$ref": ref("Member")}}),
        "StoredSetting": stored,
        "Effective": effective,
        "ProductSettings": obj(
            ["product", "settings"], product=NAMED, settings=stored_map, changes=changes
        ),
        "GroupSettings": obj(
            ["reporting_group", "settings", "effective"],
            reporting_group=group,
            settings=stored_map,
            effective=effective_map,
            changes=changes,
        ),
        "EffectiveSettings": obj(
            reporting_group=NAMED,
            role={"anyOf": [NAMED, {"type": "null"}]},
            settings=effective_map,
        ),
    }


def agent_and_relay_schemas() -> dict[str, Any]:
    return {
        "Enrolled": obj(
            device_id=INTEGER,
            device_token={**STRING, "description": "shown once; send as Bearer from now on"},
            checkin_interval_s=INTEGER,
        ),
        "AgentOrder": obj(
            id=INTEGER,
            type={
                "enum": [
                    "ra.interactive.start",
                    "ra.unattended.start",
                    "ra.unattended.stop",
                    "ra.end",
                    "tools.launch",
                ]
            },
            created_at=MOMENT,
            payload={"type": "object"},
        ),
        "CheckinAnswer": obj(
            settings={
                "type": "object",
                "description": "the group's effective FlexxAgent settings for all roles, "
                "plus flexxible_tools_by_role",
            },
            orders={"type": "array", "items": {"$ref": ref("AgentOrder")}},
            checkin_interval_s=INTEGER,
        ),
        "Orders": obj(orders={"type": "array", "items": {"$ref": ref("AgentOrder")}}),
        "OrderAnswered": obj(id=INTEGER, status={"enum": ["succeeded", "failed", "expired"]}),
        "Connected": obj(
            connection_id={**STRING, "description": "the connection's only credential"},
            assistance_id=INTEGER,
            relay_url=STRING,
            heartbeat_interval_s={
                **INTEGER,
                "description": "send POST /heartbeat this often; 3 missed = disconnected",
            },
        ),
        "Disconnected": obj(
            assistance_id=INTEGER,
            state={"enum": list(STATES)},
            grace_until=MAYBE_MOMENT,
        ),
        "Jwks": obj(keys={"type": "array", "items": {"type": "object"}}),
    }


def components() -> dict[str, Any]:
    error = obj(
        error=obj(
            ["code", "message"],
            code=STRING,
            message=STRING,
            field={**STRING, "description": "the input at fault, when there is one"},
        )
    )
    return {
        "securitySchemes": security_schemes(),
        "schemas": {
            "Error": error,
            **operator_schemas_(),
            **agent_and_relay_schemas(),
            **request_schemas(),
        },
    }
