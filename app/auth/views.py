"""Sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user

from app import audit
from app.auth import bp
from app.auth.forms import LoginForm
from app.extensions import db
from app.i18n import LANGUAGE_SESSION_KEY
from app.people.signin import (
    LoginThrottled,
    PasswordSignInDisabled,
    authenticate,
    end_session,
    start_session,
)
from app.security import SESSION_TOKEN_KEY

GENERIC_FAILURE = _l("Invalid e-mail or password.")
SSO_REQUIRED = _l('Your organization signs in with single sign-on: use "Sign in with SSO" below.')


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site; None for anything that could leave it."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def landing_url():
    if current_user.memberships:
        return url_for("portal.home")
    if current_user.is_platform_admin:
        return url_for("admin.index")
    return url_for("portal.home")


def sign_in(user, **session_options) -> None:
    """Open a session for `user` (caller commits). The cookie session is rotated: nothing
    from the anonymous session survives into the signed-in one."""
    language = session.get(LANGUAGE_SESSION_KEY)
    session.clear()
    if language:  # chosen on the sign-in page: keep speaking it
        session[LANGUAGE_SESSION_KEY] = language
    session[SESSION_TOKEN_KEY] = start_session(
        user, request.remote_addr or "", request.headers.get("User-Agent", ""), **session_options
    )
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(landing_url())
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status = 200
    if form.validate_on_submit():
        ip = request.remote_addr or ""
        try:
            user = authenticate(form.email.data, form.password.data, ip)
        except LoginThrottled as exc:
            db.session.commit()
            minutes = max(1, round(exc.retry_after / 60))
            flash(
                ngettext(
                    "Too many failed sign-ins. Try again in about %(num)s minute.",
                    "Too many failed sign-ins. Try again in about %(num)s minutes.",
                    minutes,
                ),
                "error",
            )
            return render_template("auth/login.html", form=form), 429
        except PasswordSignInDisabled:
            db.session.commit()
            flash(str(SSO_REQUIRED), "error")
            return render_template("auth/login.html", form=form), 403
        if user is None:
            db.session.commit()
            flash(str(GENERIC_FAILURE), "error")
            status = 401
        else:
            sign_in(user)
            db.session.commit()
            # A second factor, if owed, is asked for by the sign-in steps guard
            # (app.security) before this page or any other is served.
            return redirect(safe_next(form.next.data) or landing_url())
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        for m in current_user.memberships or [None]:
            audit.record("auth.logout", organization_id=m.organization_id if m else None)
    end_session(session.get(SESSION_TOKEN_KEY))
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have been signed out."), "info")
    return redirect(url_for("auth.login"))
