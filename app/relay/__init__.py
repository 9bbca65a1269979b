"""Relay API (/api/relay/v1): the operator's RA client opens an activation file, gives
the password (unattended) and connects; and the public JWKS the files are checked with."""

from flask import Blueprint

bp = Blueprint("relay", __name__, url_prefix="/api/relay/v1")
wellknown = Blueprint("wellknown", __name__)

from app.relay import views  # noqa: E402,F401
