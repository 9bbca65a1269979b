from __future__ import annotations

from flask import current_app, jsonify, request

from app.assistance.keys import jwks
from app.assistance.lifecycle import RelayRefused, connect, disconnect
from app.assistance.verify import ActivationInvalid, verify_token
from app.core import throttle
from app.errors import json_error
from app.extensions import csrf, db
from app.relay import bp, wellknown

csrf.exempt(bp)


@bp.errorhandler(RelayRefused)
@bp.errorhandler(ActivationInvalid)
def refused(exc):
    db.session.rollback()
    return json_error(exc.status, exc.message, exc.code)


@bp.before_request
def throttle_ip():
    cfg = current_app.config
    ip = request.remote_addr or ""
    wait = throttle.retry_after("relay-ip", ip, cfg["RELAY_MAX_CONNECTS_PER_IP"])
    if wait:
        response, status = json_error(
            429, f"Too many relay requests from this address; retry in {wait} s."
        )
        response.headers["Retry-After"] = str(wait)
        return response, status
    throttle.register_failure("relay-ip", ip, cfg["RELAY_THROTTLE_WINDOW_SECONDS"])
    return None


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise RelayRefused(400, "invalid_body", "Send a JSON object.")
    return body


@bp.post("/connect")
def relay_connect():
    body = _body()
    token, password = body.get("activation"), body.get("password")
    if not isinstance(token, str):
        raise RelayRefused(
            400, "invalid_body", "activation must be the activation file's compact JWS."
        )
    if password is not None and not isinstance(password, str):
        raise RelayRefused(400, "invalid_body", "password must be a string.")
    claims = verify_token(token)
    assistance, connection_id = connect(claims, password, request.remote_addr or "")
    return jsonify(
        {
            "connection_id": connection_id,
            "assistance_id": assistance.id,
            "relay_url": current_app.config["RELAY_URL"],
        }
    )


@bp.post("/disconnect")
def relay_disconnect():
    connection_id = _body().get("connection_id")
    if not isinstance(connection_id, str) or not connection_id:
        raise RelayRefused(400, "invalid_body", "connection_id is required.")
    assistance = disconnect(connection_id, request.remote_addr or "")
    return jsonify(
        {
            "assistance_id": assistance.id,
            "state": assistance.state,
            "grace_until": assistance.grace_until.isoformat() if assistance.grace_until else None,
        }
    )


@wellknown.get("/.well-known/jwks.json")
def jwks_document():
    response = jsonify(jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
