"""Personal API tokens on the user's profile: create (shown once), list, revoke."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.extensions import db
from app.models.api_token import ApiToken
from app.people import api_tokens
from app.portal import bp
from app.security import no_store
from app.tenancy import current_org


@bp.route("/profile/api-tokens", methods=["POST"])
@no_store
@login_required
def create_api_token():
    if current_org is None:
        abort(404)
    try:
        days = int(request.form.get("days", api_tokens.DEFAULT_DAYS))
    except ValueError:
        days = 0
    try:
        token, raw = api_tokens.create_token(
            current_user, current_org.id, request.form.get("name", ""), days
        )
    except api_tokens.TokenError as exc:
        flash(str(exc), "error")
        return redirect(url_for("portal.profile")), 303
    db.session.commit()
    # Shown in this response only: never flashed into the (client-side) session cookie.
    return render_template("portal/token_created.html", token=token, raw=raw)


@bp.route("/profile/api-tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_api_token(token_id: int):
    token = db.session.execute(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == current_user.id)
    ).scalar_one_or_none()
    if token is None:
        abort(404)
    api_tokens.revoke(token)
    db.session.commit()
    flash(_("Token %(name)s revoked.", name=token.name), "success")
    return redirect(url_for("portal.profile"))
