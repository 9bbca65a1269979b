"""Webhook jobs: each takes an endpoint id (never a secret) and calls the delivery service."""

from __future__ import annotations

import logging

from app.webhooks import delivery

log = logging.getLogger(__name__)


def deliver_endpoint(endpoint_id: int) -> int:
    """Deliver what is due for one endpoint, in order."""
    return delivery.deliver_endpoint(endpoint_id)


def sweep_webhooks() -> int:
    """Wake every endpoint with a due delivery (what a lost job or Redis would leave)."""
    return delivery.sweep()


def prune_webhook_deliveries() -> int:
    removed = delivery.prune()
    if removed:
        log.info("pruned %d delivered webhook deliveries past retention", removed)
    return removed
