"""The language switcher (every page's footer): for a signed-in person it is their profile's
choice; before sign-in it lasts for the browser session."""

from __future__ import annotations

from flask import abort, redirect, request, session, url_for
from flask_login import current_user

from app.auth import bp
from app.auth.views import safe_next
from app.extensions import db
from app.i18n import LANGUAGE_SESSION_KEY, is_language


@bp.route("/language", methods=["POST"])
def set_language():
    language = request.form.get("language", "")
    if not is_language(language):
        abort(400, description="Choose one of the portal's languages.")
    session[LANGUAGE_SESSION_KEY] = language
    if current_user.is_authenticated:
        current_user.language = language
        db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("portal.home"))
