"""The second sign-in step (TOTP or recovery code), enrolment, and managing one's
authenticator on the profile."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth import bp
from app.auth.views import landing_url, safe_next
from app.extensions import db
from app.people import access, mfa
from app.people.signin import promote_session
from app.portal.views import render_profile
from app.security import (
    SESSION_TOKEN_KEY,
    current_auth_session,
    current_session_access,
    no_store,
)


def _next() -> str:
    return safe_next(request.values.get("next")) or landing_url()


def _promote() -> None:
    """Swap the session for a fresh, MFA-verified one (new cookie token)."""
    record = current_auth_session()
    if record is None:  # only browser sessions reach these pages
        abort(404)
    session[SESSION_TOKEN_KEY] = promote_session(
        record, request.remote_addr or "", request.headers.get("User-Agent", "")
    )


@bp.route("/mfa", methods=["GET", "POST"])
@login_required
def mfa_verify():
    state = current_session_access()
    if state is None or state.mfa == access.MFA_OK:
        return redirect(_next())
    if state.mfa == access.MFA_ENROLL:
        return redirect(url_for("auth.mfa_enroll", next=request.values.get("next")))
    user = current_user._get_current_object()
    status = 200
    if request.method == "POST":
        try:
            method = mfa.verify(user, request.form.get("code", ""))
        except mfa.MfaError as exc:
            db.session.commit()  # the audit event and the throttle count stay
            flash(exc.message, "error")
            status = exc.status
        else:
            _promote()
            db.session.commit()
            if method == "recovery_code":
                left = mfa.recovery_codes_left(user.id)
                flash(
                    _(
                        "Recovery code used; %(left)s left. Make new ones on your profile.",
                        left=left,
                    ),
                    "info",
                )
            return redirect(_next())
    return render_template(
        "auth/mfa_verify.html", next=request.values.get("next", ""), sign_in_step=True
    ), status


@bp.route("/mfa/setup", methods=["GET", "POST"])
@no_store
@login_required
def mfa_enroll():
    user = current_user._get_current_object()
    state = current_session_access()
    if mfa.is_enrolled(user.id):
        if state is not None and state.mfa == access.MFA_VERIFY:
            return redirect(url_for("auth.mfa_verify", next=request.values.get("next")))
        flash(_("Your authenticator app is already set up."), "info")
        return redirect(url_for("portal.profile"))
    required = state is not None and state.mfa == access.MFA_ENROLL
    status = 200
    if request.method == "POST":
        try:
            codes = mfa.confirm_enrolment(user, request.form.get("code", ""))
        except mfa.MfaError as exc:
            db.session.commit()
            flash(exc.message, "error")
            status = exc.status
        else:
            _promote()
            db.session.commit()
            # Shown in this response only: never stored, flashed or redirected with.
            return render_template(
                "auth/mfa_recovery_codes.html",
                codes=codes,
                next=_next(),
                sign_in_step=False,
            )
    secret = mfa.pending_secret(user)
    db.session.commit()
    uri = mfa.provisioning_uri(user, secret)
    return render_template(
        "auth/mfa_enroll.html",
        qr=mfa.qr_svg(uri),
        manual_key=mfa.manual_key(secret),
        required=required,
        next=request.values.get("next", ""),
        sign_in_step=required,
    ), status


@bp.route("/profile/mfa/recovery-codes", methods=["POST"])
@no_store
@login_required
def mfa_regenerate_codes():
    user = current_user._get_current_object()
    try:
        codes = mfa.regenerate_recovery_codes(user, request.form.get("code", ""))
    except mfa.MfaError as exc:
        db.session.commit()
        flash(exc.message, "error")
        return render_profile(exc.status)
    db.session.commit()
    return render_template(
        "auth/mfa_recovery_codes.html",
        codes=codes,
        next=url_for("portal.profile"),
        sign_in_step=False,
    )


@bp.route("/profile/mfa/remove", methods=["POST"])
@login_required
def mfa_remove():
    user = current_user._get_current_object()
    if access.mfa_required_for(user):
        flash(
            _(
                "Your organization requires a second factor, so you cannot remove your "
                "authenticator app. To move to a new phone, ask a platform admin to reset it."
            ),
            "error",
        )
        return render_profile(409)
    try:
        mfa.verify(user, request.form.get("code", ""))
    except mfa.MfaError as exc:
        db.session.commit()
        flash(exc.message, "error")
        return render_profile(exc.status)
    mfa.remove(user, reason="by_user", actor=user)
    db.session.commit()
    flash(_("Your authenticator app was removed; sign-in asks only for your password."), "success")
    return redirect(url_for("portal.profile"))
