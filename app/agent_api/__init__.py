"""Agent API (/api/agent/v1), the fixed FlexxAgent contract of SPEC §5.

Agents authenticate with `Authorization: Bearer <device token>` (except enroll); they open
no port and only call out. JSON only; errors are SPEC §5 error bodies.
"""

from flask import Blueprint

bp = Blueprint("agent_api", __name__, url_prefix="/api/agent/v1")

from app.agent_api import views  # noqa: E402,F401
