"""Portal → Settings → Sign-in & security: the organization's MFA policy and its single
sign-on (OpenID Connect) provider."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.extensions import db
from app.people import invitations, mfa
from app.people.sso import SsoError, provider
from app.people.sso import settings as sso_config
from app.portal import bp
from app.security import current_auth_session
from app.tenancy import current_org, permission_required


def _sso_form_values(config) -> dict:
    """What the SSO form shows: the stored settings, or what was just submitted. Never
    the client secret, in either case."""
    if request.method == "POST" and request.endpoint == "portal.sso_settings":
        return {
            "enabled": bool(request.form.get("enabled")),
            "issuer": request.form.get("issuer", ""),
            "client_id": request.form.get("client_id", ""),
            "domains": request.form.get("domains", ""),
            "jit_role_id": request.form.get("jit_role_id", ""),
            "allow_passwords": bool(request.form.get("allow_passwords")),
        }
    if config is None:
        return {"enabled": False, "allow_passwords": True, "jit_role_id": ""}
    return {
        "enabled": config.enabled,
        "issuer": config.issuer,
        "client_id": config.client_id,
        "domains": "\n".join(config.domain_names),
        "jit_role_id": str(config.jit_role_id or ""),
        "allow_passwords": config.allow_passwords,
    }


def render_security_page(status: int = 200):
    config = sso_config.config_of(current_org.id)
    return render_template(
        "settings/security.html",
        policies=mfa.POLICY_LABELS,
        sso_config=config,
        sso_form=_sso_form_values(config),
        secret_stored=bool(config and config.client_secret_sealed),
        callback_url=provider.callback_url(),
        jit_roles=invitations.grantable_roles(current_user._get_current_object(), current_org.id),
    ), status


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
    flash(_("MFA policy saved.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("portal.security_settings")), 303


def _role_id(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return -1  # refused as an unknown role


@bp.route("/settings/security/sso", methods=["POST"])
@permission_required("org.manage")
def sso_settings():
    form = sso_config.SsoSettings(
        enabled=bool(request.form.get("enabled")),
        issuer=request.form.get("issuer", ""),
        client_id=request.form.get("client_id", ""),
        client_secret=request.form.get("client_secret") or None,
        domains=request.form.get("domains", ""),
        jit_role_id=_role_id(request.form.get("jit_role_id")),
        allow_passwords=bool(request.form.get("allow_passwords")),
    )
    record = current_auth_session()
    uses_sso_here = (
        record is not None
        and record.auth_method == "sso"
        and record.organization_id == current_org.id
    )
    try:
        changed = sso_config.save_settings(
            current_user._get_current_object(), current_org, form, actor_uses_sso_here=uses_sso_here
        )
    except SsoError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return render_security_page(exc.status)
    db.session.commit()
    flash(_("Single sign-on saved.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("portal.security_settings")), 303
