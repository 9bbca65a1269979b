"""Error pages for people and JSON errors for programs (SPEC §5): never a stack trace."""

from __future__ import annotations

import logging

import sqlalchemy.exc
from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    423: "locked",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/.well-known/")


def json_error(status: int, message: str, code: str | None = None, **extra):
    """SPEC §5 error body; `extra` (e.g. field="proxy_url") joins the error object."""
    error = {"code": code or CODES.get(status, "error"), "message": message}
    error.update({k: v for k, v in extra.items() if v is not None})
    return jsonify({"error": error}), status


# What a broken, restarting or saturated database raises (pool timeouts included).
DATABASE_UNAVAILABLE = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,
)


def _rollback_quietly() -> None:
    from app.extensions import db

    try:
        db.session.rollback()
    except Exception:  # the connection is gone: drop it
        db.session.close()


def _page_without_database(status: int, message: str) -> str:
    """The error page, or a bare one when the page itself needs the database (the top
    bar shows the signed-in user and organization)."""
    try:
        return render_template("error.html", status=status, message=message)
    except Exception:
        _rollback_quietly()
        return (
            '<!doctype html><html lang="en"><meta charset="utf-8"><title>'
            f"{status}</title><h1>{status}</h1><p>{escape(message)}</p></html>"
        )


def _retry_after(response, seconds: int = 5):
    resp, status = response
    if isinstance(resp, str):
        from flask import make_response

        resp = make_response(resp, status)
    resp.headers["Retry-After"] = str(seconds)
    return resp, status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = "The form expired or was not sent from this site; reload and try again."
        if wants_json():
            return json_error(400, exc.description or message, "csrf_failed")
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        message = exc.description or "Error"
        if wants_json():
            response = json_error(status, message)
        else:
            response = render_template("error.html", status=status, message=message), status
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        from redis.exceptions import RedisError
        from sqlalchemy.orm.exc import StaleDataError

        from app.core.throttle import ThrottleUnavailable

        if isinstance(exc, StaleDataError):
            from app.extensions import db

            db.session.rollback()
            message = "This was changed at the same moment by someone else; reload and retry."
            if wants_json():
                return json_error(409, message, "concurrent_change")
            return render_template("error.html", status=409, message=message), 409

        if isinstance(exc, DATABASE_UNAVAILABLE):
            # The database is down, restarting or out of connections: say so, once per
            # request, without a traceback; the client retries.
            _rollback_quietly()
            log.warning("database unavailable: %s", type(exc).__name__)
            message = "The database is temporarily unavailable; try again shortly."
            if wants_json():
                response = json_error(503, message)
            else:
                response = _page_without_database(503, message), 503
            return _retry_after(response)

        if isinstance(exc, RedisError | ThrottleUnavailable):
            log.warning("redis unavailable: %s", type(exc).__name__)
            message = "A required service is temporarily unavailable; try again shortly."
            if wants_json():
                return json_error(503, message)
            return render_template("error.html", status=503, message=message), 503
        log.exception("unhandled error on %s %s", request.method, request.path)
        message = InternalServerError.description
        if wants_json():
            return json_error(500, "internal error")
        return render_template("error.html", status=500, message=message), 500
