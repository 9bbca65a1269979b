"""Error pages for people and JSON errors for programs (SPEC §5): never a stack trace."""

from __future__ import annotations

import logging

import sqlalchemy.exc
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException

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


def error_page(status: int, message: str | None = None):
    """The portal's error page: its own look, a title and a sentence for people."""
    title, default = PAGE_TEXTS.get(status, (_l("Something went wrong"), ""))
    return render_template(
        "error.html", status=status, title=title, message=message or default
    ), status


def _own_description(exc: HTTPException) -> str | None:
    """A description the code gave (kept), not Werkzeug's stock English one."""
    stock = type(exc).description
    return exc.description if exc.description and exc.description != stock else None


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


def _page_without_database(status: int, message: str):
    """The error page, or a bare one when the page itself needs the database (the top
    bar shows the signed-in user and organization)."""
    try:
        return error_page(status, message)
    except Exception:
        _rollback_quietly()
        return (
            '<!doctype html><html lang="en"><meta charset="utf-8"><title>'
            f"{status}</title><h1>{status}</h1><p>{escape(message)}</p></html>"
        ), status


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
        message = _("The form expired or was not sent from this site; reload and try again.")
        if wants_json():
            return json_error(400, exc.description or message, "csrf_failed")
        return error_page(400, message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        message = exc.description or "Error"
        if wants_json():
            return json_error(status, message)
        return error_page(status, _own_description(exc))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        from redis.exceptions import RedisError
        from sqlalchemy.orm.exc import StaleDataError

        from app.core.throttle import ThrottleUnavailable

        if isinstance(exc, StaleDataError):
            from app.extensions import db

            db.session.rollback()
            message = _("This was changed at the same moment by someone else; reload and retry.")
            if wants_json():
                return json_error(409, message, "concurrent_change")
            return error_page(409, message)

        if isinstance(exc, DATABASE_UNAVAILABLE):
            # The database is down, restarting or out of connections: say so, once per
            # request, without a traceback; the client retries.
            _rollback_quietly()
            log.warning("database unavailable: %s", type(exc).__name__)
            message = _("The database is temporarily unavailable; try again shortly.")
            if wants_json():
                response = json_error(503, message)
            else:
                response = _page_without_database(503, message)
            return _retry_after(response)

        if isinstance(exc, RedisError | ThrottleUnavailable):
            log.warning("redis unavailable: %s", type(exc).__name__)
            message = _("A required service is temporarily unavailable; try again shortly.")
            if wants_json():
                return json_error(503, message)
            return error_page(503)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return json_error(500, "internal error")
        return error_page(500)
