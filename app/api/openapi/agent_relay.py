"""The agent API (/api/agent/v1, FlexxAgent) and the relay API (/api/relay/v1, the
operator's RA client) in the same document: their request bodies are the pydantic models
that validate them (`app.agent_api.schemas`, `app.relay.schemas`)."""

from __future__ import annotations

from typing import Any

from app.agent_api import schemas as agent
from app.api.openapi.common import errors, id_param, json_response, ref, request_body
from app.relay import schemas as relay

AGENT = "/api/agent/v1"
RELAY = "/api/relay/v1"
DEVICE = [{"deviceToken": []}]
ANYONE: list = []


def _op(tags: str, security: list, **op: Any) -> dict[str, Any]:
    return {"tags": [tags], "security": security, **op}


def agent_paths() -> dict[str, Any]:
    return {
        f"{AGENT}/enroll": {
            "post": _op(
                "agent",
                ANYONE,
                summary="Enroll a device with an enrollment token (the same hardware_id "
                "again updates its device and replaces its token)",
                description="Cache-Control: no-store (the answer holds the device token).",
                requestBody=request_body(agent.EnrollBody),
                responses={
                    "201": json_response(ref("Enrolled"), "Enrolled"),
                    **errors(
                        400,
                        401,
                        413,
                        503,
                        e401="invalid_enrollment_token: unknown, expired, revoked or used up",
                    ),
                },
            )
        },
        f"{AGENT}/checkin": {
            "post": _op(
                "agent",
                DEVICE,
                summary="Report facts and user sessions; get settings and pending orders",
                description="`sessions` is the full list and replaces what the portal knew. "
                "A field the portal cannot store (a NUL byte, invalid text) is a 400 naming "
                "it, e.g. sessions[1].username.",
                requestBody=request_body(agent.CheckinBody),
                responses={
                    "200": json_response(ref("CheckinAnswer")),
                    **errors(400, 401, 413, 503),
                },
            )
        },
        f"{AGENT}/orders": {
            "get": _op(
                "agent",
                DEVICE,
                summary="Long poll: pending orders now, or as soon as one exists",
                parameters=[
                    {
                        "name": "wait",
                        "in": "query",
                        "required": False,
                        "description": "seconds to wait for an order, 0 to 30",
                        "schema": {"type": "number", "minimum": 0, "maximum": 30},
                    }
                ],
                responses={
                    "200": json_response(ref("Orders")),
                    **errors(400, 401, 503, e503="Order wake-ups unavailable; see Retry-After"),
                },
            )
        },
        f"{AGENT}/orders/{{order_id}}/result": {
            "parameters": [id_param("order_id", "order id")],
            "post": _op(
                "agent",
                DEVICE,
                summary="Report an order's result (idempotent)",
                requestBody=request_body(agent.ResultBody),
                responses={
                    "200": json_response(ref("OrderAnswered")),
                    **errors(400, 401, 404, 409, 413, 503, e409="order_expired: answered too late"),
                },
            ),
        },
    }


def relay_paths() -> dict[str, Any]:
    throttled = (400, 413, 429, 503)
    return {
        f"{RELAY}/connect": {
            "post": _op(
                "relay",
                ANYONE,
                summary="Open a connection with an activation file (and the password, unattended)",
                description="Every relay call counts against a per-address limit (429). "
                "Cache-Control: no-store (the connection id is its only credential).",
                requestBody=request_body(relay.ConnectBody),
                responses={
                    "200": json_response(ref("Connected")),
                    **errors(
                        401,
                        409,
                        410,
                        423,
                        *throttled,
                        e401="invalid_activation, or wrong_password",
                        e409="not_ready, or already_connected",
                        e410="ended: the file and credentials no longer work",
                        e423="locked: too many wrong passwords",
                    ),
                },
            )
        },
        f"{RELAY}/heartbeat": {
            "post": _op(
                "relay",
                ANYONE,
                summary="The RA client is alive: send every heartbeat_interval_s",
                description="Three intervals without one and the connection is a "
                "disconnection (unattended: grace window; interactive: ended). Heartbeats "
                "of live connections do not count against the address's limit; unknown "
                "ones do.",
                requestBody=request_body(relay.ConnectionBody),
                responses={
                    "204": {"description": "The connection is live"},
                    **errors(
                        410,
                        *throttled,
                        e410="connection_gone: disconnected, dropped or ended",
                    ),
                },
            )
        },
        f"{RELAY}/disconnect": {
            "post": _op(
                "relay",
                ANYONE,
                summary="Close the connection (unattended: the grace window starts)",
                requestBody=request_body(relay.ConnectionBody),
                responses={
                    "200": json_response(ref("Disconnected")),
                    **errors(404, *throttled, e404="unknown_connection"),
                },
            )
        },
        "/.well-known/jwks.json": {
            "get": _op(
                "relay",
                ANYONE,
                summary="The public keys activation files are signed with (RFC 7517)",
                responses={"200": json_response(ref("Jwks"))},
            )
        },
    }
