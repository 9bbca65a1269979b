"""Operations surface: liveness and readiness for load balancers, Prometheus metrics, and
the per-request instrumentation (request id, metrics, request log line)."""

from flask import Blueprint

bp = Blueprint("ops", __name__)

from app.ops import views  # noqa: E402,F401
