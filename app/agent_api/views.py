"""Enroll, check in, long-poll orders, report results."""

from __future__ import annotations

import random
import socket
import time

from flask import current_app, g, jsonify, request
from redis.exceptions import RedisError

from app.agent_api import bp
from app.agent_api.schemas import CheckinBody, EnrollBody, ResultBody
from app.core import metrics
from app.errors import json_error
from app.extensions import csrf, db
from app.fleet import checkin as checkin_service
from app.fleet import orders as order_service
from app.fleet import wakeups
from app.fleet.enrollment import EnrollmentError, enroll
from app.security import no_store
from app.web_input import parse

csrf.exempt(bp)  # no cookies here: every call carries its own bearer token
MAX_WAIT_S = 30


@bp.errorhandler(order_service.OrderError)
def order_refused(exc: order_service.OrderError):
    db.session.rollback()
    return json_error(exc.status, exc.message, exc.code)


def wakeups_unavailable():
    """503 for a long poll while Redis (the wake-ups) is down. Retry-After is spread so a
    whole fleet does not come back in the same second."""
    response, status = json_error(503, "Order wake-ups are unavailable; poll again later.")
    response.headers["Retry-After"] = str(random.randint(10, 30))
    return response, status


@bp.before_request
def authenticate():
    if request.endpoint == "agent_api.enroll_device":
        return None
    if request.endpoint == "agent_api.poll_orders" and _waits() and not _wakeups_up():
        return wakeups_unavailable()  # before any query: an outage must not load the database
    g.checked_at = time.monotonic()
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    device = (
        checkin_service.authenticate_device(raw.strip()) if scheme.lower() == "bearer" else None
    )
    if device is None:
        return json_error(
            401,
            "The device token is missing, unknown or replaced by a newer enrollment.",
            "invalid_device_token",
        )
    g.device = device
    return None


@bp.post("/enroll")
@no_store  # the device token
def enroll_device():
    body = parse(EnrollBody)
    try:
        device, raw, _created = enroll(body, request.remote_addr or "")
    except EnrollmentError as exc:
        db.session.rollback()
        return json_error(401, str(exc), "invalid_enrollment_token")
    db.session.commit()
    return jsonify(
        {
            "device_id": device.id,
            "device_token": raw,
            "checkin_interval_s": current_app.config["AGENT_CHECKIN_INTERVAL_SECONDS"],
        }
    ), 201


@bp.post("/checkin")
def checkin():
    body = parse(CheckinBody)
    answer = checkin_service.checkin(g.device, body)
    metrics.CHECKINS.inc()
    return jsonify(answer)


@bp.get("/orders")
def poll_orders():
    raw_wait = request.args.get("wait", "0")
    try:
        wait = float(raw_wait)
    except ValueError:
        wait = -1
    if not 0 <= wait <= MAX_WAIT_S:
        return json_error(
            400,
            f"wait must be a number of seconds from 0 to {MAX_WAIT_S}",
            "invalid_field",
            field="wait",
        )
    try:
        orders = order_service.wait_for_orders(
            g.device, wait, checked_at=g.checked_at, still_there=_client_connected
        )
    except (RedisError, order_service.WakeupsUnavailable):
        db.session.rollback()
        return wakeups_unavailable()
    return jsonify({"orders": orders})


def _client_connected() -> bool:
    """Is the agent still on the other end of its parked poll? (Under gunicorn: a peek at
    the socket; a closed connection reads as end-of-file. Elsewhere: assumed.)"""
    sock = request.environ.get("gunicorn.socket")
    if sock is None:
        return True
    timeout = sock.gettimeout()
    sock.settimeout(0)  # never wait here (gevent's recv would wait for data otherwise)
    try:
        data = sock.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return True  # nothing to read: still connected, just waiting
    except OSError:
        return False
    finally:
        sock.settimeout(timeout)
    return data != b""


def _waits() -> bool:
    try:
        return float(request.args.get("wait", "0")) > 0
    except ValueError:
        return False


def _wakeups_up() -> bool:
    """False only when this process's wake-up hub is known to be disconnected."""
    hub = wakeups.hub_for(current_app._get_current_object())
    return hub.connected or hub.wait_connected(1.0)


@bp.post("/orders/<int:order_id>/result")
def order_result(order_id: int):
    body = parse(ResultBody)
    order = order_service.record_result(g.device, order_id, body.status, body.result, body.error)
    db.session.commit()
    return jsonify({"id": order.id, "status": order.status})
