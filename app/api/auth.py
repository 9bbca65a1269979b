"""Who is calling the operator API."""

from __future__ import annotations

from functools import wraps

from flask import g, jsonify, request
from flask_login import current_user

from app.api import bp
from app.errors import json_error
from app.extensions import csrf
from app.people import api_tokens
from app.tenancy import has_permission

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC_ENDPOINTS = {"api.health", "api.openapi_document"}

csrf.exempt(bp)  # checked below for cookie sessions only


@bp.before_request
def authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, raw = header.partition(" ")
        found = api_tokens.authenticate(raw.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            return json_error(
                401, "The API token is missing, malformed, expired or revoked.", "invalid_token"
            )
        token, membership = found
        # Flask-Login and the tenancy helpers read these: the token acts in its organization.
        g._login_user = token.user
        g.membership = membership
        g.api_token = token
        return None
    if not current_user.is_authenticated:
        return json_error(
            401, "Sign in, or send Authorization: Bearer <API token>.", "unauthorized"
        )
    if request.method in UNSAFE_METHODS:
        csrf.protect()
    return None


def require(*permissions: str):
    """Endpoint decorator: the caller holds at least one of `permissions` (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not any(has_permission(p) for p in permissions):
                return json_error(
                    403,
                    "Your role does not allow this (needs " + " or ".join(permissions) + ").",
                    "forbidden",
                )
            return view(*args, **kwargs)

        return wrapped

    return decorator


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})
