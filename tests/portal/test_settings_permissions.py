"""Permission matrix: each built-in role by each settings endpoint and page."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Product, ReportingGroup, Role
from app.people import api_tokens
from tests import factories

ROLES = ("org_admin", "product_owner", "helpdesk_lead", "operator", "auditor")
EDITORS = {"org_admin", "product_owner"}
EVERYONE = set(ROLES)

# (method, url template, roles allowed)
PAGES = [
    ("GET", "/settings/organization", EDITORS),
    ("GET", "/settings/products/{product}/agent-settings", EDITORS),
    ("POST", "/settings/products/{product}/agent-settings", EDITORS),
    ("GET", "/settings/products/{product}/agent-settings/history", EDITORS),
    ("GET", "/settings/reporting-groups", EDITORS),
    ("GET", "/settings/reporting-groups/{group}/agent-settings", EDITORS),
    ("POST", "/settings/reporting-groups/{group}/agent-settings", EDITORS),
    ("GET", "/settings/reporting-groups/{group}/agent-settings/history", EDITORS),
    ("GET", "/settings/reporting-groups/{group}/effective?role={role}", EVERYONE),
    ("GET", "/settings/reporting-groups/bulk?group_ids={group}", EDITORS),
    ("POST", "/settings/reporting-groups/bulk", EDITORS),
    ("GET", "/admin/roles/", {"org_admin"}),  # product owners edit products, not roles
]
API = [
    ("GET", "/api/v1/products/{product}/agent-settings", EDITORS),
    ("PUT", "/api/v1/products/{product}/agent-settings", EDITORS),
    ("GET", "/api/v1/reporting-groups/{group}/agent-settings", EDITORS),
    ("PUT", "/api/v1/reporting-groups/{group}/agent-settings", EDITORS),
    ("GET", "/api/v1/reporting-groups/{group}/effective-settings?role={role}", EVERYONE),
]


@pytest.fixture
def setup(app):
    with app.app_context():
        org = factories.create_org("Acme")
        users = {key: factories.create_member(org, key).email for key in ROLES}
        ids = {
            "product": db.session.execute(select(Product.id)).scalar_one(),
            "group": db.session.execute(select(ReportingGroup.id)).scalar_one(),
            "role": db.session.execute(
                select(Role.id).where(Role.builtin_key == "operator")
            ).scalar_one(),
        }
        return org.id, users, ids


@pytest.mark.parametrize("role_key", ROLES)
def test_settings_pages_by_role(app, make_browser, setup, role_key):
    _, users, ids = setup
    browser = make_browser()
    browser.login(users[role_key], factories.PASSWORD)
    token = browser.token("/profile")
    for method, template, allowed in PAGES:
        url = template.format(**ids)
        if method == "GET":
            response = browser.get(url)
        else:
            response = browser.client.post(
                url,
                data={
                    "csrf_token": token,
                    "group_ids": str(ids["group"]),
                    "val:audio_redirection": "on",
                },
            )
        expected_ok = role_key in allowed
        if expected_ok:
            assert response.status_code in (200, 302), (role_key, method, url, response.status_code)
            if response.status_code == 302:
                assert "/login" not in response.headers["Location"]
        else:
            assert response.status_code == 403, (role_key, method, url, response.status_code)


@pytest.mark.parametrize("role_key", ROLES)
def test_settings_api_by_role(app, client, setup, role_key):
    org_id, users, ids = setup
    with app.app_context():
        from app.people.users import find_user_by_email

        _, raw = api_tokens.create_token(find_user_by_email(users[role_key]), org_id, "t")
        db.session.commit()
    headers = {"Authorization": f"Bearer {raw}"}
    for method, template, allowed in API:
        response = client.open(
            template.format(**ids),
            method=method,
            headers=headers,
            json={"settings": {"audio_redirection": {"value": True}}},
        )
        if role_key in allowed:
            assert response.status_code == 200, (role_key, method, template, response.json)
        else:
            assert response.status_code == 403, (role_key, method, template)
            assert response.get_json()["error"]["code"] == "forbidden"


def test_a_refused_post_changes_nothing(app, make_browser, setup):
    _, users, ids = setup
    browser = make_browser()
    browser.login(users["operator"], factories.PASSWORD)
    browser.client.post(
        f"/settings/products/{ids['product']}/agent-settings",
        data={"csrf_token": browser.token("/profile"), "val:audio_redirection": "on"},
    )
    with app.app_context():
        from app.models.agent_setting import AgentSettingValue

        assert db.session.query(AgentSettingValue).count() == 0
