"""OpenAPI description of the webhook endpoints (/api/v1/webhooks) and their answers."""

from __future__ import annotations

from typing import Any

from app.api.openapi.common import (
    OPERATOR_ERRORS,
    errors,
    id_param,
    json_response,
    page_of,
    query,
    ref,
    request_body,
)
from app.api.schemas import WebhookCreateBody, WebhookUpdateBody

V1 = "/api/v1"
NEEDS = "Needs webhooks.manage. "
_INT = {"type": "integer"}
_STR = {"type": "string"}
_MAYBE_STR = {"type": ["string", "null"]}
_MAYBE_MOMENT = {"type": ["string", "null"], "format": "date-time"}
_MOMENT = {"type": "string", "format": "date-time"}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": sorted(properties)}


def _ops(**operations: dict[str, Any]) -> dict[str, Any]:
    return {
        method: {**op, "responses": {**errors(*OPERATOR_ERRORS), **op["responses"]}}
        for method, op in operations.items()
    }


def webhook_paths() -> dict[str, Any]:
    endpoint = id_param("endpoint_id", "webhook endpoint id")
    return {
        f"{V1}/webhooks": _ops(
            get={
                "summary": "The organization's webhook endpoints",
                "description": NEEDS + "Secrets are never listed (only their first characters).",
                "responses": {"200": json_response(ref("WebhookList"))},
            },
            post={
                "summary": "Create a webhook endpoint; its signing secret is in this answer only",
                "description": NEEDS + "Cache-Control: no-store. Every change is audited "
                "(webhook.*). At most 20 endpoints per organization.",
                "requestBody": request_body(WebhookCreateBody),
                "responses": {
                    "201": json_response(ref("WebhookWithSecret"), "Created"),
                    **errors(409, 413, e409="too_many_endpoints"),
                },
            },
        ),
        f"{V1}/webhooks/{{endpoint_id}}": {
            "parameters": [endpoint],
            **_ops(
                get={
                    "summary": "One webhook endpoint with its delivery state",
                    "description": NEEDS,
                    "responses": {"200": json_response(ref("Webhook"))},
                },
                put={
                    "summary": "Change the URL, the events, or enable / disable the endpoint",
                    "description": NEEDS + "Omitted fields stay as they are. Enabling resumes "
                    "delivery where it stopped, in order; a disabled endpoint gets no new "
                    "events.",
                    "requestBody": request_body(WebhookUpdateBody),
                    "responses": {
                        "200": json_response(ref("WebhookChanged")),
                        **errors(413),
                    },
                },
                delete={
                    "summary": "Delete the endpoint, its delivery log and its undelivered "
                    "deliveries",
                    "description": NEEDS,
                    "responses": {"204": {"description": "Deleted"}},
                },
            ),
        },
        f"{V1}/webhooks/{{endpoint_id}}/rotate-secret": {
            "parameters": [endpoint],
            **_ops(
                post={
                    "summary": "Replace the signing secret; the new one is in this answer only",
                    "description": NEEDS + "Cache-Control: no-store. Deliveries from now on, "
                    "queued ones included, are signed with the new secret.",
                    "responses": {"200": json_response(ref("WebhookWithSecret"))},
                }
            ),
        },
        f"{V1}/webhooks/{{endpoint_id}}/test": {
            "parameters": [endpoint],
            **_ops(
                post={
                    "summary": "Queue a test event (type ping) for this endpoint",
                    "description": NEEDS + "It goes out after what is already queued for "
                    "the endpoint (in order).",
                    "responses": {
                        "202": json_response(ref("WebhookDelivery"), "Queued"),
                        **errors(409, e409="endpoint_disabled"),
                    },
                }
            ),
        },
        f"{V1}/webhooks/{{endpoint_id}}/deliveries": {
            "parameters": [endpoint],
            **_ops(
                get={
                    "summary": "The endpoint's delivery log, newest first",
                    "description": NEEDS + "Delivered ones are kept "
                    "WEBHOOK_LOG_RETENTION_DAYS days.",
                    "parameters": [query("page", "integer", "page number, from 1")],
                    "responses": {"200": json_response(ref("WebhookDeliveryPage"))},
                }
            ),
        },
    }


def webhook_schemas() -> dict[str, Any]:
    webhook = _object(
        {
            "id": _INT,
            "url": _STR,
            "events": {"type": "array", "items": _STR},
            "enabled": {"type": "boolean"},
            "status": {"enum": ["active", "failing", "disabled"]},
            "disabled_reason": _MAYBE_STR,
            "disabled_at": _MAYBE_MOMENT,
            "failing_since": _MAYBE_MOMENT,
            "retry_at": {
                **_MAYBE_MOMENT,
                "description": "when the oldest undelivered delivery is tried again",
            },
            "undelivered": _INT,
            "secret_prefix": _STR,
            "created_by": {
                "anyOf": [_object({"id": _INT, "email": _STR}), {"type": "null"}],
            },
            "created_at": _MOMENT,
        }
    )
    delivery = _object(
        {
            "id": {**_STR, "description": "X-Portal-Delivery and the body's id"},
            "event_type": _STR,
            "state": {"enum": ["pending", "delivered"]},
            "attempts": _INT,
            "created_at": _MOMENT,
            "last_attempt_at": _MAYBE_MOMENT,
            "last_status_code": {"type": ["integer", "null"]},
            "last_error": _MAYBE_STR,
            "delivered_at": _MAYBE_MOMENT,
        }
    )
    return {
        "Webhook": webhook,
        "WebhookList": _object({"items": {"type": "array", "items": {"$ref": ref("Webhook")}}}),
        "WebhookWithSecret": {
            **webhook,
            "properties": {
                **webhook["properties"],
                "secret": {**_STR, "description": "shown once; sign-check deliveries with it"},
            },
            "required": sorted([*webhook["required"], "secret"]),
        },
        "WebhookChanged": {
            **webhook,
            "properties": {**webhook["properties"], "changed": {"type": "boolean"}},
            "required": sorted([*webhook["required"], "changed"]),
        },
        "WebhookDelivery": delivery,
        "WebhookDeliveryPage": page_of(ref("WebhookDelivery")),
    }
