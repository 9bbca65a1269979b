"""Settings → Webhooks in the portal: who sees it, the secret shown once, changes audited,
bad input refused in words, another organization's endpoint not found."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from tests import factories
from tests.test_no_store import assert_no_store

SECRET_RE = re.compile(r'id="webhook-secret">(whsec_[A-Za-z0-9_-]+)<')


@pytest.fixture
def admin(app, browser):
    """An Organization Admin of Acme, signed in; returns the organization id."""
    with app.app_context():
        org = factories.create_org("Acme")
        email = factories.create_member(org, "org_admin").email
        org_id = org.id
    assert browser.login(email, factories.PASSWORD).status_code == 302
    return org_id


def _create(browser, url="https://hooks.example.com/in", events=("*",)):
    return browser.submit("/settings/webhooks", {"url": url, "events": list(events)})


def _endpoint(app) -> WebhookEndpoint:
    with app.app_context():
        endpoint = db.session.execute(select(WebhookEndpoint)).scalar_one()
        db.session.expunge(endpoint)
        return endpoint


def _actions(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.execute(
                select(AuditEvent.action)
                .where(AuditEvent.action.like("webhook.%"))
                .order_by(AuditEvent.id)
            ).scalars()
        )


def test_admin_creates_an_endpoint_and_sees_the_secret_once(app, admin, browser):
    page = browser.get("/settings/webhooks")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "No webhooks yet." in html and 'href="/settings/webhooks"' in html  # the tab

    created = _create(browser, events=["assistance.*", "role.*"])
    assert created.status_code == 200
    assert_no_store(created)
    secret = SECRET_RE.search(created.get_data(as_text=True))[1]
    assert len(secret) > 40

    endpoint = _endpoint(app)
    assert endpoint.events == ["assistance.*", "role.*"] and endpoint.enabled
    listing = browser.get("/settings/webhooks").get_data(as_text=True)
    detail = browser.get(f"/settings/webhooks/{endpoint.id}").get_data(as_text=True)
    for html in (listing, detail):
        assert "https://hooks.example.com/in" in html
        assert secret not in html  # never again
    assert endpoint.secret_prefix in detail
    assert _actions(app) == ["webhook.created"]


def test_every_change_is_audited_and_works(app, admin, browser):
    _create(browser)
    endpoint_id = _endpoint(app).id
    page = f"/settings/webhooks/{endpoint_id}"

    saved = browser.submit(page, {"url": "https://hooks.example.com/v2", "events": ["sso.*"]})
    assert saved.status_code == 303
    assert _endpoint(app).url == "https://hooks.example.com/v2"
    assert _endpoint(app).events == ["sso.*"]

    assert browser.submit(page, {"enabled": "0"}, post_url=f"{page}/enabled").status_code == 303
    assert _endpoint(app).enabled is False
    refused = browser.submit(page, {}, post_url=f"{page}/test", follow_redirects=True)
    assert "This endpoint is disabled" in refused.get_data(as_text=True)
    assert browser.submit(page, {"enabled": "1"}, post_url=f"{page}/enabled").status_code == 303
    assert _endpoint(app).enabled is True

    tested = browser.submit(page, {}, post_url=f"{page}/test", follow_redirects=True)
    html = tested.get_data(as_text=True)
    assert "Test event queued" in html and "<code>ping</code>" in html

    before = _endpoint(app).secret_sealed
    rotated = browser.submit(page, {}, post_url=f"{page}/rotate")
    assert rotated.status_code == 200
    assert_no_store(rotated)
    assert SECRET_RE.search(rotated.get_data(as_text=True))
    assert _endpoint(app).secret_sealed != before

    deleted = browser.submit(page, {}, post_url=f"{page}/delete")
    assert deleted.status_code == 303
    with app.app_context():
        assert db.session.execute(select(WebhookEndpoint)).first() is None
        assert db.session.execute(select(WebhookDelivery)).first() is None
    assert _actions(app) == [
        "webhook.created",
        "webhook.updated",
        "webhook.disabled",
        "webhook.enabled",
        "webhook.test_sent",
        "webhook.secret_rotated",
        "webhook.deleted",
    ]


@pytest.mark.parametrize(
    ("url", "events", "says"),
    [
        ("not a url", ["*"], "spaces or characters"),
        ("ftp://hooks.example.com/", ["*"], "must start with https://"),
        ("https://user:pw@hooks.example.com/", ["*"], "user name or password"),
        ("https://hooks.example.com/" + "a" * 2100, ["*"], "longer than 2000"),
        ("https://hooks.example.com/", [], "at least one kind of event"),
        ("https://hooks.example.com/", ["nonsense"], "is not an event filter entry"),
        ("https://hooks.example.com/", ["auth.*"], "is not published to webhooks"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(app, admin, browser, url, events, says):
    response = _create(browser, url, events)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert says in html
    assert 'value="' + url[:60] in html or not url  # what was typed is kept
    with app.app_context():
        assert db.session.execute(select(WebhookEndpoint)).first() is None


def test_members_without_webhooks_manage_get_403(app, browser):
    with app.app_context():
        org = factories.create_org("Acme")
        lead = factories.create_member(org, "helpdesk_lead").email
    browser.login(lead, factories.PASSWORD)
    assert browser.get("/settings/webhooks").status_code == 403
    assert "/settings/webhooks" not in browser.get("/settings/members").get_data(as_text=True)


def test_another_organizations_endpoint_is_not_found(app, admin, browser):
    from app.webhooks.endpoints import create_endpoint

    with app.app_context():
        other = factories.create_org("Globex")
        endpoint, _ = create_endpoint(other.id, None, "https://globex.example.com/", ["*"])
        db.session.commit()
        other_id = endpoint.id
    page = f"/settings/webhooks/{other_id}"
    assert browser.get(page).status_code == 404
    for action in ("enabled", "rotate", "test", "delete"):
        assert browser.submit(
            "/settings/webhooks", {}, post_url=f"{page}/{action}"
        ).status_code == (404)
    assert (
        browser.submit(
            "/settings/webhooks", {"url": "https://x.example/"}, post_url=page
        ).status_code
        == 404
    )
    assert "globex" not in browser.get("/settings/webhooks").get_data(as_text=True)


def test_private_addresses_are_refused_when_saving_in_production_mode(app, admin, browser):
    app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = False
    try:
        for url in (
            "https://127.0.0.1/hooks",
            "https://localhost:8443/hooks",
            "https://[::1]/hooks",
            "https://[::ffff:10.0.0.1]/hooks",
            "https://169.254.169.254/latest/meta-data",
        ):
            response = _create(browser, url)
            assert response.status_code == 400, url
            assert "non-public address" in response.get_data(as_text=True), url
        plain = _create(browser, "http://93.184.215.14/hooks")
        assert plain.status_code == 400 and "must use https://" in plain.get_data(as_text=True)
    finally:
        app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = True


def test_the_audit_log_tells_webhook_changes_in_words(app, admin, browser):
    _create(browser, url="https://hooks.example.com/secret-path?token=abc")
    endpoint_id = _endpoint(app).id
    page = f"/settings/webhooks/{endpoint_id}"
    browser.submit(page, {}, post_url=f"{page}/test")
    html = browser.get("/audit").get_data(as_text=True)
    assert "created the webhook" in html and "sent a test event to the webhook" in html
    assert f'href="/settings/webhooks/{endpoint_id}"' in html
    assert "https://hooks.example.com/…" in html
    assert "secret-path" not in html and "token=abc" not in html
