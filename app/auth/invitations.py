"""The invitee's side of an invitation link: create the account, or sign in and join."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import audit
from app.auth import bp
from app.auth.views import sign_in
from app.core.passwords import MIN_PASSWORD_LENGTH
from app.extensions import db
from app.people import invitations
from app.people.users import find_user_by_email
from app.security import forget_session_access, no_store
from app.tenancy import switch_org


def _page(template: str, status: int = 200, **context):
    response = render_template(template, **context), status
    return response


def _refused(message: str, status: int):
    return _page("auth/invitation_refused.html", status, message=message)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@no_store  # the pages of a link that carries a token are not for caches or history
def invitation(token: str):
    found = invitations.find(token)
    if found is None:
        return _refused(
            "This invitation link is not valid. Check that you copied all of it, or ask for "
            "a new invitation.",
            404,
        )
    try:
        invitations.check_usable(found)
    except invitations.InvitationGone as exc:
        return _refused(exc.message, exc.status)
    context = {
        "invitation": found,
        "token": token,
        "sso_only": invitations.sso_only(found),
        "min_length": MIN_PASSWORD_LENGTH,
    }
    if current_user.is_authenticated:
        return _join_as_signed_in_user(found, context)
    if find_user_by_email(found.email) is not None:
        # An existing account joins only after signing in as that account.
        return _page("auth/invitation_sign_in.html", **context)
    return _create_account(found, context)


def _join_as_signed_in_user(found, context):
    user = current_user._get_current_object()
    if request.method == "GET":
        if user.email != found.email:
            return _refused(
                f"This invitation is for {found.email}, but you are signed in as {user.email}. "
                "Sign out, then open the link again.",
                403,
            )
        return _page("auth/invitation_join.html", **context)
    try:
        invitations.accept_as(found, user)
    except invitations.InvitationError as exc:
        db.session.rollback()
        return _refused(exc.message, exc.status)
    db.session.commit()
    forget_session_access()
    switch_org(found.organization_id)
    flash(
        _("You joined %(org)s as %(role)s.", org=found.organization.name, role=found.role.name),
        "success",
    )
    return redirect(url_for("portal.home"))


def _create_account(found, context):
    if request.method == "GET":
        return _page("auth/invitation_new_account.html", **context)
    name = request.form.get("name", "")
    password = None
    if not context["sso_only"]:
        password = request.form.get("password", "")
        if password != request.form.get("confirm", ""):
            flash(_("The passwords differ."), "error")
            return _page("auth/invitation_new_account.html", 400, name=name, **context)
    try:
        user = invitations.accept_with_new_account(found, name, password)
    except invitations.InvitationGone as exc:
        db.session.rollback()
        return _refused(exc.message, exc.status)
    except invitations.InvitationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _page("auth/invitation_new_account.html", exc.status, name=name, **context)
    org = found.organization
    if context["sso_only"]:
        db.session.commit()
        flash(
            _("Your account is ready. Sign in with the single sign-on of %(org)s.", org=org.name),
            "success",
        )
        return redirect(url_for("auth.sso_start", org=org.slug))
    audit.record(
        "auth.login",
        organization_id=org.id,
        actor=user,
        details={"via": "invitation"},
    )
    sign_in(user)
    db.session.commit()
    flash(
        _("Welcome! You joined %(org)s as %(role)s.", org=org.name, role=found.role.name), "success"
    )
    return redirect(url_for("portal.home"))
