"""Portal → Settings → Invitations: organization admins invite people, see the pending
invitations, send them again and withdraw them."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.core.mail import MailError
from app.extensions import db
from app.models import Invitation, Role, utcnow
from app.people import invitations
from app.portal import bp
from app.tenancy import current_org, get_in_org_or_404, permission_required

MAIL_FAILED = _l(
    "The invitation to %(email)s was saved, but the e-mail could not be sent. "
    "Check the mail settings, then use Send again."
)


def _mail(invitation: Invitation, raw: str) -> bool:
    try:
        invitations.send_mail(invitation, raw)
    except MailError:
        flash(str(MAIL_FAILED) % {"email": invitation.email}, "error")
        return False
    return True


def _list_page(status: int = 200):
    """The invitations page; after a refusal, with its status and the submitted form."""
    return render_template(
        "settings/invitations.html",
        invitations=invitations.invitations_of(current_org.id),
        roles=invitations.grantable_roles(current_user._get_current_object(), current_org.id),
        at=utcnow(),
        form=request.form if request.endpoint == "portal.invitation_list" else {},
    ), status


def _apply(action, done):
    """Run an invitation action; on refusal show the page with its status, else commit and
    call `done(result)` (flashes), then back to the list."""
    try:
        result = action()
    except invitations.InvitationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _list_page(exc.status)
    db.session.commit()
    done(result)
    return redirect(url_for("portal.invitation_list")), 303


def _sent(message):
    def done(result):
        invitation, raw = result
        if _mail(invitation, raw):
            flash(str(message) % {"email": invitation.email}, "success")

    return done


@bp.route("/settings/invitations", methods=["GET", "POST"])
@permission_required("users.manage")
def invitation_list():
    if request.method == "GET":
        return _list_page()
    role = get_in_org_or_404(Role, request.form.get("role_id"))
    return _apply(
        lambda: invitations.create_invitation(
            current_user._get_current_object(), current_org, request.form.get("email", ""), role
        ),
        _sent(_l("Invitation sent to %(email)s.")),
    )


@bp.route("/settings/invitations/<int:invitation_id>/resend", methods=["POST"])
@permission_required("users.manage")
def resend_invitation(invitation_id: int):
    invitation = get_in_org_or_404(Invitation, invitation_id)
    return _apply(
        lambda: (invitation, invitations.resend(current_user._get_current_object(), invitation)),
        _sent(_l("A new link was sent to %(email)s; the old one no longer works.")),
    )


@bp.route("/settings/invitations/<int:invitation_id>/revoke", methods=["POST"])
@permission_required("users.manage")
def revoke_invitation(invitation_id: int):
    invitation = get_in_org_or_404(Invitation, invitation_id)
    return _apply(
        lambda: invitations.revoke(current_user._get_current_object(), invitation),
        lambda _result: flash(
            _(
                "The invitation of %(email)s was withdrawn; its link no longer works.",
                email=invitation.email,
            ),
            "success",
        ),
    )
