"""The relay API's request bodies (SPEC §5), validated strictly; the same models describe
the relay API in the OpenAPI document."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from app.web_input import Body

# An activation token is a compact JWS of a few hundred bytes; a connection id 32 chars.
Activation = Annotated[str, StringConstraints(min_length=1, max_length=16_384)]
ConnectionId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ConnectBody(Body):
    activation: Activation = Field(description="The activation file's compact JWS")
    password: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="The session password (unattended assistances)"
    )


class ConnectionBody(Body):
    connection_id: ConnectionId = Field(description="As returned by connect")
