"""A real OpenID provider for the single sign-on tests (oidc-provider-mock, an HTTP server
on a free localhost port), an organization using it, and the steps of a sign-in."""

from __future__ import annotations

import warnings
from collections import Counter
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import pytest
import requests

from app.core.sealing import seal
from app.extensions import db
from app.models import Organization, SsoConfig, SsoDomain
from app.people import invitations
from app.people.organizations import builtin_role
from app.people.sso import provider as sso_provider
from app.people.users import find_user_by_email
from tests import factories
from tests.browser import serve

CLIENT_ID = "portal-acme"
CLIENT_SECRET = "s3cr3t-client-value-for-tests"


class ProviderStandIn:
    """Wraps the provider's WSGI app: counts the requests per path and, for a path in
    `answers`, answers with that WSGI app (e.g. a werkzeug Response) instead, as a
    misbehaving or failing provider would."""

    def __init__(self, app):
        self.app = app
        self.answers = {}
        self.calls = Counter()

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        self.calls[path] += 1
        return self.answers.get(path, self.app)(environ, start_response)


@pytest.fixture(scope="module")
def provider_server():
    """A real OpenID provider over HTTP: its issuer URL and its stand-in wrapper."""
    with warnings.catch_warnings():
        # It imports Authlib modules that Authlib itself deprecates.
        warnings.simplefilter("ignore", DeprecationWarning)
        import oidc_provider_mock
    standin = ProviderStandIn(oidc_provider_mock.app())
    with serve(standin, host="localhost") as url:
        yield url, standin


@pytest.fixture
def provider(provider_server):
    """The provider's issuer URL."""
    return provider_server[0]


@pytest.fixture
def standin(provider_server):
    """The provider's stand-in wrapper, reset for each test."""
    wrapper = provider_server[1]
    wrapper.answers.clear()
    wrapper.calls.clear()
    yield wrapper
    wrapper.answers.clear()


def provider_user(provider: str, sub: str, **claims) -> None:
    response = requests.put(f"{provider}/users/{quote(sub)}", json=claims, timeout=5)
    assert response.status_code == 204


def create_sso_org(app, issuer: str, *, allow_passwords: bool = True) -> dict:
    """Acme, with single sign-on through `issuer` for acme.example; just-in-time accounts
    become Operators."""
    with app.app_context():
        org = factories.create_org("Acme")
        admin = factories.create_member(org, "org_admin", email="admin@acme.example")
        config = SsoConfig(
            organization_id=org.id,
            enabled=True,
            issuer=issuer,
            client_id=CLIENT_ID,
            client_secret_sealed=seal(sso_provider.SEAL_PURPOSE, {"secret": CLIENT_SECRET}),
            jit_role_id=builtin_role(org.id, "operator").id,
            allow_passwords=allow_passwords,
        )
        config.domains = [SsoDomain("acme.example")]
        db.session.add(config)
        db.session.commit()
        return {"org": org.id, "slug": org.slug, "admin": admin.email}


@pytest.fixture
def acme(app, provider):
    """Acme, with single sign-on through the provider for acme.example."""
    return create_sso_org(app, provider)


def invite(app, org: dict, email: str, role: str) -> str:
    """An invitation to the organization (as made by `create_sso_org`), sent by its admin;
    the link's token."""
    with app.app_context():
        admin = find_user_by_email(org["admin"])
        _, raw = invitations.create_invitation(
            admin, db.session.get(Organization, org["org"]), email, builtin_role(org["org"], role)
        )
        db.session.commit()
        return raw


def start(browser, org: str = "acme") -> str:
    """Press "Sign in with SSO"; return the provider's authorization URL."""
    response = browser.submit("/login", {"org": org}, post_url="/sso/start")
    assert response.status_code == 303, response.get_data(as_text=True)
    return continue_to_provider(browser, response)


def continue_to_provider(browser, response) -> str:
    """Follow the start's same-origin redirect to /sso/continue; return where its Refresh
    sends the browser (the provider's authorization URL)."""
    assert response.headers["Location"] == "/sso/continue"
    page = browser.get("/sso/continue")
    assert page.status_code == 200, page.get_data(as_text=True)
    delay, url = page.headers["Refresh"].split("; url=", 1)
    assert delay == "0"
    return url


def authorize(url: str, sub: str) -> str:
    """The person signs in at the provider; return where it sends the browser back to."""
    response = requests.post(url, data={"sub": sub}, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def come_back(browser, location: str):
    parts = urlsplit(location)
    assert parts.path == sso_provider.CALLBACK_PATH
    return browser.get(f"{parts.path}?{parts.query}")


def sso_sign_in(browser, sub: str, org: str = "acme"):
    return come_back(browser, authorize(start(browser, org), sub))


def with_param(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))
