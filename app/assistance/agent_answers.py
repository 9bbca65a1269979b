"""The agent's answers to assistance orders (consent given or refused, service started or
not, service removed) and its restarts, registered as handlers of the fleet's order
results and check-ins: the fleet knows nothing of assistances."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app import audit
from app.assistance.lifecycle import end_state, order_stop
from app.assistance.signing import request_signing
from app.extensions import db
from app.fleet.checkin import RESTART_HANDLERS
from app.fleet.orders import on_result
from app.models import AgentOrder, Assistance, Device, utcnow
from app.models.assistance import LIVE_STATES


def _assistance_for(order: AgentOrder) -> Assistance | None:
    assistance_id = (order.payload or {}).get("assistance_id")
    if not isinstance(assistance_id, int):
        return None
    return db.session.execute(
        select(Assistance)
        .where(
            Assistance.id == assistance_id,
            Assistance.organization_id == order.organization_id,
            Assistance.device_id == order.device_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _mark_ready(assistance: Assistance) -> None:
    now = utcnow()
    assistance.state = "ready"
    assistance.ready_at = now
    assistance.ready_until = now + timedelta(seconds=current_app.config["RA_READY_TTL_SECONDS"])
    request_signing()


@on_result("ra.interactive.start")
def _consent_answered(order: AgentOrder) -> None:
    assistance = _assistance_for(order)
    if assistance is None or assistance.state != "awaiting_consent":
        return
    consent = (order.result or {}).get("consent") if order.status == "succeeded" else None
    audit.record(
        "assistance.consent_answered",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label="agent",
        details={"consent": consent or "error", "error": order.error},
    )
    if consent == "granted":
        _mark_ready(assistance)
    elif consent in ("denied", "timeout"):
        end_state(assistance, "denied", f"consent {consent}")
    else:
        end_state(assistance, "failed", f"agent error: {order.error or 'no consent answer'}")


@on_result("ra.unattended.start")
def _service_started(order: AgentOrder) -> None:
    assistance = _assistance_for(order)
    if assistance is None or assistance.state != "requested":
        return
    if order.status != "succeeded":
        end_state(assistance, "failed", f"agent error: {order.error or 'service did not start'}")
        audit.record(
            "assistance.failed",
            organization_id=assistance.organization_id,
            target=assistance,
            actor_label="agent",
            details={"error": order.error},
        )
        return
    reported = str((order.result or {}).get("session_id", ""))
    if len(reported) == 9 and reported.isdigit():
        assistance.sid = reported
    audit.record(
        "assistance.service_started",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label="agent",
        details={},
    )
    _mark_ready(assistance)


@on_result("ra.unattended.stop")
def _service_stopped(order: AgentOrder) -> None:
    assistance = _assistance_for(order)
    if assistance is None:
        return
    removed = order.status == "succeeded" and (order.result or {}).get("service_removed") is True
    assistance.teardown = "confirmed" if removed else "unconfirmed"
    audit.record(
        "assistance.teardown_confirmed" if removed else "assistance.teardown_unconfirmed",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label="agent",
        details={"error": order.error},
    )


def _interrupt_on_restart(device: Device) -> None:
    for assistance in db.session.execute(
        select(Assistance)
        .where(
            Assistance.device_id == device.id,
            Assistance.state.in_(LIVE_STATES),
            # A request waiting for approval reached no agent: approval re-checks the device.
            Assistance.state != "awaiting_approval",
        )
        .with_for_update()
    ).scalars():
        end_state(assistance, "interrupted", "the agent restarted")
        audit.record(
            "assistance.interrupted",
            organization_id=assistance.organization_id,
            target=assistance,
            actor_label="agent",
            details={
                "reason": "agent restarted",
                "device": device.hostname,
                "agent_instance_id": device.agent_instance_id,
            },
        )
        if assistance.type == "unattended":
            order_stop(assistance, device)


RESTART_HANDLERS.append(_interrupt_on_restart)
