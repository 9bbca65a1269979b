"""Every response that carries a secret is Cache-Control: no-store (SPEC §6): new API and
enrollment tokens, the MFA enrolment secret and recovery codes, the device token."""

import re

import pyotp

from app.extensions import db
from app.fleet.enrollment import create_enrollment_token
from tests import factories
from tests.conftest import csrf_from


def assert_no_store(response):
    assert response.headers.get("Cache-Control") == "no-store", response.headers
    assert response.headers.get("Pragma") == "no-cache"


def _admin(app, browser):
    with app.app_context():
        org = factories.create_org("Acme")
        email = factories.create_member(org, "org_admin").email
        group_id = factories.group_of(org).id
        _, enrollment = create_enrollment_token(factories.group_of(org), "tests")
        db.session.commit()
    assert browser.login(email, factories.PASSWORD).status_code == 302
    return group_id, enrollment


def test_new_api_token_page_is_no_store(app, browser):
    _admin(app, browser)
    response = browser.submit(
        "/profile", {"name": "ci", "days": "30"}, post_url="/profile/api-tokens"
    )
    assert response.status_code == 200 and 'id="api-token"' in response.get_data(as_text=True)
    assert_no_store(response)


def test_new_enrollment_token_page_is_no_store(app, browser):
    group_id, _ = _admin(app, browser)
    response = browser.submit(
        "/settings/enrollment-tokens", {"group_id": str(group_id), "name": "lab"}
    )
    assert response.status_code == 200
    assert 'id="enrollment-token"' in response.get_data(as_text=True)
    assert_no_store(response)


def test_mfa_secret_and_recovery_codes_are_no_store(app, browser):
    _admin(app, browser)
    setup = browser.get("/mfa/setup")
    html = setup.get_data(as_text=True)
    assert_no_store(setup)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html)[1].replace(" ", "")
    confirmed = browser.client.post(
        "/mfa/setup", data={"csrf_token": csrf_from(html), "code": pyotp.TOTP(secret).now()}
    )
    assert confirmed.status_code == 200 and "recovery-codes" in confirmed.get_data(as_text=True)
    assert_no_store(confirmed)
    regenerated = browser.submit(
        "/profile",
        {"code": pyotp.TOTP(secret).at(pyotp.TOTP(secret).timecode(_later()) * 30)},
        post_url="/profile/mfa/recovery-codes",
    )
    assert regenerated.status_code == 200, regenerated.status_code
    assert "recovery-codes" in regenerated.get_data(as_text=True)
    assert_no_store(regenerated)


def _later():
    import datetime

    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)


def test_device_token_from_enrollment_is_no_store(app, client, browser):
    _, enrollment = _admin(app, browser)
    response = client.post(
        "/api/agent/v1/enroll",
        json={"enrollment_token": enrollment, **factories.agent_facts()},
    )
    assert response.status_code == 201 and response.get_json()["device_token"]
    assert_no_store(response)
