"""Single sign-on against a real OpenID provider: the authorization code flow with PKCE,
state and nonce, just-in-time accounts, domains, and the refusals."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
from sqlalchemy import select

from app.extensions import db
from app.models import AuthSession, Organization, SsoConfig, SsoIdentity, User
from app.people.organizations import builtin_role
from app.people.sso import provider as sso_provider
from app.people.users import add_membership, find_user_by_email, membership_of
from tests import factories
from tests.admin.support import audit_events
from tests.auth.sso_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    authorize,
    come_back,
    provider_user,
    sso_sign_in,
    start,
    with_param,
)


def test_sso_sign_in_provisions_a_new_user_with_the_configured_role(
    app, acme, provider, make_browser
):
    provider_user(provider, "alice-sub", email="alice@acme.example", name="Alice Example")
    browser = make_browser()
    url = start(browser)
    query = parse_qs(urlsplit(url).query)
    # Authorization code flow with PKCE (S256), state and nonce.
    assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [app.config["PORTAL_URL"] + sso_provider.CALLBACK_PATH]
    assert "openid" in query["scope"][0].split()

    response = come_back(browser, authorize(url, "alice-sub"))
    assert response.status_code == 302
    home = browser.get("/").get_data(as_text=True)
    assert "<h1>Acme</h1>" in home and "Operator" in home
    with app.app_context():
        user = find_user_by_email("alice@acme.example")
        assert user.name == "Alice Example" and user.password_hash is None
        assert membership_of(user, acme["org"]).role.name == "Operator"
        identity = db.session.execute(select(SsoIdentity)).scalar_one()
        assert identity.subject == "alice-sub" and identity.user_id == user.id
        record = db.session.execute(select(AuthSession)).scalar_one()
        assert record.auth_method == "sso" and record.organization_id == acme["org"]
    [event] = audit_events(app, "auth.sso_login")
    assert event["details"]["provisioned"] is True
    assert event["organization_id"] == acme["org"]


def test_an_existing_member_is_linked_and_later_followed_by_subject(
    app, acme, provider, make_browser
):
    with app.app_context():
        org = db.session.get(Organization, acme["org"])
        bob = factories.create_member(org, "auditor", email="bob@acme.example")
        bob_id = bob.id
    provider_user(provider, "bob-sub", email="bob@acme.example")
    browser = make_browser()
    assert sso_sign_in(browser, "bob-sub").status_code == 302
    assert "Auditor" in browser.get("/").get_data(as_text=True)
    # The provider now gives bob's address to someone else (another subject): refused.
    provider_user(provider, "new-bob-sub", email="bob@acme.example")
    response = sso_sign_in(make_browser(), "new-bob-sub")
    assert response.status_code == 403
    assert "linked to another identity" in response.get_data(as_text=True)
    # The original subject still signs in as bob, whatever its e-mail says now.
    provider_user(provider, "bob-sub", email="robert@acme.example")
    again = make_browser()
    assert sso_sign_in(again, "bob-sub").status_code == 302
    with app.app_context():
        assert db.session.get(User, bob_id).email == "bob@acme.example"
        assert find_user_by_email("robert@acme.example") is None


def test_a_wrong_email_domain_is_refused(app, acme, provider, make_browser):
    provider_user(provider, "mallory-sub", email="mallory@evil.example")
    browser = make_browser()
    response = sso_sign_in(browser, "mallory-sub")
    assert response.status_code == 403
    assert "evil.example may not sign in to Acme" in response.get_data(as_text=True)
    assert browser.get("/").status_code == 302
    with app.app_context():
        assert find_user_by_email("mallory@evil.example") is None
    [event] = audit_events(app, "auth.sso_refused")
    assert event["details"] == {"reason": "domain_not_allowed", "email": "mallory@evil.example"}


def test_an_unverified_email_is_refused(app, acme, provider, make_browser):
    provider_user(provider, "u-sub", email="unverified@acme.example", email_verified=False)
    assert sso_sign_in(make_browser(), "u-sub").status_code == 403


def test_state_mismatch_is_refused(app, acme, provider, make_browser):
    provider_user(provider, "carol-sub", email="carol@acme.example")
    browser = make_browser()
    back = authorize(start(browser), "carol-sub")
    response = come_back(browser, with_param(back, state="forged-state"))
    assert response.status_code == 400
    assert "state mismatch" in response.get_data(as_text=True)
    assert browser.get("/").status_code == 302
    # The genuine answer cannot be used afterwards either: the pending sign-in is gone.
    assert come_back(browser, back).status_code == 400
    # Nor in a browser that never started a sign-in (login CSRF).
    assert come_back(make_browser(), back).status_code == 400
    with app.app_context():
        assert find_user_by_email("carol@acme.example") is None
    reasons = [e["details"]["reason"] for e in audit_events(app, "auth.sso_refused")]
    assert reasons == ["state_mismatch", "no_pending_sign_in", "no_pending_sign_in"]


def test_nonce_mismatch_is_refused(app, acme, provider, make_browser):
    provider_user(provider, "dave-sub", email="dave@acme.example")
    browser = make_browser()
    url = start(browser)
    # A crafted authorization request: same state (so it reaches our nonce check), but an
    # ID token minted for another nonce, as a replayed or injected token would be.
    back = authorize(with_param(url, nonce="attacker-nonce"), "dave-sub")
    response = come_back(browser, back)
    assert response.status_code == 401
    assert "nonce mismatch" in response.get_data(as_text=True)
    assert browser.get("/").status_code == 302
    with app.app_context():
        assert find_user_by_email("dave@acme.example") is None
    [event] = audit_events(app, "auth.sso_refused")
    assert event["details"]["reason"] == "nonce_mismatch"


def test_provider_denial_is_refused(app, acme, provider, make_browser):
    browser = make_browser()
    url = start(browser)
    denied = requests.post(url, data={"action": "deny"}, allow_redirects=False, timeout=5)
    response = come_back(browser, denied.headers["Location"])
    assert response.status_code == 401
    assert "access_denied" in response.get_data(as_text=True)


def test_unknown_person_is_refused_when_nobody_is_provisioned(app, acme, provider, make_browser):
    with app.app_context():
        db.session.get(SsoConfig, acme["org"]).jit_role_id = None
        db.session.commit()
    provider_user(provider, "erin-sub", email="erin@acme.example")
    response = sso_sign_in(make_browser(), "erin-sub")
    assert response.status_code == 403
    assert "Ask an administrator of Acme for an invitation" in response.get_data(as_text=True)


def test_an_account_outside_the_org_is_not_pulled_in(app, acme, provider, make_browser):
    with app.app_context():
        other = factories.create_org("Other")
        factories.create_member(other, "operator", email="frank@acme.example")
    provider_user(provider, "frank-sub", email="frank@acme.example")
    response = sso_sign_in(make_browser(), "frank-sub")
    assert response.status_code == 403
    assert "not a member of Acme" in response.get_data(as_text=True)
    with app.app_context():
        assert membership_of(find_user_by_email("frank@acme.example"), acme["org"]) is None


def test_platform_admins_never_sign_in_through_an_org_provider(app, acme, provider, make_browser):
    with app.app_context():
        root = factories.create_platform_admin("root@acme.example")
        add_membership(
            root, db.session.get(Organization, acme["org"]), builtin_role(acme["org"], "auditor")
        )
        db.session.commit()
    provider_user(provider, "root-sub", email="root@acme.example")
    response = sso_sign_in(make_browser(), "root-sub")
    assert response.status_code == 403
    assert "Platform admin accounts" in response.get_data(as_text=True)


def test_an_sso_session_acts_only_in_its_organization(app, acme, provider, make_browser):
    with app.app_context():
        org = db.session.get(Organization, acme["org"])
        grace = factories.create_member(org, "operator", email="grace@acme.example")
        other = factories.create_org("Globex")
        add_membership(grace, other, builtin_role(other.id, "org_admin"))
        db.session.commit()
        other_id = other.id
    provider_user(provider, "grace-sub", email="grace@acme.example")
    browser = make_browser()
    sso_sign_in(browser, "grace-sub")
    home = browser.get("/").get_data(as_text=True)
    assert "<h1>Acme</h1>" in home and "Globex" not in home
    assert browser.submit("/", {"org_id": other_id}, post_url="/switch-org").status_code == 404
    # With her password she reaches both.
    pw = make_browser()
    pw.login("grace@acme.example", factories.PASSWORD)
    assert "Globex" in pw.get("/").get_data(as_text=True)


def test_sign_in_by_work_email_finds_the_organization(app, acme, provider, make_browser):
    provider_user(provider, "heidi-sub", email="heidi@acme.example")
    browser = make_browser()
    back = authorize(start(browser, "heidi@acme.example"), "heidi-sub")
    assert come_back(browser, back).status_code == 302
    unknown = make_browser().submit(
        "/login", {"org": "nobody@nowhere.example"}, post_url="/sso/start"
    )
    assert unknown.status_code == 404


def test_passwords_disabled_org_refuses_password_sign_in_for_its_users(
    app, acme, provider, make_browser
):
    with app.app_context():
        org = db.session.get(Organization, acme["org"])
        factories.create_member(org, "operator", email="ivan@acme.example")
        # Judy is in Acme and in an organization that still allows passwords.
        judy = factories.create_member(org, "operator", email="judy@acme.example")
        other = factories.create_org("Initech")
        add_membership(judy, other, builtin_role(other.id, "auditor"))
        db.session.commit()
    ivan_browser = make_browser()
    ivan_browser.login("ivan@acme.example", factories.PASSWORD)
    assert ivan_browser.get("/workspaces/devices").status_code == 200
    with app.app_context():
        db.session.get(SsoConfig, acme["org"]).allow_passwords = False
        db.session.commit()
    # His open password session loses Acme at once...
    assert ivan_browser.get("/workspaces/devices").status_code == 403
    # ...and a new password sign-in is refused with a pointer to SSO.
    refused = make_browser().login("ivan@acme.example", factories.PASSWORD)
    assert refused.status_code == 403
    assert "signs in with single sign-on" in refused.get_data(as_text=True)
    reasons = [e["details"]["reason"] for e in audit_events(app, "auth.login_refused")]
    assert reasons == ["sso_required"]
    # A wrong password still gets the generic answer (no hint that the account exists).
    wrong = make_browser().login("ivan@acme.example", "not the password!")
    assert wrong.status_code == 401
    # Judy signs in with her password, but only into the other organization.
    judy_browser = make_browser()
    assert judy_browser.login("judy@acme.example", factories.PASSWORD).status_code == 302
    home = judy_browser.get("/").get_data(as_text=True)
    assert "<h1>Initech</h1>" in home and "Acme" not in home
    # SSO still works for Ivan.
    provider_user(provider, "ivan-sub", email="ivan@acme.example")
    via_sso = make_browser()
    assert sso_sign_in(via_sso, "ivan-sub").status_code == 302
    assert via_sso.get("/workspaces/devices").status_code == 200


def test_mfa_is_asked_after_sso_unless_the_provider_proved_it(app, acme, provider, make_browser):
    with app.app_context():
        db.session.get(Organization, acme["org"]).mfa_policy = "all"
        db.session.commit()
    provider_user(provider, "kim-sub", email="kim@acme.example")
    browser = make_browser()
    sso_sign_in(browser, "kim-sub")
    assert browser.get("/").headers["Location"].startswith("/mfa/setup")
    # The provider says it used several factors (RFC 8176 "amr": "mfa"): that counts.
    provider_user(provider, "lee-sub", email="lee@acme.example", amr=["pwd", "mfa"])
    trusted = make_browser()
    sso_sign_in(trusted, "lee-sub")
    assert trusted.get("/").status_code == 200
    events = audit_events(app, "auth.sso_login")
    assert [e["details"]["mfa_by_provider"] for e in events] == [False, True]


def test_removing_a_member_ends_their_sso_session(app, acme, provider, make_browser):
    provider_user(provider, "mia-sub", email="mia@acme.example")
    browser = make_browser()
    sso_sign_in(browser, "mia-sub")
    assert browser.get("/").status_code == 200
    with app.app_context():
        from app.people.offboarding import end_membership_access

        membership = membership_of(find_user_by_email("mia@acme.example"), acme["org"])
        end_membership_access(membership)
        db.session.delete(membership)
        db.session.commit()
        assert db.session.execute(select(SsoIdentity)).first() is None
    assert browser.get("/").status_code == 302


def test_the_token_request_proves_pkce_and_authenticates_the_client(
    app, acme, provider, make_browser, monkeypatch
):
    sent = {}
    real = sso_provider.OAuth2Session.fetch_token

    def spy(self, url=None, **kwargs):
        sent.update(kwargs, client_secret=self.client_secret)
        return real(self, url, **kwargs)

    monkeypatch.setattr(sso_provider.OAuth2Session, "fetch_token", spy)
    provider_user(provider, "pat-sub", email="pat@acme.example")
    browser = make_browser()
    url = start(browser)
    challenge = parse_qs(urlsplit(url).query)["code_challenge"][0]
    assert come_back(browser, authorize(url, "pat-sub")).status_code == 302
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    assert create_s256_code_challenge(sent["code_verifier"]) == challenge
    assert sent["client_secret"] == CLIENT_SECRET
