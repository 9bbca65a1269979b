from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken, User, utcnow
from app.people import api_tokens
from tests import factories


def _product_url(app, org_id):
    with app.app_context():
        from app.models import Product

        pid = db.session.execute(
            select(Product.id).where(Product.organization_id == org_id)
        ).scalar_one()
    return f"/api/v1/products/{pid}/agent-settings"


def test_bearer_token_authenticates(app, client, tokens):
    headers, org_id = tokens("org_admin")
    response = client.get(_product_url(app, org_id), headers=headers)
    assert response.status_code == 200
    assert response.get_json()["product"]["name"] == "Workspaces"


def test_only_a_hash_of_the_token_is_stored(app, tokens):
    headers, _ = tokens()
    raw = headers["Authorization"].split()[1]
    with app.app_context():
        token = db.session.execute(select(ApiToken)).scalar_one()
        assert token.token_hash == api_tokens.hash_token(raw)
        assert raw not in (token.token_hash, token.prefix)
        assert raw.startswith(token.prefix)


def test_missing_malformed_and_unknown_tokens_get_401_json(app, client, tokens):
    _, org_id = tokens()
    url = _product_url(app, org_id)
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer rap_nope"},
        {"Authorization": "Bearer"},
    ):
        response = client.get(url, headers=headers)
        assert response.status_code == 401, headers
        assert response.get_json()["error"]["code"] in ("unauthorized", "invalid_token")


def test_revoked_token_is_refused(app, client, tokens):
    headers, org_id = tokens()
    with app.app_context():
        api_tokens.revoke(db.session.execute(select(ApiToken)).scalar_one())
        db.session.commit()
    assert client.get(_product_url(app, org_id), headers=headers).status_code == 401


def test_expired_token_is_refused(app, client, tokens):
    headers, org_id = tokens()
    with app.app_context():
        token = db.session.execute(select(ApiToken)).scalar_one()
        token.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert client.get(_product_url(app, org_id), headers=headers).status_code == 401


def test_token_of_a_deactivated_user_is_refused(app, client, tokens):
    headers, org_id = tokens()
    with app.app_context():
        db.session.execute(select(User)).scalars().first().active = False
        db.session.commit()
    assert client.get(_product_url(app, org_id), headers=headers).status_code == 401


def test_token_lifetime_is_bounded(app):
    with app.app_context():
        org = factories.create_org()
        user = factories.create_member(org)
        for days in (0, api_tokens.MAX_DAYS + 1):
            try:
                api_tokens.create_token(user, org.id, "x", days)
            except api_tokens.TokenError:
                continue
            raise AssertionError(f"{days} days accepted")


def test_cookie_session_put_needs_the_csrf_token(app, browser):
    with app.app_context():
        org = factories.create_org()
        email = factories.create_member(org, "org_admin").email
        org_id = org.id
    browser.login(email, factories.PASSWORD)
    url = _product_url(app, org_id)
    body = {"settings": {"audio_redirection": {"value": True}}}
    refused = browser.client.put(url, json=body)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "csrf_failed"
    token = browser.token("/profile")
    accepted = browser.client.put(url, json=body, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["settings"]["audio_redirection"]["value"] is True


def test_bearer_put_needs_no_csrf_token(app, client, tokens):
    headers, org_id = tokens()
    response = client.put(
        _product_url(app, org_id),
        headers=headers,
        json={"settings": {"audio_redirection": {"value": True}}},
    )
    assert response.status_code == 200


def test_token_created_on_profile_page_is_shown_once_and_works(app, browser, client):
    with app.app_context():
        org = factories.create_org()
        email = factories.create_member(org, "org_admin").email
        org_id = org.id
    browser.login(email, factories.PASSWORD)
    page = browser.submit(
        "/profile", {"name": "my script", "days": "7"}, post_url="/profile/api-tokens"
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    raw = html.split('id="api-token">')[1].split("<")[0]
    assert raw.startswith("rap_")
    assert raw not in browser.get("/profile").get_data(as_text=True)
    response = client.get(_product_url(app, org_id), headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    with app.app_context():
        token_id = db.session.execute(select(ApiToken.id)).scalar_one()
    browser.submit("/profile", {}, post_url=f"/profile/api-tokens/{token_id}/revoke")
    response = client.get(_product_url(app, org_id), headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401


def test_cannot_revoke_someone_elses_token(app, browser, tokens):
    tokens()
    with app.app_context():
        token_id = db.session.execute(select(ApiToken.id)).scalar_one()
        org = factories.create_org()
        email = factories.create_member(org, "org_admin").email
    browser.login(email, factories.PASSWORD)
    response = browser.submit("/profile", {}, post_url=f"/profile/api-tokens/{token_id}/revoke")
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None


def test_cli_creates_a_working_token(app, client):
    with app.app_context():
        org = factories.create_org("Cli Org")
        email = factories.create_member(org, "org_admin").email
        org_id, slug = org.id, org.slug
    result = app.test_cli_runner().invoke(
        args=["api-token", "create", email, "--org", slug, "--name", "automation"]
    )
    assert result.exit_code == 0, result.output
    raw = result.output.strip().splitlines()[-1]
    response = client.get(_product_url(app, org_id), headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
