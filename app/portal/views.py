"""The signed-in home, organization switcher and profile."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required

from app import audit
from app.core.passwords import verify_password
from app.extensions import db
from app.i18n import LANGUAGE_SESSION_KEY, format_day, is_language, is_time_zone, time_zones
from app.overview.dashboard import OUTCOME_ORDER, dashboard
from app.people import access, api_tokens, mfa
from app.people.signin import end_all_sessions, replace_session
from app.people.users import UserError, set_password
from app.portal import bp
from app.portal.forms import ChangePasswordForm, SwitchOrgForm
from app.portal.labels import label
from app.security import SESSION_TOKEN_KEY, current_auth_session
from app.tenancy import (
    current_membership,
    current_org,
    has_permission,
    switch_org,
    visible_group_ids,
)


@bp.route("/")
@login_required
def home():
    board = scope_groups = None
    if has_permission("devices.view"):
        visible = visible_group_ids()
        board = dashboard(current_org.id, visible_groups=visible)
        if visible is not None:
            scope_groups = [g["name"] for g in board["devices_by_group"]]
    return render_template(
        "portal/home.html",
        membership=current_membership,
        board=board,
        scope_groups=scope_groups,
        chart_data=chart_data(board) if board else None,
    )


def chart_data(board: dict) -> dict:
    """What the charts draw, with their words in the reader's language and the list each
    bar opens."""
    groups = board["devices_by_group"]
    versions = board["agent_versions"]["versions"]
    days = board["assistances_per_day"]
    refusals = board["refusals_by_code"]
    devices = url_for("portal.devices")
    return {
        "groups": {
            "labels": [g["name"] for g in groups],
            "series": [
                {
                    "label": _("Online"),
                    "data": [g["online"] for g in groups],
                    "color": "#067647",
                    "links": [f"{devices}?group={g['id']}&online=yes" for g in groups],
                },
                {
                    "label": _("Offline"),
                    "data": [g["offline"] for g in groups],
                    "color": "#8a94a6",
                    "links": [f"{devices}?group={g['id']}&online=no" for g in groups],
                },
            ],
        },
        "versions": {
            "labels": [v["version"] or "?" for v in versions],
            "series": [
                {
                    "label": _("Devices"),
                    "data": [v["devices"] for v in versions],
                    "colors": [SUPPORT_COLORS[v["support"]] for v in versions],
                    "links": [url_for("portal.devices", version=v["version"]) for v in versions],
                },
            ],
        },
        "days": {
            "labels": [format_day(date.fromisoformat(d["date"]), "MMMd") for d in days],
            "series": [
                {
                    "label": str(label("outcome", outcome)),
                    "data": [d[outcome] for d in days],
                    "color": OUTCOME_COLORS[outcome],
                    "links": [url_for("portal.assistances")] * len(days),
                }
                for outcome in OUTCOME_ORDER
            ],
            "stacked": True,
        },
        "refusals": {
            "labels": [str(label("refusal", r["code"])) for r in refusals],
            "series": [
                {
                    "label": _("Refusals"),
                    "data": [r["count"] for r in refusals],
                    "color": "#b42318",
                    "links": [url_for("portal.audit_log_page", action="assistance.refused")]
                    * len(refusals),
                },
            ],
            "horizontal": True,
        },
    }


SUPPORT_COLORS = {"ok": "#0b63ce", "no_dynamic": "#b54708", "too_old": "#b42318"}
OUTCOME_COLORS = {
    "live": "#0b63ce",
    "completed": "#067647",
    "denied": "#b54708",
    "failed": "#b42318",
}


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
            form.current_password.errors.append(_("That is not your current password."))
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
        time_zones=time_zones(),
    ), status


@bp.route("/profile/preferences", methods=["POST"])
@login_required
def preferences():
    """The person's language and time zone (empty: the browser's / the organization's)."""
    language = request.form.get("language", "")
    zone = request.form.get("time_zone", "")
    if (language and not is_language(language)) or (zone and not is_time_zone(zone)):
        flash(_("Choose a language and a time zone from the lists."), "error")
        return render_profile(400)
    current_user.language = language or None
    current_user.time_zone = zone or None
    if language:
        session[LANGUAGE_SESSION_KEY] = language
    else:
        session.pop(LANGUAGE_SESSION_KEY, None)
    db.session.commit()
    refresh()
    flash(_("Language and time zone saved."), "success")
    return redirect(url_for("portal.profile"))
