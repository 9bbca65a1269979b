"""Who may open the admin at all: signed-in people holding the view's permission, and
platform admins (who see every organization)."""

from __future__ import annotations

import pytest

from app.models import Membership, Organization, Product, ReportingGroup, Role
from app.people.organizations import builtin_role
from app.people.users import add_membership, find_user_by_email
from tests import factories
from tests.admin.support import (
    PLATFORM_ENDPOINTS,
    TENANT_ENDPOINTS,
    Tenant,
    add_member,
    count_rows,
    list_count,
    post,
    world,
)


def requests_of(endpoint: str, row_id: int) -> list[tuple[str, str, dict | None]]:
    """Every page and action of one admin view, aimed at an existing row."""
    base = f"/admin/{endpoint}"
    return [
        ("GET", f"{base}/", None),
        ("GET", f"{base}/new/", None),
        ("GET", f"{base}/details/?id={row_id}", None),
        ("GET", f"{base}/edit/?id={row_id}", None),
        ("GET", f"{base}/export/csv/", None),
        ("GET", f"{base}/ajax/lookup/?name=product&query=", None),
        ("POST", f"{base}/new/", {"name": "Intruder"}),
        ("POST", f"{base}/edit/?id={row_id}", {"name": "Intruder"}),
        ("POST", f"{base}/delete/", {"id": row_id}),
        ("POST", f"{base}/action/", {"action": "delete", "rowid": row_id}),
        ("POST", f"{base}/ajax/update/", {"list_form_pk": row_id, "name": "Intruder"}),
    ]


def own_row(endpoint: str, tenant: Tenant) -> int:
    return {
        "products": tenant.spare_id,
        "reporting_groups": tenant.lobby_group_id,
        "memberships": tenant.operator_membership_id,
        "roles": tenant.custom_role_id,
        "organizations": tenant.org_id,
        "users": 1,
    }[endpoint]


def statuses(browser, endpoints, tenant: Tenant) -> dict[str, int]:
    seen = {}
    for endpoint in endpoints:
        for method, url, data in requests_of(endpoint, own_row(endpoint, tenant)):
            response = browser.get(url) if method == "GET" else post(browser, url, data)
            seen[f"{method} {url}"] = response.status_code
    return seen


@pytest.mark.parametrize("role_key", ["operator", "auditor", "product_owner", "helpdesk_lead"])
def test_members_without_admin_permissions_get_403_on_every_admin_view(
    app, browser, alpha, role_key
):
    email = add_member(app, alpha, role_key)
    browser.login(email, factories.PASSWORD)
    before = world(app)
    seen = statuses(browser, TENANT_ENDPOINTS + PLATFORM_ENDPOINTS, alpha)
    assert seen == dict.fromkeys(seen, 403)
    assert world(app) == before


@pytest.mark.parametrize("role_key", ["operator", "auditor", "product_owner"])
def test_members_without_any_admin_permission_get_403_on_admin_home(app, browser, alpha, role_key):
    browser.login(add_member(app, alpha, role_key), factories.PASSWORD)
    assert browser.get("/admin/").status_code == 403


def test_org_admin_gets_403_on_platform_views(app, alpha_admin, alpha):
    before = world(app)
    seen = statuses(alpha_admin, PLATFORM_ENDPOINTS, alpha)
    assert seen == dict.fromkeys(seen, 403)
    assert world(app) == before
    assert count_rows(app, Organization) == 2


def test_org_admin_does_not_see_platform_views_in_the_menu(app, alpha_admin):
    html = alpha_admin.get("/admin/").get_data(as_text=True)
    assert "/admin/products/" in html
    assert "/admin/organizations/" not in html
    assert "/admin/users/" not in html


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        *[f"/admin/{e}/" for e in TENANT_ENDPOINTS + PLATFORM_ENDPOINTS],
        "/admin/products/details/?id=1",
        "/admin/products/export/csv/",
        "/admin/reporting_groups/ajax/lookup/?name=product&query=",
    ],
)
def test_anonymous_is_sent_to_login(app, client, tenants, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_anonymous_post_changes_nothing(app, client, alpha):
    before = world(app)
    response = client.post("/admin/products/delete/", data={"id": alpha.spare_id})
    assert response.status_code in (302, 400)
    assert world(app) == before


@pytest.fixture
def alpha_admin_operator_of_bravo(app, alpha, bravo):
    """Alpha's admin is also an operator of Bravo."""
    from app.extensions import db

    with app.app_context():
        user = find_user_by_email(alpha.admin_email)
        org = db.session.get(Organization, bravo.org_id)
        add_membership(user, org, builtin_role(bravo.org_id, "operator"))
        db.session.commit()
    return alpha.admin_email


def test_switching_to_an_org_where_one_is_operator_closes_the_admin(
    app, browser, alpha, bravo, alpha_admin_operator_of_bravo
):
    browser.login(alpha_admin_operator_of_bravo, factories.PASSWORD)
    assert browser.get("/admin/products/").status_code == 200
    browser.submit("/", {"org_id": bravo.org_id}, post_url="/switch-org")
    assert browser.get("/admin/products/").status_code == 403
    assert browser.get(f"/admin/products/details/?id={bravo.spare_id}").status_code == 403
    browser.submit("/", {"org_id": alpha.org_id}, post_url="/switch-org")
    html = browser.get("/admin/products/").get_data(as_text=True)
    assert "Alpha Spare" in html
    # The list (not the top bar's organization switcher, which rightly names Bravo).
    listing = html.split('<section class="card">', 1)[1]
    assert "bravo" not in listing.lower()


# --- platform admins ------------------------------------------------------------------

MODELS = {
    "products": Product,
    "reporting_groups": ReportingGroup,
    "memberships": Membership,
    "roles": Role,
}


@pytest.fixture
def platform_admin(app, browser, tenants):
    with app.app_context():
        email = factories.create_platform_admin().email
    browser.login(email, factories.PASSWORD)
    return browser


@pytest.mark.parametrize("endpoint", TENANT_ENDPOINTS)
def test_platform_admin_sees_every_orgs_rows(app, platform_admin, alpha, bravo, endpoint):
    html = platform_admin.get(f"/admin/{endpoint}/").get_data(as_text=True)
    assert list_count(html) == count_rows(app, MODELS[endpoint])
    assert "Alpha" in html
    assert "Bravo" in html


def test_platform_admin_opens_platform_views(app, platform_admin, alpha, bravo):
    organizations = platform_admin.get("/admin/organizations/").get_data(as_text=True)
    assert "Alpha" in organizations and "Bravo" in organizations
    users = platform_admin.get("/admin/users/").get_data(as_text=True)
    assert alpha.admin_email in users and bravo.admin_email in users


def test_platform_admin_creates_a_product_in_the_chosen_org(app, platform_admin, bravo):
    response = platform_admin.submit(
        "/admin/products/new/", {"name": "Bravo Labs", "organization": bravo.org_id}
    )
    assert response.status_code == 302
    assert count_rows(app, Product, name="Bravo Labs", organization_id=bravo.org_id) == 1


def test_platform_admin_cannot_move_a_product_to_another_org(app, platform_admin, alpha, bravo):
    response = platform_admin.submit(
        f"/admin/products/edit/?id={alpha.spare_id}",
        {"name": "Alpha Spare", "organization": bravo.org_id, "organization_id": bravo.org_id},
    )
    assert response.status_code == 302
    assert count_rows(app, Product, id=alpha.spare_id, organization_id=alpha.org_id) == 1
