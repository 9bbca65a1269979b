"""Webhook endpoints through the operator API (`webhooks.manage`): the same service as
Settings → Webhooks; secrets appear once, in the answer that made them (no-store)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import jsonify, request
from flask_login import current_user

from app.api import bp
from app.api.auth import require
from app.api.schemas import WebhookCreateBody, WebhookUpdateBody
from app.core.listing import page_number
from app.errors import json_error
from app.extensions import db
from app.models import WebhookDelivery, WebhookEndpoint
from app.security import no_store
from app.tenancy import current_org, get_in_org_or_404
from app.web_input import json_object, parse
from app.webhooks import endpoints as service

PERMISSION = "webhooks.manage"


@bp.errorhandler(service.WebhookError)
def webhook_refused(exc: service.WebhookError):
    db.session.rollback()
    return json_error(exc.status, exc.message, exc.code, field=exc.field)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _status(e: WebhookEndpoint) -> str:
    if not e.enabled:
        return "disabled"
    return "failing" if e.failing_since else "active"


def endpoint_json(e: WebhookEndpoint, undelivered: int) -> dict[str, Any]:
    creator = e.created_by
    return {
        "id": e.id,
        "url": e.url,
        "events": e.events,
        "enabled": e.enabled,
        "status": _status(e),
        "disabled_reason": e.disabled_reason or None,
        "disabled_at": _iso(e.disabled_at),
        "failing_since": _iso(e.failing_since),
        "retry_at": _iso(e.retry_at),
        "undelivered": undelivered,
        "secret_prefix": e.secret_prefix,
        "created_by": {"id": creator.id, "email": creator.email} if creator else None,
        "created_at": _iso(e.created_at),
    }


def delivery_json(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.delivery_id,
        "event_type": d.event_type,
        "state": d.state,
        "attempts": d.attempts,
        "created_at": _iso(d.created_at),
        "last_attempt_at": _iso(d.last_attempt_at),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error or None,
        "delivered_at": _iso(d.delivered_at),
    }


def _one(e: WebhookEndpoint, **extra) -> dict[str, Any]:
    return {**endpoint_json(e, service.undelivered_counts(e.organization_id).get(e.id, 0)), **extra}


@bp.get("/webhooks")
@require(PERMISSION)
def list_webhooks():
    counts = service.undelivered_counts(current_org.id)
    items = [endpoint_json(e, counts.get(e.id, 0)) for e in service.endpoints_of(current_org.id)]
    return jsonify({"items": items})


@bp.post("/webhooks")
@no_store
@require(PERMISSION)
def create_webhook():
    body = parse(WebhookCreateBody)
    endpoint, secret = service.create_endpoint(
        current_org.id, current_user._get_current_object(), body.url, body.events
    )
    db.session.commit()
    return jsonify(_one(endpoint, secret=secret)), 201


@bp.get("/webhooks/<int:endpoint_id>")
@require(PERMISSION)
def get_webhook(endpoint_id: int):
    return jsonify(_one(get_in_org_or_404(WebhookEndpoint, endpoint_id)))


@bp.put("/webhooks/<int:endpoint_id>")
@require(PERMISSION)
def put_webhook(endpoint_id: int):
    endpoint = get_in_org_or_404(WebhookEndpoint, endpoint_id)
    body = parse(WebhookUpdateBody, json_object(optional=True))
    actor = current_user._get_current_object()
    changed = service.update_endpoint(endpoint, actor, body.url, body.events)
    if body.enabled is not None:
        changed = service.set_enabled(endpoint, actor, body.enabled) or changed
    db.session.commit()
    return jsonify(_one(endpoint, changed=changed))


@bp.delete("/webhooks/<int:endpoint_id>")
@require(PERMISSION)
def delete_webhook(endpoint_id: int):
    service.delete_endpoint(
        get_in_org_or_404(WebhookEndpoint, endpoint_id), current_user._get_current_object()
    )
    db.session.commit()
    return "", 204


@bp.post("/webhooks/<int:endpoint_id>/rotate-secret")
@no_store
@require(PERMISSION)
def rotate_webhook_secret(endpoint_id: int):
    endpoint = get_in_org_or_404(WebhookEndpoint, endpoint_id)
    secret = service.rotate_secret(endpoint, current_user._get_current_object())
    db.session.commit()
    return jsonify(_one(endpoint, secret=secret))


@bp.post("/webhooks/<int:endpoint_id>/test")
@require(PERMISSION)
def test_webhook(endpoint_id: int):
    endpoint = get_in_org_or_404(WebhookEndpoint, endpoint_id)
    delivery = service.send_test(endpoint, current_user._get_current_object())
    db.session.commit()
    return jsonify(delivery_json(delivery)), 202


@bp.get("/webhooks/<int:endpoint_id>/deliveries")
@require(PERMISSION)
def list_webhook_deliveries(endpoint_id: int):
    endpoint = get_in_org_or_404(WebhookEndpoint, endpoint_id)
    page = service.deliveries_of(endpoint, page_number(request.args))
    return jsonify(page.as_json([delivery_json(d) for d in page.items]))
