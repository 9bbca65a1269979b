"""Orders for agents: creation (with a Redis wake-up), delivery (long poll or check-in),
results (idempotent) and expiry.

The database holds every order; Redis only wakes a waiting long poll. Secret payload fields
are sealed at rest and destroyed once the order is delivered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, or_, select, update

from app.core import metrics, sealing
from app.core.after_commit import on_commit
from app.extensions import db, redis_store
from app.fleet import wakeups
from app.models import AgentOrder, Device, utcnow

log = logging.getLogger(__name__)
SEAL_PURPOSE = "agent-order"

# order type -> callbacks(order) run in the result's transaction (the assistance logic
# registers here); keeps this module free of assistance rules.
RESULT_HANDLERS: dict[str, list[Callable[[AgentOrder], None]]] = {}


def on_result(order_type: str):
    def register(fn):
        RESULT_HANDLERS.setdefault(order_type, []).append(fn)
        return fn

    return register


class OrderError(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class WakeupsUnavailable(RuntimeError):
    """Redis cannot be reached: long polls cannot be woken (answer 503)."""


def _announce(device_id: int) -> None:
    wakeups.publish(redis_store.client, device_id)


def create_order(
    device: Device,
    order_type: str,
    payload: dict[str, Any],
    *,
    secret: dict[str, Any] | None = None,
    pickup_s: int | None = None,
    answer_s: int | None = None,
    actor=None,
) -> AgentOrder:
    """Queue an order for `device`; a waiting long poll wakes when the caller commits.
    `secret` fields are sealed until delivery."""
    timeout = current_app.config["RA_AGENT_TIMEOUT_SECONDS"]
    now = utcnow()
    order = AgentOrder(
        organization_id=device.organization_id,
        device_id=device.id,
        type=order_type,
        payload=payload,
        status="pending",
        created_at=now,
        sealed_payload=sealing.seal(SEAL_PURPOSE, secret) if secret else None,
        pickup_by=now + timedelta(seconds=pickup_s or timeout),
        answer_within_s=answer_s or timeout,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(order)
    db.session.flush()
    device_id = device.id
    on_commit(lambda: _announce(device_id), key=("wake", device_id))
    return order


def deliver_pending(device_id: int) -> list[dict[str, Any]]:
    """Hand the device its pending orders (marking them delivered, opening and destroying
    sealed fields) and commit. Rows locked by a concurrent poll are skipped, so an order is
    delivered once."""
    now = utcnow()
    orders = (
        db.session.execute(
            select(AgentOrder)
            .where(
                AgentOrder.device_id == device_id,
                AgentOrder.status == "pending",
                AgentOrder.pickup_by > now,
            )
            .order_by(AgentOrder.id)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    if not orders:
        db.session.rollback()
        return []
    delivered = []
    for order in orders:
        payload = dict(order.payload)
        if order.sealed_payload is not None:
            try:
                payload.update(sealing.open_sealed(SEAL_PURPOSE, order.sealed_payload))
            except sealing.SealBroken:
                order.status, order.error = "failed", "sealed payload unreadable"
                order.completed_at = now
                order.sealed_payload = None
                continue
            order.sealed_payload = None
        order.status = "delivered"
        order.delivered_at = now
        order.answer_by = now + timedelta(seconds=order.answer_within_s)
        delivered.append(order.as_agent_json(payload))
    db.session.commit()
    return delivered


def wait_for_orders(
    device, wait_s: float, *, checked_at: float, still_there: Callable[[], bool] = lambda: True
) -> list[dict[str, Any]]:
    """Long poll: pending orders now, or as soon as one is created, or [] after `wait_s`.

    `checked_at` is when the device (and whether it had pending orders) was read. The poll
    parks in this process's wake-up hub holding no database or Redis connection; it looks
    in the database only when it may have an order."""
    device_id = device.id
    had_pending = getattr(device, "has_pending_orders", True)
    if wait_s <= 0:
        return deliver_pending(device_id) if had_pending else []
    hub = wakeups.hub_for(current_app._get_current_object())
    # Park before looking at the subscription: a loss noticed after this check releases
    # this poll, one noticed before it is seen here.
    waiter = hub.park(device_id)
    metrics.POLLS_PARKED.inc()
    try:
        if not hub.connected and not hub.wait_connected(1.0):
            raise WakeupsUnavailable("no wake-up subscription")
        if had_pending or hub.may_have_missed(device_id, checked_at):
            orders = deliver_pending(device_id)
            if orders:
                return orders
        else:
            db.session.rollback()
        db.session.close()  # give the connection back while parked
        deadline = time.monotonic() + wait_s
        while (remaining := deadline - time.monotonic()) > 0.01:
            if not waiter.wait(remaining):
                break
            if not hub.connected:
                raise WakeupsUnavailable("the wake-up subscription was lost while parked")
            if not still_there():
                # The agent hung up while parked (it crashed or restarted): an order
                # handed to this dead connection would count as delivered and be lost.
                return []
            orders = deliver_pending(device_id)
            db.session.close()
            if orders:
                return orders
        return []
    finally:
        hub.leave(waiter)
        metrics.POLLS_PARKED.dec()


def record_result(
    device, order_id: int, status: str, result: dict[str, Any], error: str | None
) -> AgentOrder:
    """Store the agent's answer. Repeating the same answer is harmless (idempotent); a
    different answer to a finished order is a conflict. Caller commits."""
    order = db.session.execute(
        select(AgentOrder)
        .where(AgentOrder.id == order_id, AgentOrder.device_id == device.id)
        .with_for_update()
    ).scalar_one_or_none()
    if order is None:
        raise OrderError(404, "unknown_order", f"order {order_id} does not exist for this device")
    if order.status in ("succeeded", "failed"):
        if order.status == status and (order.result or {}) == result:
            return order
        raise OrderError(
            409, "already_answered", f"order {order_id} was already answered ({order.status})"
        )
    if order.status == "expired":
        raise OrderError(409, "order_expired", f"order {order_id} expired before this answer")
    order.status = status
    order.result = result
    order.error = error
    order.completed_at = utcnow()
    order.sealed_payload = None
    for handler in RESULT_HANDLERS.get(order.type, []):
        handler(order)
    return order


def expire_overdue(now=None, limit: int = 1000) -> int:
    """Expire orders not picked up, or not answered, in time. Safe with several workers."""
    now = now or utcnow()
    overdue = (
        db.session.execute(
            select(AgentOrder.id)
            .where(
                or_(
                    and_(AgentOrder.status == "pending", AgentOrder.pickup_by <= now),
                    and_(AgentOrder.status == "delivered", AgentOrder.answer_by <= now),
                )
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    if overdue:
        db.session.execute(
            update(AgentOrder)
            .where(AgentOrder.id.in_(overdue))
            .values(status="expired", completed_at=now, sealed_payload=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return len(overdue)


def recent_orders(device_id: int, limit: int = 10) -> list[AgentOrder]:
    return list(
        db.session.execute(
            select(AgentOrder)
            .where(AgentOrder.device_id == device_id)
            .order_by(AgentOrder.id.desc())
            .limit(limit)
        ).scalars()
    )
