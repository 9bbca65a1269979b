"""Application factory."""

from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Config, load_config
from app.extensions import csrf, db, login_manager, migrate, redis_store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(config: Config | str | None = None, **overrides) -> Flask:
    """Build the portal. `config` is a Config, a config name, or None for PORTAL_ENV."""
    if not isinstance(config, Config):
        config = load_config(config)
    app = Flask(
        __name__,
        static_folder=os.path.join(ROOT, "static"),
        template_folder=os.path.join(ROOT, "templates"),
        instance_path=os.environ.get("PORTAL_INSTANCE_PATH") or os.path.join(ROOT, "instance"),
    )
    app.config.from_mapping(config.as_dict())
    app.config["PORTAL_ENV"] = config.name
    app.config.update(overrides)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
            app.instance_path, "portal.db"
        )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:"):
        os.makedirs(app.instance_path, exist_ok=True)
    if proxies := app.config["TRUSTED_PROXIES"]:
        # Behind N trusted proxies: request.remote_addr (per-IP throttles, audit, sessions)
        # and the scheme come from what they forwarded. The Host header is kept: the
        # portal's public URL is PORTAL_URL, never derived from a forwarded host.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    from app import web_input
    from app.ops import instrument

    instrument.configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    # First: the JSON limits, the bounded `int` converter and the bad-character guard
    # apply to every route and run before any other hook.
    web_input.init_app(app)

    from app.core import db_setup

    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", db_setup.engine_options(app.config))
    db.init_app(app)
    with app.app_context():
        from app.core import metrics

        metrics.watch_pool(db.engine)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    redis_store.init_app(app)

    from app import errors, i18n, security

    db_setup.init_app(app)
    instrument.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)

    from app.auth import bp as auth_bp
    from app.ops import bp as ops_bp
    from app.portal import bp as portal_bp

    app.register_blueprint(ops_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(portal_bp)

    from app.agent_api import bp as agent_api_bp
    from app.api import bp as api_bp
    from app.relay import bp as relay_bp
    from app.relay import wellknown

    app.register_blueprint(api_bp)
    app.register_blueprint(agent_api_bp)
    app.register_blueprint(relay_bp)
    app.register_blueprint(wellknown)

    # Registers the assistance logic's order-result and agent-restart handlers, and the
    # webhooks' outbox as a handler of every audit event recorded.
    from app.admin import init_admin
    from app.assistance import agent_answers  # noqa: F401
    from app.webhooks import outbox  # noqa: F401

    init_admin(app)

    from app.cli import init_app as init_cli

    init_cli(app)
    return app
