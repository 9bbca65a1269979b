from __future__ import annotations

from flask import current_app, jsonify, request

from app.assistance.keys import jwks
from app.assistance.lifecycle import RelayRefused, connect, disconnect, heartbeat
from app.assistance.verify import ActivationInvalid, verify_token
from app.core import throttle
from app.errors import json_error
from app.extensions import csrf, db
from app.relay import bp, wellknown
from app.relay.schemas import ConnectBody, ConnectionBody
from app.security import no_store
from app.web_input import parse

csrf.exempt(bp)


@bp.errorhandler(RelayRefused)
@bp.errorhandler(ActivationInvalid)
def refused(exc):
    db.session.rollback()
    return json_error(exc.status, exc.message, exc.code)


def _throttled():
    """A 429 when this address made too many relay requests in the window; else count
    this one and return None."""
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


@bp.before_request
def throttle_ip():
    # A live connection's heartbeats are not guesses: they are counted only when they
    # fail (below), so many RA clients behind one address never throttle each other.
    if request.endpoint == "relay.relay_heartbeat":
        return None
    return _throttled()


@bp.post("/connect")
@no_store  # the connection id is the connection's only credential
def relay_connect():
    body = parse(ConnectBody)
    claims = verify_token(body.activation)
    assistance, connection_id = connect(claims, body.password, request.remote_addr or "")
    return jsonify(
        {
            "connection_id": connection_id,
            "assistance_id": assistance.id,
            "relay_url": current_app.config["RELAY_URL"],
            "heartbeat_interval_s": current_app.config["RELAY_HEARTBEAT_SECONDS"],
        }
    )


@bp.post("/heartbeat")
def relay_heartbeat():
    body = parse(ConnectionBody)
    if heartbeat(body.connection_id):
        return "", 204
    if (limited := _throttled()) is not None:
        return limited
    raise RelayRefused(
        410,
        "connection_gone",
        "This connection is no longer live (disconnected, dropped after missed heartbeats, "
        "or the assistance ended). Connect again with the activation file if the "
        "assistance is still open.",
    )


@bp.post("/disconnect")
def relay_disconnect():
    body = parse(ConnectionBody)
    assistance = disconnect(body.connection_id, request.remote_addr or "")
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
