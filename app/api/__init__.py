"""Operator API (/api/v1): JSON in and out, errors as SPEC §5.

Authenticated by the browser session (with a CSRF token on every change) or by
`Authorization: Bearer <personal API token>` (no CSRF: nothing is sent implicitly).
"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import (  # noqa: E402,F401
    agent_settings,
    assistances,
    audit,
    auth,
    dashboard,
    devices,
    members,
    openapi,
    webhooks,
)
