"""Sign in with single sign-on: start at the organization's provider, come back here.

The start never redirects to the provider itself: the sign-in and invitation pages start
it with a form, and the CSP's `form-action 'self'` governs every redirect that follows a
form submission. It lands on /sso/continue (same origin), whose `Refresh` sends the
browser on to the provider as a navigation of its own. See docs/decisions.md."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import make_response, redirect, render_template, request, session, url_for
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
        pending = signin.begin(org, safe_next(request.values.get("next")))
    except SsoError as exc:
        return _refused(exc)
    # The signed session cookie carries state, nonce and PKCE verifier to the callback.
    session[PENDING_KEY] = pending
    return redirect(url_for("auth.sso_continue"), 303)


@bp.route("/sso/continue")
def sso_continue():
    """A same-origin page that sends the browser on to the provider of the sign-in this
    session started (and only there)."""
    if current_user.is_authenticated:
        return redirect(landing_url())
    try:
        url = signin.authorization_url(session.get(PENDING_KEY))
    except SsoError as exc:
        return _refused(exc)
    response = make_response(
        render_template("auth/sso_continue.html", url=url, provider=urlsplit(url).netloc)
    )
    response.headers["Refresh"] = f"0; url={url}"
    response.headers["Cache-Control"] = "no-store"
    return response


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
