"""The operator API's request bodies. They validate the requests and describe them in the
OpenAPI document (one source: nothing to keep in step by hand)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from app.assistance.launch import TOOLS
from app.core.listing import MAX_ID
from app.models.assistance import REQUESTED_TYPES
from app.web_input import Body

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _absent_by_default(schema: dict[str, Any]) -> None:
    # An optional id is absent, never null: the schema shows no `default: null`.
    schema.pop("default", None)


OptionalId = Annotated[int, Field(ge=1, le=MAX_ID, json_schema_extra=_absent_by_default)]


class AssistanceStartBody(Body):
    # Exactly one target; the ids are numbers or absent (null is refused, not "absent").
    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["device_id"]}, {"required": ["session_id"]}]}
    )

    device_id: OptionalId = Field(default=None, description="the device to assist")
    session_id: OptionalId = Field(
        default=None,
        description="a user session id (GET /sessions): assists that session's user",
    )
    # A plain string: an unknown type is refused by the start rules (code unknown_type).
    type: Annotated[str, StringConstraints(max_length=40)] = Field(
        json_schema_extra={"enum": list(REQUESTED_TYPES)}
    )
    operator_device_id: OptionalId = Field(
        default=None,
        description="the device the operator works from (default: the one on their profile); "
        "decides the file kind and, with its FlexxAgent environment, Flexxible Tools",
    )
    reason: Annotated[str, StringConstraints(max_length=500)] = Field(
        default="",
        description="why the assistance is needed (required where the group's "
        "remote_assistance.reason_required is on: refusal reason_required); kept on the "
        "assistance and in the audit log, never in the activation file",
    )
    ticket: Annotated[str, StringConstraints(max_length=100)] = Field(
        default="", description="the ITSM ticket it belongs to, if any"
    )

    @model_validator(mode="after")
    def _one_target(self) -> AssistanceStartBody:
        if (self.device_id is None) == (self.session_id is None):
            raise ValueError("give exactly one of device_id and session_id")
        return self


class AssistanceEndBody(Body):
    revoke: bool = Field(
        default=False, description="record the end as a revocation (assistance.revoked)"
    )


class ApproveBody(Body):
    note: Annotated[str, StringConstraints(max_length=500)] = Field(
        default="", description="a note kept with the decision and told to the requester"
    )


class DenyBody(Body):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="why the request is denied (told to the requester)"
    )


class ToolLaunchBody(Body):
    tool: Annotated[str, StringConstraints(max_length=40)] = Field(
        json_schema_extra={"enum": list(TOOLS)}
    )


class MemberRoleBody(Body):
    role_id: Id


class RoleSettingSpec(Body):
    model_config = ConfigDict(extra="forbid")

    value: Any = Field(description="the value for this role; null = inherit")
    enforced: bool = Field(default=False, description="product scope only")


class SettingSpec(Body):
    model_config = ConfigDict(extra="forbid")

    value: Any = Field(default=None, description="the value for all roles; null = inherit")
    enforced: bool = Field(default=False, description="product scope only")
    by_role: dict[Annotated[str, StringConstraints(pattern=r"^\d{1,10}$")], RoleSettingSpec] = (
        Field(default_factory=dict, description="values per role, keyed by role id")
    )


class SettingsPutBody(Body):
    """A partial change: omitted keys stay as they are; `value: null` inherits."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "settings": {
                        "remote_assistance.types": {"value": ["interactive", "unattended"]},
                        "flexxible_tools": {"by_role": {"3": {"value": True}}},
                    }
                }
            ]
        }
    )

    settings: dict[Annotated[str, StringConstraints(max_length=80)], SettingSpec]


def settings_field(loc: tuple) -> str:
    """Name a settings error as the settings service does: `key`, or `key@role id`."""
    if len(loc) < 2:
        return "settings"
    key = str(loc[1])
    if len(loc) >= 4 and loc[2] == "by_role":
        return f"{key}@{loc[3]}"
    return key


WebhookUrl = Annotated[str, StringConstraints(max_length=2000)]
EventEntry = Annotated[str, StringConstraints(max_length=100)]
_URL_TEXT = (
    "where events are POSTed: https:// (http:// only where private networks are allowed); "
    "loopback, private and link-local addresses are refused in production"
)
_EVENTS_TEXT = (
    'event types or groups: "*" (all), a group such as "assistance.*", or one type such '
    'as "assistance.started"; groups: assistance, agent_settings, organization, sso, '
    "role, membership, webhook"
)


class WebhookCreateBody(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"url": "https://siem.example.com/portal", "events": ["assistance.*"]}]
        }
    )

    url: WebhookUrl = Field(description=_URL_TEXT)
    events: list[EventEntry] = Field(min_length=1, max_length=50, description=_EVENTS_TEXT)


class WebhookUpdateBody(Body):
    """A partial change: omitted fields stay as they are."""

    url: WebhookUrl = Field(
        default=None, description=_URL_TEXT, json_schema_extra=_absent_by_default
    )
    events: list[EventEntry] = Field(
        default=None,
        min_length=1,
        max_length=50,
        description=_EVENTS_TEXT,
        json_schema_extra=_absent_by_default,
    )
    enabled: bool = Field(
        default=None,
        description="false: no events are sent to it; true: delivery resumes, in order",
        json_schema_extra=_absent_by_default,
    )
