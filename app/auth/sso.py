"""Sign in with single sign-on: start at the organization's provider, come back here."""

from __future__ import annotations

from flask import redirect, render_template, request, session
from flask_login import current_user

from app.auth import bp
from app.auth.views import landing_url, safe_next, sign_in
from app.extensions import db
from app.people.sso import SsoError, signin
from app.tenancy import ORG_SESSION_KEY

PENDING_KEY = "sso_pending"


def _refused(exc: SsoError):
    return render_template("auth/sso_refused.html", message=exc.message), exc.status


@bp.route("/sso/start", methods=["GET", "POST"])
def sso_start():
    """`org` is the organization's short name or a work e-mail address."""
    if current_user.is_authenticated:
        return redirect(landing_url())
    try:
        org = signin.find_organization(request.values.get("org", ""))
        url, pending = signin.begin(org, safe_next(request.values.get("next")))
    except SsoError as exc:
        return _refused(exc)
    # The signed session cookie carries state, nonce and PKCE verifier to the callback.
    session[PENDING_KEY] = pending
    return redirect(url)


@bp.route("/sso/callback")
def sso_callback():
    pending = session.pop(PENDING_KEY, None)  # one use, whatever happens
    ip = request.remote_addr or ""
    try:
        result = signin.complete(pending, request.args.to_dict(), ip)
    except SsoError as exc:
        db.session.rollback()
        org_id = pending.get("org") if isinstance(pending, dict) else None
        signin.record_refusal(exc, org_id, ip)
        db.session.commit()
        return _refused(exc)
    sign_in(
        result.user,
        method="sso",
        organization_id=result.organization.id,
        mfa_verified=result.mfa_by_provider,
    )
    session[ORG_SESSION_KEY] = result.organization.id
    db.session.commit()
    return redirect(safe_next(pending.get("next")) or landing_url())
