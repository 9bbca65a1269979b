"""Portal → Settings → Enrollment tokens: organization admins let agents join groups."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.fleet.enrollment import (
    EnrollmentError,
    create_enrollment_token,
    revoke_enrollment_token,
)
from app.models import EnrollmentToken, ReportingGroup
from app.portal import bp
from app.security import no_store
from app.tenancy import current_org, get_in_org_or_404, permission_required


def _optional_int(name: str) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise EnrollmentError(f"{name.replace('_', ' ')} must be a whole number") from None


@bp.route("/settings/enrollment-tokens", methods=["GET", "POST"])
@no_store
@permission_required("org.manage")
def enrollment_tokens():
    groups = list(
        db.session.execute(
            select(ReportingGroup)
            .where(ReportingGroup.organization_id == current_org.id)
            .order_by(ReportingGroup.name)
        ).scalars()
    )
    if request.method == "POST":
        try:
            group = get_in_org_or_404(ReportingGroup, request.form.get("group_id"))
            token, raw = create_enrollment_token(
                group,
                request.form.get("name", ""),
                days=_optional_int("days"),
                max_uses=_optional_int("max_uses"),
                actor=current_user._get_current_object(),
            )
        except EnrollmentError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            return render_template(
                "settings/enrollment_token_created.html", token=token, raw=raw, group=group
            )
    tokens = (
        db.session.execute(
            select(EnrollmentToken)
            .options(joinedload(EnrollmentToken.reporting_group))
            .where(EnrollmentToken.organization_id == current_org.id)
            .order_by(EnrollmentToken.created_at.desc())
        )
        .scalars()
        .all()
    )
    status = 400 if request.method == "POST" else 200
    return render_template(
        "settings/enrollment_tokens.html", tokens=tokens, groups=groups, form=request.form
    ), status


@bp.route("/settings/enrollment-tokens/<int:token_id>/revoke", methods=["POST"])
@permission_required("org.manage")
def revoke_enrollment(token_id: int):
    token = get_in_org_or_404(EnrollmentToken, token_id)
    revoke_enrollment_token(token, actor=current_user._get_current_object())
    db.session.commit()
    flash(
        _(
            "Enrollment token %(name)s revoked; enrolled devices keep working.",
            name=token.name,
        ),
        "success",
    )
    return redirect(url_for("portal.enrollment_tokens"))
