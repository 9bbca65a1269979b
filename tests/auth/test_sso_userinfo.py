"""Claims from UserInfo: asked only when the ID token lacks `email` or `email_verified`,
about the same subject, under the same outbound rules; a provider that misbehaves or fails
there (or in its metadata) gets a clear refusal."""

from __future__ import annotations

import json
import time

import requests
from werkzeug.wrappers import Response

from app.people.users import find_user_by_email
from tests.admin.support import audit_events
from tests.auth.sso_support import provider_user, sso_sign_in

USERINFO = "/userinfo"
DISCOVERY = "/.well-known/openid-configuration"


def json_answer(body: dict, status: int = 200, content_type: str = "application/json"):
    return Response(json.dumps(body), status=status, content_type=content_type)


def refusal_reasons(app) -> list[str]:
    return [e["details"]["reason"] for e in audit_events(app, "auth.sso_refused")]


def test_userinfo_is_not_asked_when_the_id_token_has_the_claims(
    app, acme, provider, standin, make_browser
):
    provider_user(provider, "amy-sub", email="amy@acme.example", email_verified=True)
    assert sso_sign_in(make_browser(), "amy-sub").status_code == 302
    assert standin.calls[USERINFO] == 0


def test_a_missing_email_verified_is_asked_of_userinfo(app, acme, provider, standin, make_browser):
    provider_user(provider, "ben-sub", email="ben@acme.example")
    assert sso_sign_in(make_browser(), "ben-sub").status_code == 302
    assert standin.calls[USERINFO] == 1


def test_an_email_only_in_userinfo_signs_the_person_in(app, acme, provider, standin, make_browser):
    # A "thin" ID token (OIDC Core §5.4): the e-mail and the name come from UserInfo.
    provider_user(provider, "cat-sub", locale="en")
    standin.answers[USERINFO] = json_answer(
        {"sub": "cat-sub", "email": "Cat@Acme.example", "email_verified": True, "name": "Cat"}
    )
    browser = make_browser()
    assert sso_sign_in(browser, "cat-sub").status_code == 302
    assert browser.get("/").status_code == 200
    with app.app_context():
        assert find_user_by_email("cat@acme.example").name == "Cat"
    [event] = audit_events(app, "auth.sso_login")
    assert event["details"]["email"] == "cat@acme.example"
    assert standin.calls[USERINFO] == 1


def test_userinfo_about_another_subject_is_refused(app, acme, provider, standin, make_browser):
    # The ID token lacks email_verified, so UserInfo is asked; it answers for someone else.
    provider_user(provider, "dan-sub", email="dan@acme.example")
    standin.answers[USERINFO] = json_answer(
        {"sub": "someone-else", "email": "boss@acme.example", "email_verified": True}
    )
    browser = make_browser()
    response = sso_sign_in(browser, "dan-sub")
    assert response.status_code == 401
    assert "subject mismatch" in response.get_data(as_text=True)
    assert browser.get("/").status_code == 302
    with app.app_context():
        assert find_user_by_email("boss@acme.example") is None
        assert find_user_by_email("dan@acme.example") is None
    [event] = audit_events(app, "auth.sso_refused")
    assert event["details"] == {"reason": "userinfo_subject_mismatch", "email": "dan@acme.example"}


def test_userinfo_without_a_subject_is_refused(app, acme, provider, standin, make_browser):
    provider_user(provider, "eve-sub")
    standin.answers[USERINFO] = json_answer({"email": "eve@acme.example"})
    assert sso_sign_in(make_browser(), "eve-sub").status_code == 401
    assert refusal_reasons(app) == ["userinfo_subject_mismatch"]


def test_a_signed_userinfo_answer_is_refused_with_a_clear_message(
    app, acme, provider, standin, make_browser
):
    provider_user(provider, "fay-sub")
    standin.answers[USERINFO] = Response(
        "eyJhbGciOiJSUzI1NiJ9.e30.sig", content_type="application/jwt"
    )
    response = sso_sign_in(make_browser(), "fay-sub")
    assert response.status_code == 502
    page = response.get_data(as_text=True)
    assert "answers UserInfo with a signed JWT" in page and "Traceback" not in page
    assert refusal_reasons(app) == ["userinfo_signed"]


def test_an_unverified_email_from_userinfo_is_refused_and_audited_by_address(
    app, acme, provider, standin, make_browser
):
    provider_user(provider, "gus-sub")
    # Some providers send the boolean as text.
    standin.answers[USERINFO] = json_answer(
        {"sub": "gus-sub", "email": "gus@acme.example", "email_verified": "false"}
    )
    response = sso_sign_in(make_browser(), "gus-sub")
    assert response.status_code == 403
    assert "not verified" in response.get_data(as_text=True)
    [event] = audit_events(app, "auth.sso_refused")
    assert event["details"] == {"reason": "email_unverified", "email": "gus@acme.example"}


def test_no_email_anywhere_is_refused(app, acme, provider, standin, make_browser):
    provider_user(provider, "hal-sub")
    standin.answers[USERINFO] = json_answer({"sub": "hal-sub", "name": "Hal"})
    response = sso_sign_in(make_browser(), "hal-sub")
    assert response.status_code == 403
    assert "did not tell us your e-mail address" in response.get_data(as_text=True)
    assert refusal_reasons(app) == ["no_email"]


def test_a_failing_userinfo_endpoint_is_a_502_page(app, acme, provider, standin, make_browser):
    provider_user(provider, "ian-sub")
    for answer in (
        Response("down for maintenance", status=503),
        Response("", status=302, headers={"Location": "http://localhost:1/userinfo"}),
        json_answer(["not", "an", "object"]),
        Response("x" * (600 * 1024), content_type="application/json"),
    ):
        standin.answers[USERINFO] = answer
        response = sso_sign_in(make_browser(), "ian-sub")
        assert response.status_code == 502, answer
        assert "Traceback" not in response.get_data(as_text=True)
    assert refusal_reasons(app) == ["bad_answer"] * 4
    with app.app_context():
        assert find_user_by_email("ian@acme.example") is None


def test_a_userinfo_endpoint_that_does_not_answer_in_time_is_a_502_page(
    app, acme, provider, standin, make_browser, monkeypatch
):
    monkeypatch.setitem(app.config, "SSO_HTTP_TIMEOUT_SECONDS", 1)
    provider_user(provider, "jo-sub")

    def hanging(environ, start_response):
        time.sleep(3)
        return json_answer({"sub": "jo-sub", "email": "jo@acme.example"})(environ, start_response)

    standin.answers[USERINFO] = hanging
    response = sso_sign_in(make_browser(), "jo-sub")
    assert response.status_code == 502
    assert "could not be reached" in response.get_data(as_text=True)
    assert refusal_reasons(app) == ["unreachable"]


def metadata_with(provider: str, **changes) -> Response:
    """The provider's own discovery document, changed."""
    url = f"{provider}/.well-known/openid-configuration"
    meta = {**requests.get(url, timeout=5).json(), **changes}
    return json_answer({k: v for k, v in meta.items() if v is not None})


def test_without_a_userinfo_endpoint_the_id_token_alone_decides(
    app, acme, provider, standin, make_browser
):
    standin.answers[DISCOVERY] = metadata_with(provider, userinfo_endpoint=None)
    provider_user(provider, "kim-sub", name="Kim")
    response = sso_sign_in(make_browser(), "kim-sub")
    assert response.status_code == 403
    assert "did not tell us your e-mail address" in response.get_data(as_text=True)
    provider_user(provider, "lou-sub", email="lou@acme.example")  # no email_verified
    assert sso_sign_in(make_browser(), "lou-sub").status_code == 302
    assert standin.calls[USERINFO] == 0


def test_an_authorization_endpoint_that_is_not_plain_ascii_is_refused_at_the_start(
    app, acme, provider, standin, make_browser
):
    standin.answers[DISCOVERY] = metadata_with(
        provider, authorization_endpoint=f"{provider}/authorize/é"
    )
    browser = make_browser()
    response = browser.submit("/login", {"org": "acme"}, post_url="/sso/start")
    assert response.status_code == 502
    assert "not a plain ASCII URL" in response.get_data(as_text=True)
    assert browser.get("/sso/continue").status_code == 400
