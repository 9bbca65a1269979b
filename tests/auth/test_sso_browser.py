"""Single sign-on as a person does it: Debian's chromium (Playwright) presses "Sign in with
SSO" on the portal and signs in at the certified node `oidc-provider`, default
configuration (PKCE, e-mail in UserInfo only, its own login and consent pages)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select

from app.extensions import db
from app.models import AuthSession, SsoConfig, SsoIdentity
from app.people.sso.provider import CALLBACK_PATH
from app.people.users import find_user_by_email, membership_of
from tests import factories
from tests.admin.support import audit_events
from tests.auth.certified_provider import CertifiedProvider
from tests.auth.sso_support import CLIENT_ID, CLIENT_SECRET, create_sso_org, invite
from tests.browser import chromium, serve

pytestmark = pytest.mark.heavy

TIMEOUT_MS = 30_000  # generous for a loaded 2-core machine; every wait is for a state


class BeforeRequest:
    """What the portal's server does before it hands a request for a path to the portal
    (e.g. stop the provider just before the callback arrives): a browser's redirect cannot
    be intercepted by Playwright, a server's request can."""

    def __init__(self, app):
        self.app = app
        self.actions = {}

    def __call__(self, environ, start_response):
        action = self.actions.pop(environ["PATH_INFO"], None)
        if action is not None:
            action()
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def portal_server(app):
    """The portal over real HTTP; PORTAL_URL names it, so the redirect URI is its own."""
    wrapper = BeforeRequest(app)
    before = app.config["PORTAL_URL"]
    with serve(wrapper) as url:
        app.config["PORTAL_URL"] = url
        yield url, wrapper
        app.config["PORTAL_URL"] = before


@pytest.fixture
def portal(portal_server):
    return portal_server[0]


@pytest.fixture
def before_request(portal_server):
    """Actions to run when the portal is asked for a path (once each)."""
    actions = portal_server[1].actions
    actions.clear()
    yield actions
    actions.clear()


def start_provider(folder, portal: str) -> CertifiedProvider:
    return CertifiedProvider(
        folder,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=portal + CALLBACK_PATH,
    ).start()


@pytest.fixture(scope="module")
def certified(portal_server, tmp_path_factory):
    provider = start_provider(tmp_path_factory.mktemp("oidc-provider"), portal_server[0])
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser, certified):
    """A fresh browser profile (no cookies) per test. On failure, pytest shows what this
    prints: where the page was, what it said, and the provider's output."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    log_start = len(certified.output())
    yield tab
    try:
        shown = tab.inner_text("body", timeout=2_000)[:2_000]
    except PlaywrightError as exc:
        shown = f"(unreadable: {exc.message})"
    print(f"page: {tab.url}\n{shown}")
    print(f"oidc-provider output:\n{certified.output()[log_start:]}")
    context.close()


@pytest.fixture
def acme(app, certified):
    return create_sso_org(app, certified.issuer)


def press_sign_in_with_sso(page, portal: str, organization: str) -> None:
    page.goto(f"{portal}/login")
    page.fill("#sso-org", organization)
    page.click("#sso-sign-in button[type=submit]")


def sign_in_at_provider(page, provider: CertifiedProvider, login: str):
    """Sign in on the provider's own pages and consent; the portal's answer to the
    provider's redirect back."""
    page.wait_for_url(f"{provider.issuer}/interaction/*")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password will do")
    page.click("button:has-text('Sign-in')")
    page.wait_for_selector("button:has-text('Continue')")
    with page.expect_response(lambda r: CALLBACK_PATH in r.url) as answer:
        page.click("button:has-text('Continue')")
    return answer.value


def signed_in_home(page, portal: str) -> tuple[str, str]:
    """The organization and role the home page shows."""
    page.wait_for_url(f"{portal}/")
    return page.inner_text("h1"), page.inner_text(".badge")


def refusal(page, answer, status: int) -> str:
    assert answer.status == status
    page.wait_for_selector("#sso-problem")
    text = page.inner_text("body")
    assert "Traceback" not in text
    return page.inner_text("#sso-problem")


def test_an_existing_member_signs_in_with_sso(app, acme, portal, certified, page):
    with app.app_context():
        org = db.session.get(SsoConfig, acme["org"]).organization
        factories.create_member(org, "auditor", email="bob@acme.example")
    certified.add_account("bob-at-provider", email="bob@acme.example", email_verified=True)
    press_sign_in_with_sso(page, portal, "bob@acme.example")  # the work e-mail finds Acme
    answer = sign_in_at_provider(page, certified, "bob-at-provider")
    assert answer.status == 302
    assert signed_in_home(page, portal) == ("Acme", "Auditor")
    with app.app_context():
        identity = db.session.execute(select(SsoIdentity)).scalar_one()
        assert identity.subject == "bob-at-provider"
        assert identity.user_id == find_user_by_email("bob@acme.example").id
        record = db.session.execute(select(AuthSession)).scalar_one()
        assert record.auth_method == "sso" and record.organization_id == acme["org"]
    [event] = audit_events(app, "auth.sso_login")
    assert event["details"]["email"] == "bob@acme.example"
    assert event["details"]["provisioned"] is False


def test_a_first_sign_in_creates_the_user(app, acme, portal, certified, page):
    certified.add_account(
        "carol", email="carol@acme.example", email_verified=True, name="Carol Example"
    )
    press_sign_in_with_sso(page, portal, "acme")
    assert sign_in_at_provider(page, certified, "carol").status == 302
    assert signed_in_home(page, portal) == ("Acme", "Operator")
    with app.app_context():
        carol = find_user_by_email("carol@acme.example")
        # The name, like the e-mail, came from UserInfo (the ID token carries neither).
        assert carol.name == "Carol Example" and carol.password_hash is None
        assert membership_of(carol, acme["org"]).role.name == "Operator"
    [event] = audit_events(app, "auth.sso_login")
    assert event["details"]["provisioned"] is True


def test_an_invitee_of_an_sso_only_organization_joins_through_the_provider(
    app, portal, certified, page
):
    acme = create_sso_org(app, certified.issuer, allow_passwords=False)
    token = invite(app, acme, "ned@acme.example", "auditor")
    certified.add_account("ned", email="ned@acme.example", email_verified=True)
    page.goto(f"{portal}/invitations/{token}")
    page.fill("#name", "Ned")
    page.click("button:has-text('Create my account and join')")
    assert sign_in_at_provider(page, certified, "ned").status == 302
    assert signed_in_home(page, portal) == ("Acme", "Auditor")
    with app.app_context():
        ned = find_user_by_email("ned@acme.example")
        assert ned.name == "Ned" and ned.password_hash is None


def test_an_address_outside_the_allowed_domains_is_refused(app, acme, portal, certified, page):
    certified.add_account("mallory", email="mallory@evil.example", email_verified=True)
    press_sign_in_with_sso(page, portal, "acme")
    answer = sign_in_at_provider(page, certified, "mallory")
    assert "evil.example may not sign in to Acme" in refusal(page, answer, 403)
    page.goto(f"{portal}/")
    page.wait_for_url(f"{portal}/login*")  # not signed in
    with app.app_context():
        assert find_user_by_email("mallory@evil.example") is None
    [event] = audit_events(app, "auth.sso_refused")
    assert event["details"] == {"reason": "domain_not_allowed", "email": "mallory@evil.example"}


def test_an_address_the_provider_has_not_verified_is_refused(app, acme, portal, certified, page):
    certified.add_account("ursula", email="ursula@acme.example", email_verified=False)
    press_sign_in_with_sso(page, portal, "acme")
    answer = sign_in_at_provider(page, certified, "ursula")
    assert "not verified" in refusal(page, answer, 403)
    with app.app_context():
        assert find_user_by_email("ursula@acme.example") is None
    [event] = audit_events(app, "auth.sso_refused")
    assert event["details"] == {"reason": "email_unverified", "email": "ursula@acme.example"}


def test_with_passwords_off_the_password_is_refused_and_sso_works(app, portal, certified, page):
    acme = create_sso_org(app, certified.issuer, allow_passwords=False)
    with app.app_context():
        org = db.session.get(SsoConfig, acme["org"]).organization
        factories.create_member(org, "operator", email="ivan@acme.example")
    page.goto(f"{portal}/login")
    page.fill("#email", "ivan@acme.example")
    page.fill("#password", factories.PASSWORD)
    with page.expect_response(lambda r: r.url == f"{portal}/login" and r.request.method == "POST"):
        page.click("form[action='/login'] button[type=submit]")
    assert "signs in with single sign-on" in page.inner_text("body")
    certified.add_account("ivan", email="ivan@acme.example", email_verified=True)
    press_sign_in_with_sso(page, portal, "acme")
    assert sign_in_at_provider(page, certified, "ivan").status == 302
    assert signed_in_home(page, portal) == ("Acme", "Operator")


def test_a_provider_that_goes_down_gets_a_clear_502_page(
    app, portal, before_request, tmp_path, page
):
    provider = start_provider(tmp_path, portal)
    try:
        create_sso_org(app, provider.issuer)
        provider.add_account("olga", email="olga@acme.example", email_verified=True)
        press_sign_in_with_sso(page, portal, "acme")
        # It goes down between its redirect back and the portal's call to it.
        before_request[CALLBACK_PATH] = provider.stop
        answer = sign_in_at_provider(page, provider, "olga")
        assert "could not be reached" in refusal(page, answer, 502)
        # Starting again while it is down: the same page, from the start.
        with page.expect_response(lambda r: r.url.endswith("/sso/start")) as start:
            press_sign_in_with_sso(page, portal, "acme")
        assert "could not be reached" in refusal(page, start.value, 502)
    finally:
        provider.stop()
    with app.app_context():
        assert find_user_by_email("olga@acme.example") is None
    reasons = [e["details"]["reason"] for e in audit_events(app, "auth.sso_refused")]
    assert reasons == ["unreachable"]  # the callback's; a failed start is not a sign-in
