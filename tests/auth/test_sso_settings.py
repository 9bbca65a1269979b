"""Single sign-on settings (Settings → Security): sealed client secret, checks, roles of
new users, private networks, who sees them, changing the provider."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Organization, SsoConfig, SsoIdentity
from app.people.organizations import builtin_role
from app.people.sso import SsoError
from app.people.sso import provider as sso_provider
from app.people.users import membership_of
from tests import factories
from tests.admin.support import audit_events
from tests.auth.sso_support import (
    CLIENT_ID,
    provider_user,
    sso_sign_in,
)


@pytest.fixture
def admin(app, acme, make_browser):
    browser = make_browser()
    assert browser.login(acme["admin"], factories.PASSWORD).status_code == 302
    return browser


def save(admin, **fields):
    data = {
        "enabled": "1",
        "issuer": "",
        "client_id": CLIENT_ID,
        "client_secret": "",
        "domains": "acme.example",
        "jit_role_id": "",
        "allow_passwords": "1",
        **fields,
    }
    data = {k: v for k, v in data.items() if v is not None}
    return admin.submit("/settings/security", data, post_url="/settings/security/sso")


def test_client_secret_is_sealed_never_shown_logged_or_audited(app, acme, provider, admin, caplog):
    caplog.set_level(logging.DEBUG)
    new_secret = "brand-new-client-secret-9f8e7d"
    response = save(
        admin, issuer=provider, client_secret=new_secret, domains="acme.example\nAcme.Example.org"
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    page = admin.get("/settings/security").get_data(as_text=True)
    assert new_secret not in page and "stored (never shown)" in page
    assert "acme.example.org" in page
    with app.app_context():
        config = db.session.get(SsoConfig, acme["org"])
        assert new_secret.encode() not in config.client_secret_sealed
        assert sso_provider.client_secret(config) == new_secret
    [event] = audit_events(app, "sso.configured")
    assert event["details"]["changes"]["client_secret"] == "changed"
    assert new_secret not in str(event["details"])
    # Leaving the field empty keeps the secret; the provider still accepts our sign-ins.
    assert save(admin, issuer=provider, domains="acme.example").status_code == 303
    provider_user(provider, "nia-sub", email="nia@acme.example")
    with app.app_context():
        assert sso_provider.client_secret(db.session.get(SsoConfig, acme["org"])) == new_secret
    assert new_secret not in caplog.text


def test_settings_are_checked(app, acme, provider, admin):
    assert save(admin, issuer=provider, domains="not a domain!").status_code == 400
    wrong_issuer = save(admin, issuer=provider + "/")  # the provider calls itself without "/"
    assert wrong_issuer.status_code == 502
    assert "the issuer must be exactly that" in wrong_issuer.get_data(as_text=True)
    unreachable = save(admin, issuer="http://localhost:9")
    assert unreachable.status_code == 502
    off_with_no_sso = save(admin, issuer=provider, enabled=None, allow_passwords=None)
    assert off_with_no_sso.status_code == 409
    # Turning passwords off from a password session would lock the admin out.
    lockout = save(admin, issuer=provider, allow_passwords=None)
    assert lockout.status_code == 409
    assert "Sign in with single sign-on first" in lockout.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(SsoConfig, acme["org"]).allow_passwords is True


def test_jit_role_obeys_no_escalation(app, acme, provider, make_browser):
    from app.models import Role

    with app.app_context():
        role = Role(organization_id=acme["org"], name="Security desk")
        role.set_permissions({"org.manage", "devices.view"})
        db.session.add(role)
        db.session.commit()
        org = db.session.get(Organization, acme["org"])
        desk = factories.create_member(org, "auditor")
        membership_of(desk, acme["org"]).role_id = role.id
        db.session.commit()
        operator_id = builtin_role(acme["org"], "operator").id
        email = desk.email
    browser = make_browser()
    browser.login(email, factories.PASSWORD)
    response = save(browser, issuer=provider, jit_role_id=str(operator_id))
    assert response.status_code == 403
    assert "holds permissions you do not have" in response.get_data(as_text=True)


def test_private_network_issuers_are_refused_in_production_settings(
    app, acme, provider, admin, monkeypatch
):
    monkeypatch.setitem(app.config, "SSO_ALLOW_PRIVATE_NETWORKS", False)
    response = save(admin, issuer=provider)
    assert response.status_code == 400
    assert "private network" in response.get_data(as_text=True)
    for url in ("http://169.254.169.254/latest", "https://10.0.0.1/"):
        with app.app_context(), pytest.raises(SsoError):
            sso_provider.discover(url)


def test_only_org_managers_see_sso_settings(app, acme, make_browser):
    with app.app_context():
        email = factories.create_member(db.session.get(Organization, acme["org"]), "operator").email
    browser = make_browser()
    browser.login(email, factories.PASSWORD)
    assert browser.get("/settings/security").status_code == 403
    response = browser.submit("/", {"enabled": "1"}, post_url="/settings/security/sso")
    assert response.status_code == 403


def test_changing_the_provider_ends_its_sessions_and_links(
    app, acme, provider, admin, make_browser
):
    provider_user(provider, "olga-sub", email="olga@acme.example")
    olga = make_browser()
    sso_sign_in(olga, "olga-sub")
    assert olga.get("/").status_code == 200
    response = save(admin, issuer=provider, client_id="another-client")
    assert response.status_code == 303
    assert olga.get("/").status_code == 302
    with app.app_context():
        assert db.session.execute(select(SsoIdentity)).first() is None


def test_the_role_given_to_new_sso_users_cannot_be_deleted_from_under_it(app, acme, admin):
    from app.models import Role

    with app.app_context():
        role = Role(organization_id=acme["org"], name="Contractors")
        role.set_permissions({"devices.view"})
        db.session.add(role)
        db.session.flush()
        db.session.get(SsoConfig, acme["org"]).jit_role_id = role.id
        db.session.commit()
        role_id = role.id
    response = admin.submit(
        "/", {"id": str(role_id)}, post_url="/admin/roles/delete/", follow_redirects=True
    )
    assert "conflicts with other records" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Role, role_id) is not None
