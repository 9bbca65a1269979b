"""Security headers and the Flask-Login wiring to server-side sessions."""

from __future__ import annotations

from flask import Flask, session
from flask_login import AnonymousUserMixin

from app.extensions import db, login_manager
from app.models import User

SESSION_TOKEN_KEY = "sid"  # noqa: S105 (a session dict key, not a secret)


class Anonymous(AnonymousUserMixin):
    is_platform_admin = False
    memberships: list = []


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.anonymous_user = Anonymous
    # Session protection is done by our server-side session records.
    login_manager.session_protection = None

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        from app.services.auth import load_session

        record = load_session(session.get(SESSION_TOKEN_KEY))
        if record is None or str(record.user_id) != user_id:
            session.clear()
            return None
        user = db.session.get(User, record.user_id)
        if user is None or not user.active:
            session.clear()
            return None
        return user

    @app.after_request
    def security_headers(response):
        h = response.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
        )
        if app.config.get("SESSION_COOKIE_SECURE"):
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
