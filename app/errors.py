"""Error pages for people and JSON errors for programs (SPEC §5): never a stack trace.

Every handler rolls the database session back first (a failed statement leaves it
unusable, and the page itself reads the database), and the HTML page falls back to a
plain one if even rendering fails: an error page never fails in turn. A database that is
down, restarting or out of connections is a 503 with Retry-After and one log line.
"""

from __future__ import annotations

import logging

import sqlalchemy.exc
from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException

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

# What people read on an error page (programs get the JSON error instead).
PAGE_TEXTS = {
    400: (_l("The request was not understood"), _l("Check what you typed and try again.")),
    403: (
        _l("Not allowed"),
        _l("Your role does not allow this page. Ask an administrator if you need it."),
    ),
    404: (
        _l("Page not found"),
        _l("There is nothing here, or it belongs to an organization you are not in."),
    ),
    405: (_l("Not allowed"), _l("This page cannot be used that way.")),
    409: (_l("Conflict"), _l("This was changed meanwhile; reload and try again.")),
    413: (_l("Too large"), _l("What you sent is too large.")),
    429: (_l("Too many attempts"), _l("Wait a moment and try again.")),
    500: (
        _l("Something went wrong"),
        _l("An unexpected error happened. It was logged; try again."),
    ),
    503: (
        _l("Temporarily unavailable"),
        _l("A required service is temporarily unavailable; try again shortly."),
    ),
}

# What a broken, restarting or saturated database raises (pool timeouts included).
DATABASE_UNAVAILABLE = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,
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
    except Exception:  # the database may be the reason we are here: drop the connection
        db.session.close()


def error_page(status: int, message: str | None = None):
    """The portal's error page (its own look, a title and a sentence for people), or a
    plain one when the page cannot be rendered (it reads the database for the top bar)."""
    _rollback()
    title, default = PAGE_TEXTS.get(status, (_l("Something went wrong"), ""))
    try:
        return render_template(
            "error.html", status=status, title=title, message=message or default
        ), status
    except Exception as exc:
        if not isinstance(exc, DATABASE_UNAVAILABLE):  # that one was logged already
            log.warning("the error page failed to render: %s", type(exc).__name__)
        _rollback()
        body = FALLBACK_PAGE.format(status=status, message=escape(str(message or default)))
        return body, status, {"Content-Type": "text/html; charset=utf-8"}


def error_response(status: int, message: str | None, code: str | None = None, **extra):
    """JSON for programs, the error page for people."""
    if wants_json():
        _rollback()
        return json_error(status, str(message or CODES.get(status, "error")), code, **extra)
    return error_page(status, message)


def _own_description(exc: HTTPException) -> str | None:
    """A description the code gave (kept), not Werkzeug's stock English one."""
    stock = type(exc).description
    return exc.description if exc.description and exc.description != stock else None


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = _("The form expired or was not sent from this site; reload and try again.")
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
        status = exc.code or 500
        if wants_json():
            answer = error_response(status, exc.description or "Error")
        else:
            answer = error_page(status, _own_description(exc))
        response = make_response(answer)
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
            message = _("This was changed at the same moment by someone else; reload and retry.")
            return error_response(409, message, "concurrent_change")

        if isinstance(exc, DATABASE_UNAVAILABLE):
            # Down, restarting or out of connections: say so, once per request, without
            # a traceback; the client retries.
            log.warning("database unavailable: %s", type(exc).__name__)
            message = _("The database is temporarily unavailable; try again shortly.")
            response = make_response(error_response(503, message))
            response.headers["Retry-After"] = "5"
            return response

        if isinstance(exc, RedisError | ThrottleUnavailable):
            log.warning("redis unavailable: %s", type(exc).__name__)
            message = _("A required service is temporarily unavailable; try again shortly.")
            return error_response(503, message)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return error_response(500, "internal error")
        return error_page(500)
