"""Per-request instrumentation: a request id (the caller's `X-Request-ID` when it is sane,
else a new one) echoed in the response and carried by every log line, Prometheus request
metrics by route and status, a request log line (at DEBUG, so a busy fleet does not drown
the log), and the log format (`LOG_FORMAT=json` for log shippers)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, has_request_context, request

from app.core import metrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
access_log = logging.getLogger("portal.request")


def request_id() -> str:
    return g.get("request_id", "") if has_request_context() else ""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id (and the
    exception type; tracebacks stay out of the structured stream)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if rid := request_id():
            entry["request_id"] = rid
        for key in ("method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() or "-"
        return True


class _PortalHandler(logging.StreamHandler):
    """The handler this app installs (handlers someone else installed are left alone)."""


# Request lines and each job's start and end: useful when debugging, noise otherwise (they
# buried `make run`'s start-up messages). Our own request line is at DEBUG too.
CHATTY_LOGGERS = ("werkzeug", "rq.worker", "rq.scheduler", "rq.queue", "gunicorn.access")


def configure_logging(level: str, fmt: str) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    if logging.getLevelName(str(level).upper()) != logging.DEBUG:
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    if not root.handlers:
        root.addHandler(_PortalHandler())
    for handler in root.handlers:
        if not isinstance(handler, _PortalHandler):
            continue
        if fmt == "json":
            handler.setFormatter(JsonFormatter())
        else:
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
            )
        if not any(isinstance(f, _RequestIdFilter) for f in handler.filters):
            handler.addFilter(_RequestIdFilter())


def init_app(app: Flask) -> None:
    @app.before_request
    def _start():
        g.request_started = time.perf_counter()
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex

    @app.after_request
    def _finish(response):
        started = g.pop("request_started", None)
        if started is None:
            return response
        elapsed = time.perf_counter() - started
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        metrics.REQUEST_SECONDS.labels(route).observe(elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        access_log.debug(
            "%s %s %s %.1f ms",
            request.method,
            request.path,
            response.status_code,
            elapsed * 1000,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
        return response
