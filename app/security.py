"""Security headers, the Flask-Login wiring to server-side sessions, and the sign-in steps
(second factor) every request of a session must have completed."""

from __future__ import annotations

from functools import wraps

from flask import Flask, g, redirect, request, session, url_for
from flask_login import AnonymousUserMixin, current_user

from app.extensions import db, login_manager
from app.models import User
from app.people.access import MFA_OK, MFA_VERIFY, SessionAccess, session_access

SESSION_TOKEN_KEY = "sid"  # noqa: S105 (a session dict key, not a secret)

# What a session that still owes its second factor may reach: nothing else.
SIGN_IN_STEP_ENDPOINTS = frozenset(
    {"auth.mfa_verify", "auth.mfa_enroll", "auth.logout", "auth.set_language", "static"}
)


class Anonymous(AnonymousUserMixin):
    is_platform_admin = False
    memberships: list = []


def current_auth_session():
    """The server-side record of this request's browser session (None for API tokens)."""
    if not current_user.is_authenticated:
        return None
    record = g.get("auth_session")
    return record if record is not None and record.user_id == current_user.id else None


def current_session_access() -> SessionAccess | None:
    """What this browser session may do (cached per request); None without one."""
    record = current_auth_session()
    if record is None:
        return None
    cached = g.get("session_access")
    if cached is None or cached[0] is not record:
        cached = (record, session_access(current_user._get_current_object(), record))
        g.session_access = cached
    return cached[1]


def forget_session_access() -> None:
    """Recompute on next use (after this request changed memberships or policies)."""
    g.pop("session_access", None)
    g.pop("membership", None)


def no_store(view):
    """View decorator for responses that carry a secret (a password, a token, recovery
    codes, a link that signs in): `Cache-Control: no-store` and `Pragma: no-cache` on every
    answer of the view, refusals included, so no cache, proxy or history keeps it."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        g.no_store = True
        return view(*args, **kwargs)

    return wrapped


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.anonymous_user = Anonymous
    # Session protection is done by our server-side session records.
    login_manager.session_protection = None

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        from app.people.signin import load_session

        record = load_session(session.get(SESSION_TOKEN_KEY))
        if record is None or str(record.user_id) != user_id:
            session.clear()
            return None
        user = db.session.get(User, record.user_id)
        if user is None or not user.active:
            session.clear()
            return None
        g.auth_session = record
        return user

    @app.before_request
    def enforce_sign_in_steps():
        """A session that owes a second factor (or must first enroll one) is sent to that
        step, whatever it asks for; programs get a 401."""
        if request.endpoint in SIGN_IN_STEP_ENDPOINTS or not current_user.is_authenticated:
            return None
        access = current_session_access()
        if access is None or access.mfa == MFA_OK:
            return None
        from app.errors import json_error, wants_json

        if wants_json():
            return json_error(
                401, "Finish signing in: your second factor is required first.", "mfa_required"
            )
        step = "auth.mfa_verify" if access.mfa == MFA_VERIFY else "auth.mfa_enroll"
        wanted = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for(step, next=wanted))

    @app.after_request
    def security_headers(response):
        h = response.headers
        if g.get("no_store"):
            h["Cache-Control"] = "no-store"
            h["Pragma"] = "no-cache"
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
