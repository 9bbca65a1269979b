"""Enroll, check in, long-poll orders, report results."""

from __future__ import annotations

from flask import current_app, g, jsonify, request
from redis.exceptions import RedisError

from app.agent_api import bp
from app.agent_api.schemas import CheckinBody, EnrollBody, ResultBody
from app.errors import json_error
from app.extensions import csrf, db
from app.fleet import checkin as checkin_service
from app.fleet import orders as order_service
from app.fleet.enrollment import EnrollmentError, enroll
from app.security import no_store
from app.web_input import parse

csrf.exempt(bp)  # no cookies here: every call carries its own bearer token
MAX_WAIT_S = 30


@bp.errorhandler(order_service.OrderError)
def order_refused(exc: order_service.OrderError):
    db.session.rollback()
    return json_error(exc.status, exc.message, exc.code)


@bp.before_request
def authenticate():
    if request.endpoint == "agent_api.enroll_device":
        return None
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
    return jsonify(checkin_service.checkin(g.device, body, request.remote_addr or ""))


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
        orders = order_service.wait_for_orders(g.device, wait)
    except RedisError:
        db.session.rollback()
        response, status = json_error(503, "Order wake-ups are unavailable; poll again later.")
        response.headers["Retry-After"] = "5"
        return response, status
    return jsonify({"orders": orders})


@bp.post("/orders/<int:order_id>/result")
def order_result(order_id: int):
    body = parse(ResultBody)
    order = order_service.record_result(g.device, order_id, body.status, body.result, body.error)
    db.session.commit()
    return jsonify({"id": order.id, "status": order.status})
