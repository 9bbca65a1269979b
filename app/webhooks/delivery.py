"""Sending the outbox. One worker at a time delivers an endpoint: it takes the endpoint's
lease with a compare-and-set UPDATE (no transaction stays open during the HTTP request,
and a killed worker's lease lapses), then POSTs its pending deliveries oldest first. A 2xx
marks one delivered and the next goes; anything else (another status, no answer, an address
refused at send time) stops the endpoint until `retry_at` (exponential backoff): later
deliveries wait, so they arrive in order. Failing for WEBHOOK_DISABLE_AFTER_SECONDS
disables the endpoint and its owner is told (`notices`).

Nothing depends on a job having been queued: `sweep` (a periodic job, driven by the
database) wakes every endpoint with something due, so a killed worker or a lost Redis
loses nothing. Each attempt is at least once: a worker killed after the receiver answered
but before it recorded the answer sends that delivery again (same X-Portal-Delivery).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import delete, exists, or_, select, update

from app import audit
from app.core import outbound
from app.core.jobs import QUEUE_WEBHOOKS
from app.core.sealing import SealBroken
from app.extensions import db, redis_store
from app.models import WebhookDelivery, WebhookEndpoint, utcnow
from app.webhooks.notices import tell_owners
from app.webhooks.signing import redact, secret_of, signature

log = logging.getLogger(__name__)

JOB = "app.tasks.webhooks.deliver_endpoint"
# A queued job per endpoint at most: this key says one is waiting (until a worker takes it).
WAKE_KEY = "webhooks:queued:{}"
WAKE_TTL_SECONDS = 300
# A job delivers for this long, then hands over to a fresh job (other endpoints get a turn).
BUDGET_SECONDS = 30.0


def wake(endpoint_id: int) -> None:
    """Have a worker deliver `endpoint_id` soon; nothing if a job for it is already waiting.
    Redis errors propagate (after-commit callbacks and the sweep log them)."""
    client = redis_store.client
    if not client.set(WAKE_KEY.format(endpoint_id), "1", nx=True, ex=WAKE_TTL_SECONDS):
        return
    timeout = current_app.config["WEBHOOK_TIMEOUT_SECONDS"]
    Queue(QUEUE_WEBHOOKS, connection=client).enqueue(
        JOB,
        endpoint_id,
        result_ttl=0,
        failure_ttl=3600,
        job_timeout=int(BUDGET_SECONDS + 3 * timeout + 30),
    )


def _forget_wake(endpoint_id: int) -> None:
    with contextlib.suppress(RedisError):  # else it expires on its own
        redis_store.client.delete(WAKE_KEY.format(endpoint_id))


# --- the lease ------------------------------------------------------------------------
def _lease_seconds() -> int:
    return 2 * current_app.config["WEBHOOK_TIMEOUT_SECONDS"] + 10


def _claim(endpoint_id: int) -> str | None:
    """Take the endpoint's lease if it is enabled, due and nobody holds it."""
    now, token = utcnow(), uuid.uuid4().hex
    taken = db.session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.enabled.is_(True),
            or_(WebhookEndpoint.lease_until.is_(None), WebhookEndpoint.lease_until < now),
            or_(WebhookEndpoint.retry_at.is_(None), WebhookEndpoint.retry_at <= now),
        )
        .values(lease_owner=token, lease_until=now + timedelta(seconds=_lease_seconds()))
    ).rowcount
    db.session.commit()
    return token if taken == 1 else None


def _renew(endpoint_id: int, token: str) -> bool:
    """Extend the lease for one more attempt; False when it was lost or the endpoint was
    disabled meanwhile."""
    renewed = db.session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.lease_owner == token,
            WebhookEndpoint.enabled.is_(True),
        )
        .values(lease_until=utcnow() + timedelta(seconds=_lease_seconds()))
    ).rowcount
    db.session.commit()
    return renewed == 1


def _release(endpoint_id: int, token: str) -> None:
    db.session.rollback()
    db.session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.lease_owner == token)
        .values(lease_owner=None, lease_until=None)
    )
    db.session.commit()


def _pending(endpoint_id: int):
    return exists().where(
        WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.state == "pending"
    )


# --- delivering -----------------------------------------------------------------------
def deliver_endpoint(endpoint_id: int) -> int:
    """Deliver what is due for one endpoint, oldest first, until all is delivered, an
    attempt fails (the rest waits) or the time budget is spent. Returns how many were
    delivered. Idempotent: with the lease held elsewhere or nothing due, it does nothing."""
    _forget_wake(endpoint_id)
    deadline = time.monotonic() + BUDGET_SECONDS
    delivered = 0
    while True:
        token = _claim(endpoint_id)
        if token is None:
            return delivered
        outcome = "idle"
        try:
            while time.monotonic() < deadline:
                outcome = _deliver_next(endpoint_id, token)
                if outcome != "delivered":
                    break
                delivered += 1
            else:
                outcome = "budget"
        finally:
            _release(endpoint_id, token)
        if outcome == "budget":
            with contextlib.suppress(RedisError):  # else the sweep wakes it
                wake(endpoint_id)
            return delivered
        # Idle: a delivery committed while we were releasing has nobody else to send it.
        pending = db.session.execute(select(_pending(endpoint_id))).scalar()
        db.session.commit()
        if outcome != "idle" or not pending:
            return delivered


def _deliver_next(endpoint_id: int, token: str) -> str:
    """Attempt the endpoint's oldest pending delivery: delivered, failed, idle (nothing
    pending) or lost (the lease, or the endpoint's enabled state)."""
    if not _renew(endpoint_id, token):
        return "lost"
    row = db.session.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.delivery_id,
            WebhookDelivery.event_type,
            WebhookDelivery.body,
            WebhookDelivery.attempts,
        )
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.state == "pending")
        .order_by(WebhookDelivery.seq)
        .limit(1)
    ).one_or_none()
    target = db.session.execute(
        select(WebhookEndpoint.url, WebhookEndpoint.secret_sealed).where(
            WebhookEndpoint.id == endpoint_id
        )
    ).one_or_none()
    db.session.commit()  # no transaction stays open while the receiver thinks
    if row is None or target is None:
        return "idle"
    status, error = _post(target.url, target.secret_sealed, row)
    now = utcnow()
    if status is not None and 200 <= status < 300:
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == row.id, WebhookDelivery.state == "pending")
            .values(
                state="delivered",
                attempts=WebhookDelivery.attempts + 1,
                last_attempt_at=now,
                last_status_code=status,
                last_error="",
                delivered_at=now,
            )
        )
        db.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(failing_since=None, retry_at=None)
        )
        db.session.commit()
        return "delivered"
    _failed(endpoint_id, row.id, row.attempts + 1, status, error or f"HTTP {status}", now)
    return "failed"


def _post(url: str, sealed: bytes, row) -> tuple[int | None, str]:
    """Send one delivery: (status, "") for any HTTP answer, (None, why) for none."""
    try:
        secret = secret_of(sealed)
    except SealBroken:
        return None, "the signing secret cannot be read (SECRET_KEY changed?): rotate it"
    body = row.body.encode()
    headers = {
        "X-Portal-Event": row.event_type,
        "X-Portal-Delivery": row.delivery_id,
        "X-Portal-Signature": signature(secret, body),
    }
    cfg = current_app.config
    try:
        answer = outbound.post(
            url,
            body,
            headers,
            timeout=cfg["WEBHOOK_TIMEOUT_SECONDS"],
            allow_private=cfg["WEBHOOK_ALLOW_PRIVATE_NETWORKS"],
            ca_certs=cfg["WEBHOOK_CA_BUNDLE"],
        )
    except outbound.OutboundRefused as exc:
        return None, f"refused: {exc.message}"
    except outbound.OutboundFailed as exc:
        return None, str(exc)
    if 300 <= answer.status < 400:
        return answer.status, f"HTTP {answer.status} (redirects are not followed)"
    return answer.status, ""


def backoff_seconds(attempts: int) -> int:
    """How long the endpoint waits after the `attempts`-th failed attempt of a delivery."""
    cfg = current_app.config
    base, cap = cfg["WEBHOOK_BACKOFF_BASE_SECONDS"], cfg["WEBHOOK_BACKOFF_MAX_SECONDS"]
    return min(cap, base * 2 ** min(attempts - 1, 30))


def _failed(endpoint_id: int, row_id: int, attempts: int, status, error: str, now) -> None:
    endpoint = db.session.execute(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if endpoint is None:  # deleted meanwhile
        db.session.rollback()
        return
    failing_since = endpoint.failing_since or now
    limit = current_app.config["WEBHOOK_DISABLE_AFTER_SECONDS"]
    disable = endpoint.enabled and (now - failing_since).total_seconds() >= limit
    if disable:
        # The audit event first: its chain head is locked before the endpoint's row, the
        # order every transaction touching both follows.
        audit.record(
            "webhook.disabled",
            organization_id=endpoint.organization_id,
            target=endpoint,
            actor_label="system",
            details={
                "url": redact(endpoint.url),
                "reason": "failing",
                "failing_since": failing_since.isoformat(timespec="seconds"),
                "last_error": error[:200],
            },
        )
    db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == row_id, WebhookDelivery.state == "pending")
        .values(
            attempts=WebhookDelivery.attempts + 1,
            last_attempt_at=now,
            last_status_code=status,
            last_error=error[:300],
        )
    )
    endpoint.failing_since = failing_since
    endpoint.retry_at = now + timedelta(seconds=backoff_seconds(attempts))
    if disable:
        endpoint.enabled = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = f"failing since {failing_since:%Y-%m-%d %H:%M} UTC: {error}"[
            :300
        ]
    db.session.commit()
    log.info("webhook endpoint %s: attempt %d failed (%s)", endpoint_id, attempts, error[:100])
    if disable:
        log.warning("webhook endpoint %s disabled after failing since %s", endpoint_id, now)
        tell_owners(endpoint_id)


# --- the periodic sweep -----------------------------------------------------------------
def due_endpoints(now=None, limit: int = 500) -> list[int]:
    """Enabled endpoints with a pending delivery, not backing off, not leased."""
    now = now or utcnow()
    ids = (
        db.session.execute(
            select(WebhookEndpoint.id)
            .where(
                WebhookEndpoint.enabled.is_(True),
                or_(WebhookEndpoint.retry_at.is_(None), WebhookEndpoint.retry_at <= now),
                or_(WebhookEndpoint.lease_until.is_(None), WebhookEndpoint.lease_until < now),
                _pending(WebhookEndpoint.id),
            )
            .order_by(WebhookEndpoint.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    db.session.rollback()
    return list(ids)


def sweep() -> int:
    """Wake every endpoint with something due; how many were."""
    due = due_endpoints()
    for endpoint_id in due:
        try:
            wake(endpoint_id)
        except RedisError as exc:
            log.warning("webhook sweep: Redis unavailable (%s)", type(exc).__name__)
            break
    return len(due)


def prune(now=None) -> int:
    """Forget delivered deliveries older than WEBHOOK_LOG_RETENTION_DAYS."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["WEBHOOK_LOG_RETENTION_DAYS"])
    removed = db.session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.state == "delivered", WebhookDelivery.delivered_at < cutoff
        )
    ).rowcount
    db.session.commit()
    return removed
