"""Per-connection database settings."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event

from app.extensions import db


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
