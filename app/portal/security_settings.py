"""Portal → Settings → Sign-in & security: the organization's MFA policy."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import db
from app.portal import bp
from app.services import mfa
from app.tenancy import current_org, permission_required


def render_security_page(status: int = 200):
    return render_template("settings/security.html", policies=mfa.POLICY_LABELS), status


@bp.route("/settings/security")
@permission_required("org.manage")
def security_settings():
    return render_security_page()


@bp.route("/settings/security/mfa", methods=["POST"])
@permission_required("org.manage")
def mfa_policy():
    try:
        changed = mfa.set_policy(
            current_org, request.form.get("mfa_policy", ""), current_user._get_current_object()
        )
    except mfa.MfaError as exc:
        flash(exc.message, "error")
        return render_security_page(exc.status)
    db.session.commit()
    flash("MFA policy saved." if changed else "Nothing changed.", "success")
    return redirect(url_for("portal.security_settings")), 303
