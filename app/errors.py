"""Error pages for people and JSON errors for programs (SPEC §5): never a stack trace.

Every handler rolls the database session back first (a failed statement leaves it
unusable, and the page itself reads the database), and the HTML page falls back to a
plain one if even rendering fails: an error page never fails in turn.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError

from app.core.listing import FilterError
from app.web_input import InputError

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

FALLBACK_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{status}</title>'
    '</head><body><h1>{status}</h1><p>{message}</p><p><a href="/">Back to the portal</a></p>'
    "</body></html>"
)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/.well-known/")


def json_error(status: int, message: str, code: str | None = None, **extra):
    """SPEC §5 error body; `extra` (e.g. field="proxy_url") joins the error object."""
    error = {"code": code or CODES.get(status, "error"), "message": message}
    error.update({k: v for k, v in extra.items() if v is not None})
    return jsonify({"error": error}), status


def _rollback() -> None:
    from app.extensions import db

    try:
        db.session.rollback()
    except Exception:  # the database may be the reason we are here
        log.warning("rollback failed while handling an error", exc_info=True)


def error_page(status: int, message: str):
    """The HTML error page, or a plain one when the page cannot be rendered."""
    _rollback()
    try:
        return render_template("error.html", status=status, message=message), status
    except Exception:
        log.exception("the error page failed to render")
        _rollback()
        body = FALLBACK_PAGE.format(status=status, message=escape(message))
        return body, status, {"Content-Type": "text/html; charset=utf-8"}


def error_response(status: int, message: str, code: str | None = None, **extra):
    """JSON for programs, the error page for people."""
    if wants_json():
        _rollback()
        return json_error(status, message, code, **extra)
    return error_page(status, message)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = "The form expired or was not sent from this site; reload and try again."
        if wants_json():
            return json_error(400, exc.description or message, "csrf_failed")
        return error_page(400, message)

    @app.errorhandler(InputError)
    def input_error(exc: InputError):
        return error_response(exc.status, exc.message, exc.code, field=exc.field)

    @app.errorhandler(FilterError)
    def filter_error(exc: FilterError):
        return error_response(400, exc.message, "invalid_filter", field=exc.field)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        response = make_response(error_response(exc.code or 500, exc.description or "Error"))
        for name, value in exc.get_headers():  # Allow (405), Retry-After (429/503), …
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        from redis.exceptions import RedisError
        from sqlalchemy.orm.exc import StaleDataError

        from app.core.throttle import ThrottleUnavailable

        if isinstance(exc, StaleDataError):
            message = "This was changed at the same moment by someone else; reload and retry."
            return error_response(409, message, "concurrent_change")

        if isinstance(exc, RedisError | ThrottleUnavailable):
            log.warning("redis unavailable: %s", type(exc).__name__)
            message = "A required service is temporarily unavailable; try again shortly."
            return error_response(503, message)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return error_response(500, "internal error")
        return error_page(500, InternalServerError.description)
