"""Starting single sign-on: the form posts to /sso/start, which redirects only within the
portal; /sso/continue then sends the browser to the provider of the sign-in its session
started, and nowhere else. The CSP keeps `form-action 'self'` everywhere."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from app.extensions import db
from app.models import SsoConfig
from app.people.users import find_user_by_email, membership_of
from tests.admin.support import audit_events
from tests.auth.sso_support import (
    authorize,
    come_back,
    continue_to_provider,
    invite,
    provider_user,
    start,
    with_param,
)

STRICT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'"
)


def test_the_start_redirects_within_the_portal_and_continue_sends_the_browser_on(
    app, acme, provider, make_browser
):
    browser = make_browser()
    response = browser.submit("/login", {"org": "acme"}, post_url="/sso/start")
    # 303: the form's navigation ends on this origin, where form-action 'self' allows it.
    assert response.status_code == 303 and response.headers["Location"] == "/sso/continue"
    page = browser.get("/sso/continue")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    url = page.headers["Refresh"].removeprefix("0; url=")
    authorization_endpoint = requests.get(
        f"{provider}/.well-known/openid-configuration", timeout=5
    ).json()["authorization_endpoint"]
    assert url.startswith(authorization_endpoint + "?")
    # The same address behind a link, for browsers that ignore Refresh.
    assert f'href="{url.replace("&", "&amp;")}"' in page.get_data(as_text=True)
    # Reloading the page keeps the same sign-in.
    assert browser.get("/sso/continue").headers["Refresh"] == page.headers["Refresh"]


def test_the_csp_stays_strict_on_every_page_of_the_sign_in(app, acme, provider, make_browser):
    browser = make_browser()
    pages = [browser.get("/login")]
    pages.append(browser.submit("/login", {"org": "acme"}, post_url="/sso/start"))
    pages.append(browser.get("/sso/continue"))
    pages.append(make_browser().get("/sso/continue"))  # refused: no sign-in started
    for page in pages:
        assert page.headers["Content-Security-Policy"] == STRICT_CSP
    assert urlsplit(provider).netloc not in STRICT_CSP


def test_continue_without_a_started_sign_in_sends_nobody_anywhere(
    app, acme, provider, make_browser
):
    response = make_browser().get("/sso/continue?url=https://evil.example/&next=//evil.example")
    assert response.status_code == 400
    assert "Refresh" not in response.headers
    body = response.get_data(as_text=True)
    # No way onward: no continue link, no link or form aimed at the URL it was given (the
    # footer's language switcher only returns to this same local page).
    assert 'id="sso-continue"' not in body
    assert 'href="https://evil.example' not in body and 'action="https://evil' not in body
    assert "not started from this browser" in body


def test_continue_goes_only_to_the_provider_the_session_started_with(
    app, acme, provider, make_browser
):
    browser = make_browser()
    browser.submit("/login", {"org": "acme"}, post_url="/sso/start")
    refresh = browser.get("/sso/continue?url=https://evil.example/").headers["Refresh"]
    assert refresh.startswith(f"0; url={provider}/")


def test_continue_after_the_sign_in_finished_or_expired_is_refused(
    app, acme, provider, make_browser
):
    provider_user(provider, "kai-sub", email="kai@acme.example")
    browser = make_browser()
    assert come_back(browser, authorize(start(browser), "kai-sub")).status_code == 302
    browser.get("/sso/start?org=acme")  # signed in: no new sign-in starts
    assert browser.get("/sso/continue").status_code == 302  # to the portal, not the provider

    late = make_browser()
    late.submit("/login", {"org": "acme"}, post_url="/sso/start")
    with late.session_transaction() as session:
        pending = session["sso_pending"]
        session["sso_pending"] = {**pending, "started": pending["started"] - 3600}
    response = late.get("/sso/continue")
    assert response.status_code == 400 and "took too long" in response.get_data(as_text=True)


def test_an_sso_only_invitee_is_sent_through_the_same_origin_page(
    app, acme, provider, make_browser
):
    with app.app_context():
        db.session.get(SsoConfig, acme["org"]).allow_passwords = False
        db.session.commit()
    raw = invite(app, acme, "ned@acme.example", "auditor")
    browser = make_browser()
    created = browser.submit(f"/invitations/{raw}", {"name": "Ned"})
    assert created.status_code == 302
    assert created.headers["Location"] == "/sso/start?org=acme"
    response = browser.get(created.headers["Location"])
    assert response.status_code == 303
    url = continue_to_provider(browser, response)
    provider_user(provider, "ned-sub", email="ned@acme.example")
    assert come_back(browser, authorize(url, "ned-sub")).status_code == 302
    assert "Auditor" in browser.get("/").get_data(as_text=True)
    with app.app_context():
        ned = find_user_by_email("ned@acme.example")
        assert ned.password_hash is None and membership_of(ned, acme["org"]) is not None
    [event] = audit_events(app, "auth.sso_login")
    assert event["details"]["provisioned"] is False


def test_an_answer_naming_another_issuer_is_refused(app, acme, provider, make_browser):
    provider_user(provider, "lin-sub", email="lin@acme.example")
    browser = make_browser()
    back = authorize(start(browser), "lin-sub")
    response = come_back(browser, with_param(back, iss="https://evil.example"))
    assert response.status_code == 401
    assert "another identity provider" in response.get_data(as_text=True)
    [event] = audit_events(app, "auth.sso_refused")
    assert event["details"]["reason"] == "response_issuer_mismatch"


def test_a_state_in_any_characters_is_a_clean_refusal(app, acme, provider, make_browser):
    browser = make_browser()
    start(browser)
    response = browser.get("/sso/callback?code=x&state=%C3%A9t%C3%A9")
    assert response.status_code == 400
    assert "state mismatch" in response.get_data(as_text=True)
