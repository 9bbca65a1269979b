"""Database engine settings: the connection pool, PostgreSQL session limits, and SQLite's
per-connection pragmas."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event

from app.extensions import db


def _gevent_patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


def engine_options(config) -> dict:
    """SQLAlchemy engine options for the configured database (before `db.init_app`)."""
    url = config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite:"):
        if _gevent_patched():
            # sqlite3 waits for a lock inside C, which no greenlet can interrupt: one
            # connection per process makes greenlets queue on the pool (cooperatively)
            # instead of inside SQLite.
            return {"pool_size": 1, "max_overflow": 0, "pool_timeout": 30}
        return {}
    options = {
        # No ping before each checkout: it costs every request a round trip. A connection
        # found dead (a database restart) fails its request with a 503, and SQLAlchemy then
        # discards the whole pool, so the next requests get fresh connections.
        "pool_pre_ping": False,
        "pool_recycle": 1800,
        "pool_size": config["DB_POOL_SIZE"],
        "max_overflow": config["DB_MAX_OVERFLOW"],
        "pool_timeout": config["DB_POOL_TIMEOUT_SECONDS"],
    }
    if url.startswith("postgresql"):
        # No session may sit in a transaction while idle (it would hold its locks, e.g.
        # an audit chain head, for everyone), and nobody waits for a lock for ever.
        options["connect_args"] = {
            "application_name": f"portal-{config['PROCESS_ROLE']}",
            "options": (
                "-c idle_in_transaction_session_timeout="
                f"{config['DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS'] * 1000} "
                f"-c lock_timeout={config['DB_LOCK_TIMEOUT_SECONDS'] * 1000}"
            ),
        }
    return options


def init_app(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:"):
        return
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        # SQLite ignores foreign keys unless asked; WAL lets the worker read while web writes.
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.close()
