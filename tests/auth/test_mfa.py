"""MFA: TOTP enrolment with a server-drawn QR code, the code step after the password,
organization policies, recovery codes, and the ways around it that must not work."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuthSession, Organization, RecoveryCode, TotpCredential
from app.people import mfa
from app.people.users import find_user_by_email
from tests import factories
from tests.admin.support import audit_events

SECRET_RE = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')
CODES_RE = re.compile(r"<li><code>([0-9a-z-]{19})</code></li>")


class Clock:
    """The time the MFA service sees (TOTP steps are 30 s)."""

    def __init__(self) -> None:
        self.now = 1_900_000_005.0

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(mfa, "_now", lambda: c.now)
    return c


def code(secret: str, clock: Clock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now + steps * mfa.STEP_SECONDS)


@pytest.fixture
def acme(app):
    with app.app_context():
        org = factories.create_org("Acme")
        return {
            "org": org.id,
            "admin": factories.create_member(org, "org_admin").email,
            "operator": factories.create_member(org, "operator").email,
            "auditor": factories.create_member(org, "auditor").email,
        }


def set_policy(app, org_id: int, policy: str) -> None:
    with app.app_context():
        db.session.get(Organization, org_id).mfa_policy = policy
        db.session.commit()


def enroll(browser, clock) -> tuple[str, list[str]]:
    """Set up the authenticator on the enrolment page, as a person with a phone would."""
    page = browser.get("/mfa/setup")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    secret = SECRET_RE.search(html)[1].replace(" ", "")
    response = browser.submit("/mfa/setup", {"code": code(secret, clock)})
    assert response.status_code == 200, response.status_code
    codes = CODES_RE.findall(response.get_data(as_text=True))
    assert len(codes) == mfa.RECOVERY_CODE_COUNT
    return secret, codes


def sign_in_with_code(browser, email: str, value: str):
    assert browser.login(email, factories.PASSWORD).status_code == 302
    return browser.submit("/mfa", {"code": value})


GUARDED = ["/", "/profile", "/workspaces/devices", "/settings/", "/admin/"]


def assert_only_the_mfa_step_is_open(browser, step: str):
    for url in GUARDED:
        response = browser.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith(step), (url, response.headers)
    api = browser.get("/api/v1/devices")
    assert api.status_code == 401
    assert api.get_json()["error"]["code"] == "mfa_required"
    # Changes are refused too, even with a valid CSRF token (here: creating an API token).
    token = browser.submit(step, {"name": "sneaky", "days": "1"}, post_url="/profile/api-tokens")
    assert token.status_code == 302 and token.headers["Location"].startswith(step)
    with browser.application.app_context():
        from app.models import ApiToken

        assert db.session.execute(select(ApiToken)).first() is None


def test_policy_all_sends_members_to_enrolment_before_anything_else(app, acme, make_browser, clock):
    set_policy(app, acme["org"], "all")
    browser = make_browser()
    assert browser.login(acme["auditor"], factories.PASSWORD).status_code == 302
    assert_only_the_mfa_step_is_open(browser, "/mfa/setup")
    page = browser.get("/mfa/setup").get_data(as_text=True)
    assert "Your organization requires a second factor" in page
    # The QR code is drawn here, as inline SVG: nothing is fetched from elsewhere.
    assert "<svg" in page and "<img" not in page
    enroll(browser, clock)
    assert browser.get("/").status_code == 200
    assert browser.get("/api/v1/devices").status_code == 200
    actions = [e["action"] for e in audit_events(app, "auth.mfa_enrolled")]
    assert actions == ["auth.mfa_enrolled"]


def test_enrolled_user_gives_the_code_after_the_password(app, acme, make_browser, clock):
    browser = make_browser()
    browser.login(acme["operator"], factories.PASSWORD)
    secret, _ = enroll(browser, clock)  # voluntary: the policy is off
    browser.submit("/", {}, post_url="/logout")

    response = browser.login(acme["operator"], factories.PASSWORD)
    assert response.status_code == 302
    assert_only_the_mfa_step_is_open(browser, "/mfa")
    pending_cookie = browser.client.get_cookie("portal_session").value

    wrong = browser.submit("/mfa", {"code": "000000"})
    assert wrong.status_code == 401
    assert "not right" in wrong.get_data(as_text=True)
    assert browser.get("/").status_code == 302

    clock.advance(mfa.STEP_SECONDS)
    right = browser.submit("/mfa", {"code": code(secret, clock), "next": "/profile"})
    assert right.status_code == 302 and right.headers["Location"] == "/profile"
    assert browser.get("/").status_code == 200
    # The session was replaced at the step up: the cookie from before the code is dead.
    replay = make_browser()
    replay.client.set_cookie("portal_session", pending_cookie)
    assert replay.get("/").status_code == 302
    with app.app_context():
        live = (
            db.session.execute(select(AuthSession).where(AuthSession.ended_at.is_(None)))
            .scalars()
            .all()
        )
        assert len(live) == 1 and live[0].mfa_verified_at is not None
    methods = [e["details"]["method"] for e in audit_events(app, "auth.mfa_verified")]
    assert methods == ["totp"]


def test_the_same_code_is_never_accepted_twice(app, acme, make_browser, clock):
    browser = make_browser()
    browser.login(acme["operator"], factories.PASSWORD)
    secret, _ = enroll(browser, clock)
    clock.advance(mfa.STEP_SECONDS)
    used = code(secret, clock)
    assert sign_in_with_code(make_browser(), acme["operator"], used).status_code == 302
    replayed = sign_in_with_code(make_browser(), acme["operator"], used)
    assert replayed.status_code == 401
    assert "already used" in replayed.get_data(as_text=True)
    # The enrolment's own code cannot be replayed either, even within its window.
    assert (
        sign_in_with_code(make_browser(), acme["operator"], code(secret, clock, -1)).status_code
        == 401
    )
    clock.advance(mfa.STEP_SECONDS)
    assert (
        sign_in_with_code(make_browser(), acme["operator"], code(secret, clock)).status_code == 302
    )
    reasons = [e["details"]["reason"] for e in audit_events(app, "auth.mfa_failed")]
    assert "replayed_code" in reasons


def test_an_expired_code_is_refused(app, acme, make_browser, clock):
    browser = make_browser()
    browser.login(acme["operator"], factories.PASSWORD)
    secret, _ = enroll(browser, clock)
    clock.advance(10 * mfa.STEP_SECONDS)
    old = code(secret, clock, -2)  # a minute old: outside the one-step drift allowance
    response = sign_in_with_code(make_browser(), acme["operator"], old)
    assert response.status_code == 401
    assert "expired" in response.get_data(as_text=True)
    assert (
        sign_in_with_code(make_browser(), acme["operator"], code(secret, clock, -1)).status_code
        == 302
    )


def test_a_recovery_code_works_once(app, acme, make_browser, clock):
    browser = make_browser()
    browser.login(acme["operator"], factories.PASSWORD)
    _, codes = enroll(browser, clock)
    first = make_browser()
    response = sign_in_with_code(first, acme["operator"], codes[3].upper().replace("-", " "))
    assert response.status_code == 302
    assert first.get("/").status_code == 200
    again = sign_in_with_code(make_browser(), acme["operator"], codes[3])
    assert again.status_code == 401
    assert "already used" in again.get_data(as_text=True)
    assert sign_in_with_code(make_browser(), acme["operator"], codes[4]).status_code == 302
    verified = audit_events(app, "auth.mfa_verified")
    assert verified[0]["details"] == {"method": "recovery_code", "recovery_codes_left": 9}
    with app.app_context():
        user = find_user_by_email(acme["operator"])
        assert mfa.recovery_codes_left(user.id) == 8


def test_code_attempts_are_throttled(app, acme, make_browser, clock):
    browser = make_browser()
    browser.login(acme["operator"], factories.PASSWORD)
    secret, _ = enroll(browser, clock)
    attacker = make_browser()
    attacker.login(acme["operator"], factories.PASSWORD)
    for i in range(app.config["MFA_MAX_FAILURES"]):
        assert attacker.submit("/mfa", {"code": f"{i:06d}"}).status_code == 401
    clock.advance(mfa.STEP_SECONDS)
    throttled = attacker.submit("/mfa", {"code": code(secret, clock)})
    assert throttled.status_code == 429
    assert "Too many wrong codes" in throttled.get_data(as_text=True)
    assert attacker.get("/").status_code == 302
    # Recovery codes count against the same limit.
    assert attacker.submit("/mfa", {"code": "aaaa-bbbb-cccc-dddd"}).status_code == 429
    assert audit_events(app, "auth.mfa_throttled")


def test_ra_start_policy_applies_to_operators_only(app, acme, make_browser, clock):
    set_policy(app, acme["org"], "ra_start")
    operator = make_browser()
    operator.login(acme["operator"], factories.PASSWORD)
    assert operator.get("/").headers["Location"].startswith("/mfa/setup")
    auditor = make_browser()
    auditor.login(acme["auditor"], factories.PASSWORD)
    assert auditor.get("/").status_code == 200


def test_policy_change_reaches_sessions_already_open(app, acme, make_browser, clock):
    browser = make_browser()
    browser.login(acme["operator"], factories.PASSWORD)
    assert browser.get("/").status_code == 200
    set_policy(app, acme["org"], "all")
    assert browser.get("/").headers["Location"].startswith("/mfa/setup")


def test_secret_is_sealed_and_recovery_codes_hashed_at_rest(app, acme, make_browser, clock):
    browser = make_browser()
    browser.login(acme["operator"], factories.PASSWORD)
    secret, codes = enroll(browser, clock)
    with app.app_context():
        cred = db.session.execute(select(TotpCredential)).scalar_one()
        assert secret.encode() not in cred.secret_sealed
        stored = db.session.execute(select(RecoveryCode.code_hash)).scalars().all()
        assert len(stored) == 10
        assert not set(stored) & set(codes)
        assert all(c.replace("-", "") not in h for c in codes for h in stored)
    assert all(secret not in str(e["details"]) for e in audit_events(app))


def test_admin_sets_the_policy_and_it_is_audited(app, acme, make_browser, clock):
    operator = make_browser()
    operator.login(acme["operator"], factories.PASSWORD)
    assert operator.get("/settings/security").status_code == 403
    admin = make_browser()
    admin.login(acme["admin"], factories.PASSWORD)
    assert admin.get("/settings/security").status_code == 200
    bad = admin.submit(
        "/settings/security", {"mfa_policy": "sometimes"}, post_url="/settings/security/mfa"
    )
    assert bad.status_code == 400
    assert "Choose one of the offered" in bad.get_data(as_text=True)
    response = admin.submit(
        "/settings/security", {"mfa_policy": "ra_start"}, post_url="/settings/security/mfa"
    )
    assert response.status_code == 303
    # The admin's own role holds ra.start: they are next to enroll.
    assert admin.get("/").headers["Location"].startswith("/mfa/setup")
    with app.app_context():
        assert db.session.get(Organization, acme["org"]).mfa_policy == "ra_start"
    [event] = audit_events(app, "organization.mfa_policy_changed")
    assert event["details"] == {"before": "off", "after": "ra_start"}


def test_removing_the_authenticator_needs_a_code_and_is_refused_when_required(
    app, acme, make_browser, clock
):
    browser = make_browser()
    browser.login(acme["operator"], factories.PASSWORD)
    secret, _ = enroll(browser, clock)
    clock.advance(mfa.STEP_SECONDS)
    assert (
        browser.submit("/profile", {"code": "123456"}, post_url="/profile/mfa/remove").status_code
        == 401
    )
    with app.app_context():
        assert mfa.is_enrolled(find_user_by_email(acme["operator"]).id)
    set_policy(app, acme["org"], "all")
    refused = browser.submit(
        "/profile", {"code": code(secret, clock)}, post_url="/profile/mfa/remove"
    )
    assert refused.status_code == 409
    assert "requires a second factor" in refused.get_data(as_text=True)
    with app.app_context():
        assert mfa.is_enrolled(find_user_by_email(acme["operator"]).id)
    set_policy(app, acme["org"], "off")
    clock.advance(mfa.STEP_SECONDS)
    done = browser.submit("/profile", {"code": code(secret, clock)}, post_url="/profile/mfa/remove")
    assert done.status_code == 302
    with app.app_context():
        assert not mfa.is_enrolled(find_user_by_email(acme["operator"]).id)
    assert audit_events(app, "auth.mfa_removed")


def test_changing_the_password_keeps_the_session_mfa_verified(app, acme, make_browser, clock):
    browser = make_browser()
    browser.login(acme["operator"], factories.PASSWORD)
    enroll(browser, clock)
    new = "another long password"
    response = browser.submit(
        "/profile",
        {"current_password": factories.PASSWORD, "new_password": new, "confirm": new},
    )
    assert response.status_code == 302
    assert browser.get("/").status_code == 200  # not sent back to the code step
    with app.app_context():
        [live] = (
            db.session.execute(select(AuthSession).where(AuthSession.ended_at.is_(None)))
            .scalars()
            .all()
        )
        assert live.mfa_verified_at is not None


def test_new_recovery_codes_replace_the_old_ones(app, acme, make_browser, clock):
    browser = make_browser()
    browser.login(acme["operator"], factories.PASSWORD)
    secret, old_codes = enroll(browser, clock)
    clock.advance(mfa.STEP_SECONDS)
    response = browser.submit(
        "/profile", {"code": code(secret, clock)}, post_url="/profile/mfa/recovery-codes"
    )
    new_codes = CODES_RE.findall(response.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert sign_in_with_code(make_browser(), acme["operator"], old_codes[0]).status_code == 401
    assert sign_in_with_code(make_browser(), acme["operator"], new_codes[0]).status_code == 302


def test_cli_reset_removes_the_authenticator_and_ends_sessions(app, acme, make_browser, clock):
    browser = make_browser()
    browser.login(acme["operator"], factories.PASSWORD)
    enroll(browser, clock)
    result = app.test_cli_runner().invoke(args=["mfa", "reset", acme["operator"]])
    assert result.exit_code == 0, result.output
    assert browser.get("/").status_code == 302  # signed out
    with app.app_context():
        assert not mfa.is_enrolled(find_user_by_email(acme["operator"]).id)
    [event] = audit_events(app, "auth.mfa_removed")
    assert event["actor"] == "cli" and event["details"] == {"reason": "reset_by_operator"}
