"""The signed-in home, organization switcher and profile."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import audit
from app.core.passwords import verify_password
from app.extensions import db
from app.people import access, api_tokens, mfa
from app.people.signin import end_all_sessions, replace_session
from app.people.users import UserError, set_password
from app.portal import bp
from app.portal.forms import ChangePasswordForm, SwitchOrgForm
from app.security import SESSION_TOKEN_KEY, current_auth_session
from app.tenancy import current_membership, switch_org


@bp.route("/")
@login_required
def home():
    return render_template("portal/home.html", membership=current_membership)


@bp.route("/switch-org", methods=["POST"])
@login_required
def switch_organization():
    form = SwitchOrgForm()
    if not form.validate_on_submit() or not switch_org(form.org_id.data):
        abort(404)
    return redirect(url_for("portal.home"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current_password.data):
            form.current_password.errors.append("That is not your current password.")
            status = 400
        else:
            try:
                set_password(current_user, form.new_password.data)
            except UserError as exc:
                form.new_password.errors.append(str(exc))
                status = 400
            else:
                # A new password ends every other session of this user; this one goes on
                # under a new token, as it was (sign-in method, second factor).
                record = current_auth_session()
                end_all_sessions(current_user.id)
                session[SESSION_TOKEN_KEY] = replace_session(
                    record, request.remote_addr or "", request.headers.get("User-Agent", "")
                )
                for m in current_user.memberships or [None]:
                    audit.record(
                        "user.password_changed",
                        organization_id=m.organization_id if m else None,
                        target=current_user._get_current_object(),
                    )
                db.session.commit()
                flash(_("Password changed. Your other sessions were signed out."), "success")
                return redirect(url_for("portal.profile"))
    elif request.method == "POST":
        status = 400
    return render_profile(status, form)


def render_profile(status: int = 200, form: ChangePasswordForm | None = None):
    """The profile page (also shown, with a refusal's status, by the MFA actions)."""
    from app.assistance.start import operator_device_of
    from app.tenancy import current_org

    operator_device = operator_device_of(current_user.id, current_org.id) if current_org else None
    return render_template(
        "portal/profile.html",
        form=form or ChangePasswordForm(formdata=None),
        tokens=api_tokens.tokens_of(current_user.id),
        mfa_enrolled=mfa.is_enrolled(current_user.id),
        mfa_required=access.mfa_required_for(current_user),
        recovery_codes_left=mfa.recovery_codes_left(current_user.id),
        operator_device=operator_device,
    ), status
