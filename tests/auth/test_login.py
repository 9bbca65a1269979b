from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, AuthSession, utcnow
from tests import factories


def _member(app, role="operator"):
    with app.app_context():
        org = factories.create_org()
        user = factories.create_member(org, role)
        return user.email


def test_login_with_right_password_lands_on_home(app, browser):
    email = _member(app)
    response = browser.login(email, factories.PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert browser.get("/").status_code == 200


def test_bad_password_and_unknown_user_get_the_same_generic_error(app, browser):
    email = _member(app)
    wrong = browser.login(email, "not the password")
    unknown = browser.login("nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    text_wrong, text_unknown = wrong.get_data(as_text=True), unknown.get_data(as_text=True)
    assert "Invalid e-mail or password." in text_wrong
    assert "Invalid e-mail or password." in text_unknown
    assert "not the password" not in text_wrong


def test_failed_and_successful_sign_ins_are_audited(app, browser):
    email = _member(app)
    browser.login(email, "wrong password!")
    browser.login(email, factories.PASSWORD)
    with app.app_context():
        actions = (
            db.session.execute(
                select(AuditEvent.action).where(AuditEvent.actor == email).order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
    assert actions == ["auth.login_failed", "auth.login"]


def test_login_form_without_csrf_token_is_refused_with_400(app, client):
    email = _member(app)
    response = client.post("/login", data={"email": email, "password": factories.PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # still signed out


def test_logout_without_csrf_token_is_refused(app, browser):
    email = _member(app)
    browser.login(email, factories.PASSWORD)
    assert browser.client.post("/logout").status_code == 400
    assert browser.get("/").status_code == 200


def test_account_is_throttled_after_repeated_failures(app, browser):
    email = _member(app)
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit):
        assert browser.login(email, "wrong password!").status_code == 401
    # Even the right password is refused while throttled.
    throttled = browser.login(email, factories.PASSWORD)
    assert throttled.status_code == 429
    assert "Too many failed sign-ins" in throttled.get_data(as_text=True)
    assert browser.get("/").status_code == 302


def test_ip_is_throttled_across_accounts(app, browser):
    limit = app.config["LOGIN_MAX_FAILURES_PER_IP"]
    for i in range(limit):
        browser.login(f"guess{i}@example.com", "wrong password!")
    email = _member(app)
    assert browser.login(email, factories.PASSWORD).status_code == 429


def test_throttle_of_one_account_does_not_lock_another_from_elsewhere(app, make_browser):
    victim = _member(app)
    other = _member(app)
    attacker = make_browser()
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        attacker.login(victim, "wrong password!")
    response = make_browser().login(other, factories.PASSWORD)
    assert response.status_code == 302


def test_session_id_is_rotated_at_login(app, browser):
    email = _member(app)
    browser.get("/login")
    before = browser.client.get_cookie("portal_session").value
    browser.login(email, factories.PASSWORD)
    after = browser.client.get_cookie("portal_session").value
    assert before != after
    with app.app_context():
        assert db.session.query(AuthSession).count() == 1


def test_logout_invalidates_the_session_even_if_the_cookie_is_replayed(app, browser, client):
    email = _member(app)
    browser.login(email, factories.PASSWORD)
    cookie = browser.client.get_cookie("portal_session").value
    browser.submit("/", {}, post_url="/logout")
    assert browser.get("/").status_code == 302
    replay = client  # a fresh client presenting the old cookie
    replay.set_cookie("portal_session", cookie)
    assert replay.get("/").status_code == 302


def test_idle_session_expires(app, browser):
    email = _member(app)
    browser.login(email, factories.PASSWORD)
    with app.app_context():
        row = db.session.query(AuthSession).one()
        row.last_seen_at = utcnow() - timedelta(
            seconds=app.config["SESSION_IDLE_TIMEOUT_SECONDS"] + 1
        )
        db.session.commit()
    response = browser.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_session_expires_after_absolute_lifetime_even_when_active(app, browser):
    email = _member(app)
    browser.login(email, factories.PASSWORD)
    with app.app_context():
        row = db.session.query(AuthSession).one()
        row.created_at = utcnow() - timedelta(
            seconds=app.config["SESSION_ABSOLUTE_TIMEOUT_SECONDS"] + 1
        )
        row.last_seen_at = utcnow()
        db.session.commit()
    assert browser.get("/").status_code == 302


def test_deactivated_user_is_signed_out_on_next_request(app, browser):
    email = _member(app)
    browser.login(email, factories.PASSWORD)
    with app.app_context():
        from app.people.users import find_user_by_email

        find_user_by_email(email).active = False
        db.session.commit()
    assert browser.get("/").status_code == 302


def test_next_parameter_cannot_redirect_off_site(app, browser):
    email = _member(app)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"):
        response = browser.submit(
            "/login", {"email": email, "password": factories.PASSWORD, "next": target}
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "/", target
        browser.submit("/", {}, post_url="/logout")


def test_next_parameter_on_site_is_followed(app, browser):
    email = _member(app)
    response = browser.submit(
        "/login", {"email": email, "password": factories.PASSWORD, "next": "/profile"}
    )
    assert response.headers["Location"] == "/profile"


def test_session_cookie_flags(app, browser):
    email = _member(app)
    response = browser.login(email, factories.PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_security_headers_are_set(client, app):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_password_change_ends_other_sessions(app, make_browser):
    email = _member(app)
    first, second = make_browser(), make_browser()
    first.login(email, factories.PASSWORD)
    second.login(email, factories.PASSWORD)
    new = "a brand new passphrase"
    response = first.submit(
        "/profile",
        {"current_password": factories.PASSWORD, "new_password": new, "confirm": new},
    )
    assert response.status_code == 302
    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 302
    assert make_browser().login(email, new).status_code == 302
