"""The agent contract's request bodies (SPEC §5), validated strictly: a bad field is a 400
that names it, never a 500. The same models describe the agent API in the OpenAPI
document. Unknown fields are ignored, so newer agents keep working with this portal."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from app.models.device import DEVICE_KINDS, SESSION_KINDS, SESSION_STATES
from app.web_input import Body

VERSION_RE = r"^\d+(\.\d+){0,3}$"


def _s(max_length: int, min_length: int = 0, pattern: str | None = None):
    return Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=pattern
        ),
    ]


class EnrollBody(Body):
    enrollment_token: _s(200, 1)
    hardware_id: _s(200, 1)
    hostname: _s(255, 1)
    os_name: _s(120)
    os_version: _s(120)
    agent_version: _s(40, 1, VERSION_RE)
    environment: _s(120) = ""
    device_kind: Literal[DEVICE_KINDS]  # type: ignore[valid-type]


class SessionBody(Body):
    session_key: _s(64, 1)
    username: _s(255)
    state: Literal[SESSION_STATES]  # type: ignore[valid-type]
    kind: Literal[SESSION_KINDS]  # type: ignore[valid-type]


class CheckinBody(Body):
    agent_version: _s(40, 1, VERSION_RE)
    agent_instance_id: _s(64, 1)
    os_name: _s(120)
    os_version: _s(120)
    sessions: list[SessionBody] = Field(max_length=500)


class ResultBody(Body):
    status: Literal["succeeded", "failed"]
    result: dict[str, Any] = Field(default_factory=dict)
    error: _s(500) | None = None
