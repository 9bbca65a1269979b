"""Invitations: an organization admin invites by e-mail; the invitee creates an account or
joins with the one they have. Single use, expiring, revocable, no escalation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Invitation, Membership, Role, User, utcnow
from app.people import invitations
from app.people.users import find_user_by_email, membership_of
from tests.admin.support import audit_events, build_tenant, post
from tests.factories import PASSWORD

NEW_PASSWORD = "a long new password"
LINK_RE = re.compile(r"(https?://\S+)/invitations/(\S+)")


@pytest.fixture
def tenants(app):
    with app.app_context():
        return build_tenant("Alpha"), build_tenant("Bravo")


@pytest.fixture
def alpha(tenants):
    return tenants[0]


@pytest.fixture
def bravo(tenants):
    return tenants[1]


@pytest.fixture
def admin(make_browser, alpha):
    browser = make_browser()
    assert browser.login(alpha.admin_email, PASSWORD).status_code == 302
    return browser


def invite(admin, email: str, role_id: int, **kw):
    return admin.submit("/settings/invitations", {"email": email, "role_id": str(role_id)}, **kw)


def link_path(outbox, email: str) -> str:
    """The path of the newest invitation link mailed to `email`."""
    match = LINK_RE.search(outbox.last_body(email))
    assert match, "no invitation link in the mail"
    return f"/invitations/{match[2]}"


def test_admin_invites_and_the_invitee_creates_an_account(app, admin, alpha, outbox, make_browser):
    response = invite(admin, "new.person@alpha.example", alpha.role_ids["operator"])
    assert response.status_code == 303
    [mail] = outbox.messages("new.person@alpha.example")
    assert "Invitation to join Alpha" in mail["Subject"]
    body = outbox.last_body("new.person@alpha.example")
    assert "as Operator" in body
    match = LINK_RE.search(body)
    assert match[1] == app.config["PORTAL_URL"]  # never the request's Host header
    raw = match[2]
    listing = admin.get("/settings/invitations").get_data(as_text=True)
    assert "new.person@alpha.example" in listing and "pending" in listing

    invitee = make_browser()
    page = invitee.get(f"/invitations/{raw}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Pragma"] == "no-cache"
    assert "Create my account" in page.get_data(as_text=True)
    response = invitee.submit(
        f"/invitations/{raw}",
        {"name": "New Person", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    home = invitee.get("/").get_data(as_text=True)
    assert "<h1>Alpha</h1>" in home and "Operator" in home

    with app.app_context():
        user = find_user_by_email("new.person@alpha.example")
        assert user.name == "New Person"
        assert user.password_hash.startswith("$argon2id$")
        assert membership_of(user, alpha.org_id).role_id == alpha.role_ids["operator"]
        invitation = db.session.execute(select(Invitation)).scalar_one()
        assert invitation.accepted_by_id == user.id
        # Only a hash of the token is kept, and no event mentions it.
        assert invitation.token_hash == invitations.hash_token(raw) != raw
        events = db.session.execute(select(AuditEvent)).scalars().all()
        assert all(raw not in str(e.details) for e in events)
    actions = [e["action"] for e in audit_events(app) if e["organization_id"] == alpha.org_id]
    assert "invitation.sent" in actions and "invitation.accepted" in actions
    assert "membership.created" in actions
    # A fresh password sign-in works too.
    assert make_browser().login("new.person@alpha.example", NEW_PASSWORD).status_code == 302


def test_the_link_works_once(app, admin, alpha, outbox, make_browser):
    invite(admin, "once@alpha.example", alpha.role_ids["auditor"])
    path = link_path(outbox, "once@alpha.example")
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert make_browser().submit(path, data).status_code == 302
    again = make_browser().get(path)
    assert again.status_code == 410
    assert "already accepted" in again.get_data(as_text=True)


def test_a_short_password_is_refused_and_the_invitation_stays_pending(
    app, admin, alpha, outbox, make_browser
):
    invite(admin, "short@alpha.example", alpha.role_ids["operator"])
    path = link_path(outbox, "short@alpha.example")
    response = make_browser().submit(path, {"password": "short", "confirm": "short"})
    assert response.status_code == 400
    assert "at least 12 characters" in response.get_data(as_text=True)
    with app.app_context():
        assert find_user_by_email("short@alpha.example") is None
        assert db.session.execute(select(Invitation)).scalar_one().accepted_at is None
    assert make_browser().get(path).status_code == 200


def test_an_expired_link_is_refused(app, admin, alpha, outbox, make_browser):
    invite(admin, "late@alpha.example", alpha.role_ids["operator"])
    path = link_path(outbox, "late@alpha.example")
    invitee = make_browser()
    csrf = invitee.token(path)  # the form was opened in time...
    with app.app_context():
        invitation = db.session.execute(select(Invitation)).scalar_one()
        invitation.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    # ...and sent too late.
    response = invitee.post(
        path, data={"csrf_token": csrf, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    with app.app_context():
        assert find_user_by_email("late@alpha.example") is None
    assert "expired" in admin.get("/settings/invitations").get_data(as_text=True)


def test_lifetime_is_configurable(app, admin, alpha, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "INVITATION_TTL_SECONDS", 3600)
    invite(admin, "hour@alpha.example", alpha.role_ids["operator"])
    with app.app_context():
        invitation = db.session.execute(select(Invitation)).scalar_one()
        left = invitation.expires_at - utcnow()
    assert timedelta(minutes=59) < left <= timedelta(hours=1)


def test_withdrawn_and_replaced_links_stop_working(app, admin, alpha, outbox, make_browser):
    invite(admin, "maybe@alpha.example", alpha.role_ids["operator"])
    first = link_path(outbox, "maybe@alpha.example")
    # Sending again gives a new link; the old one is dead.
    with app.app_context():
        inv_id = db.session.execute(select(Invitation.id)).scalar_one()
    response = post(admin, f"/settings/invitations/{inv_id}/resend", {})
    assert response.status_code == 303
    second = link_path(outbox, "maybe@alpha.example")
    assert first != second
    assert make_browser().get(first).status_code == 404
    assert make_browser().get(second).status_code == 200
    # Withdrawn: the link is refused.
    assert post(admin, f"/settings/invitations/{inv_id}/revoke", {}).status_code == 303
    gone = make_browser().get(second)
    assert gone.status_code == 410 and "withdrawn" in gone.get_data(as_text=True)
    # A withdrawn invitation cannot be sent again.
    again = post(admin, f"/settings/invitations/{inv_id}/resend", {})
    assert again.status_code == 409
    assert "Only pending or expired" in again.get_data(as_text=True)
    actions = [e["action"] for e in audit_events(app)]
    assert "invitation.resent" in actions and "invitation.revoked" in actions


def test_inviting_the_same_address_again_replaces_the_open_invitation(
    app, admin, alpha, outbox, make_browser
):
    invite(admin, "twice@alpha.example", alpha.role_ids["operator"])
    old = link_path(outbox, "twice@alpha.example")
    invite(admin, "twice@alpha.example", alpha.role_ids["auditor"])
    new = link_path(outbox, "twice@alpha.example")
    assert make_browser().get(old).status_code == 410
    assert "<strong>Auditor</strong>" in make_browser().get(new).get_data(as_text=True)


def test_an_existing_account_joins_only_after_signing_in_as_itself(
    app, admin, alpha, bravo, outbox, make_browser
):
    # Bravo's operator is invited to Alpha: the admin's side looks the same as for anyone.
    response = invite(admin, bravo.operator_email, alpha.role_ids["auditor"])
    assert response.status_code == 303
    path = link_path(outbox, bravo.operator_email)

    stranger = make_browser()
    page = stranger.get(path).get_data(as_text=True)
    assert "Sign in as" in page and "Create my account" not in page
    # Posting without signing in creates nothing.
    stranger.submit("/login", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, post_url=path)
    with app.app_context():
        assert membership_of(find_user_by_email(bravo.operator_email), alpha.org_id) is None

    # Signed in as someone else: refused.
    other = make_browser()
    other.login(bravo.admin_email, PASSWORD)
    wrong = other.get(path)
    assert wrong.status_code == 403
    assert "signed in as" in wrong.get_data(as_text=True)

    invitee = make_browser()
    response = invitee.submit(
        "/login", {"email": bravo.operator_email, "password": PASSWORD, "next": path}
    )
    assert response.headers["Location"] == path
    assert "Join Alpha" in invitee.get(path).get_data(as_text=True)
    response = invitee.submit(path, {})
    assert response.status_code == 302
    home = invitee.get("/").get_data(as_text=True)
    assert "<h1>Alpha</h1>" in home and "Auditor" in home
    with app.app_context():
        user = find_user_by_email(bravo.operator_email)
        assert membership_of(user, alpha.org_id).role.name == "Auditor"
        assert membership_of(user, bravo.org_id) is not None
    accepted = audit_events(app, "invitation.accepted")
    assert accepted[-1]["details"]["new_account"] is False


def test_inviting_a_current_member_is_a_conflict(app, admin, alpha, outbox):
    response = invite(admin, alpha.operator_email, alpha.role_ids["auditor"])
    assert response.status_code == 409
    assert "already a member" in response.get_data(as_text=True)
    assert outbox.messages() == []


def test_no_escalation_through_invitations(app, alpha, outbox, make_browser):
    # A people manager without ra.start cannot invite an Operator (who has it).
    with app.app_context():
        role = Role(organization_id=alpha.org_id, name="People desk")
        role.set_permissions({"users.manage", "devices.view", "audit.view"})
        db.session.add(role)
        db.session.commit()
        from app.models import Organization
        from tests.factories import create_member

        desk = create_member(db.session.get(Organization, alpha.org_id), "auditor")
        membership_of(desk, alpha.org_id).role_id = role.id
        db.session.commit()
        email = desk.email
    browser = make_browser()
    browser.login(email, PASSWORD)
    page = browser.get("/settings/invitations").get_data(as_text=True)
    assert "Operator" not in page and "Organization Admin" not in page
    assert "Auditor" in page
    response = invite(browser, "x@alpha.example", alpha.role_ids["operator"])
    assert response.status_code == 403
    assert "holds permissions you do not have" in response.get_data(as_text=True)
    response = invite(browser, "x@alpha.example", alpha.role_ids["org_admin"])
    assert response.status_code == 403
    assert outbox.messages() == []
    with app.app_context():
        assert db.session.execute(select(Invitation)).first() is None


def test_an_invitation_dies_when_its_sender_loses_the_right_to_give_the_role(
    app, admin, alpha, outbox, make_browser
):
    invite(admin, "orphan@alpha.example", alpha.role_ids["operator"])
    path = link_path(outbox, "orphan@alpha.example")
    with app.app_context():
        sender = find_user_by_email(alpha.admin_email)
        membership_of(sender, alpha.org_id).role_id = alpha.role_ids["auditor"]
        db.session.commit()
    response = make_browser().get(path)
    assert response.status_code == 410
    assert "no longer valid" in response.get_data(as_text=True)


def test_only_people_managers_see_the_screen_and_other_tenants_rows_are_404(
    app, admin, alpha, bravo, outbox, make_browser
):
    operator = make_browser()
    operator.login(alpha.operator_email, PASSWORD)
    assert operator.get("/settings/invitations").status_code == 403
    forged = post(
        operator,
        "/settings/invitations",
        {"email": "x@alpha.example", "role_id": str(alpha.role_ids["auditor"])},
    )
    assert forged.status_code == 403

    bravo_admin = make_browser()
    bravo_admin.login(bravo.admin_email, PASSWORD)
    invite(bravo_admin, "b@bravo.example", bravo.role_ids["operator"])
    with app.app_context():
        bravo_inv = db.session.execute(select(Invitation.id)).scalar_one()
    assert post(admin, f"/settings/invitations/{bravo_inv}/revoke", {}).status_code == 404
    assert post(admin, f"/settings/invitations/{bravo_inv}/resend", {}).status_code == 404
    # A role of another organization is 404 as well.
    assert invite(admin, "y@alpha.example", bravo.role_ids["operator"]).status_code == 404
    assert "b@bravo.example" not in admin.get("/settings/invitations").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Invitation, bravo_inv).revoked_at is None


def test_unknown_link_is_404(app, client):
    response = client.get("/invitations/not-a-real-token")
    assert response.status_code == 404
    assert "not valid" in response.get_data(as_text=True)


def test_mail_failure_keeps_the_invitation_and_says_so(app, admin, alpha, monkeypatch, outbox):
    from app.core import mail

    def broken(msg):
        raise mail.MailError("The mail server did not accept the message.")

    monkeypatch.setitem(mail.BACKENDS, "outbox", broken)
    response = invite(admin, "nomail@alpha.example", alpha.role_ids["operator"])
    assert response.status_code == 303
    page = admin.get("/settings/invitations").get_data(as_text=True)
    assert "could not be sent" in page and "nomail@alpha.example" in page
    with app.app_context():
        assert db.session.execute(select(Invitation)).scalar_one().email == "nomail@alpha.example"


def test_admin_view_points_org_admins_to_invitations_for_existing_accounts(
    app, admin, alpha, bravo
):
    html = post(
        admin,
        "/admin/memberships/new/",
        {"email": bravo.admin_email, "role": str(alpha.role_ids["operator"])},
    ).get_data(as_text=True)
    assert "Invite it from Settings" in html
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == bravo.admin_email)).scalar_one()
        assert (
            db.session.execute(
                select(Membership).where(
                    Membership.user_id == user.id, Membership.organization_id == alpha.org_id
                )
            ).first()
            is None
        )


def test_deleting_a_role_withdraws_its_open_invitations(app, admin, alpha, outbox, make_browser):
    invite(admin, "night@alpha.example", alpha.custom_role_id)
    path = link_path(outbox, "night@alpha.example")
    response = post(admin, "/admin/roles/delete/", {"id": str(alpha.custom_role_id)})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Role, alpha.custom_role_id) is None
        assert db.session.execute(select(Invitation)).first() is None
    assert make_browser().get(path).status_code == 404
