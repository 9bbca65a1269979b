"""An organization admin of Alpha, in every admin view of tenant-owned rows, sees and
changes Alpha's rows only. Bravo's rows are missing (404), never forbidden, and every
attempt on them changes nothing, audit log included."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from app.models import Membership, Product, ReportingGroup, Role, User
from tests.admin.support import (
    Tenant,
    count_rows,
    csv_rows,
    field_errors,
    list_count,
    post,
    select_options,
    world,
)


@dataclass(frozen=True)
class Surface:
    """One admin view of tenant-owned rows, and what the tests need to know about it."""

    endpoint: str
    model: type
    deletable: Callable[[Tenant], int]  # a row of the tenant that can be deleted
    edit_data: Callable[[Tenant], dict]  # a valid edit POST, given the *acting* tenant
    listed: Callable[[Tenant], tuple[str, ...]]  # names the list page shows

    def __str__(self) -> str:
        return self.endpoint


BUILTIN_ROLE_NAMES = ("Organization Admin", "Product Owner", "Helpdesk Lead", "Operator", "Auditor")

SURFACES = [
    Surface(
        "products",
        Product,
        deletable=lambda t: t.spare_id,
        edit_data=lambda t: {"name": "Taken over"},
        listed=lambda t: t.product_names,
    ),
    Surface(
        "reporting_groups",
        ReportingGroup,
        deletable=lambda t: t.lobby_group_id,
        edit_data=lambda t: {"name": "Taken over", "product": t.workspaces_id},
        listed=lambda t: (f"{t.name} group", f"{t.name} Lobby"),
    ),
    Surface(
        "memberships",
        Membership,
        deletable=lambda t: t.operator_membership_id,
        edit_data=lambda t: {"role": t.role_ids["org_admin"]},
        listed=lambda t: (t.admin_email, t.operator_email),
    ),
    Surface(
        "roles",
        Role,
        deletable=lambda t: t.custom_role_id,
        edit_data=lambda t: {"name": "Taken over", "permission_set": ["devices.view"]},
        listed=lambda t: (*BUILTIN_ROLE_NAMES, f"{t.name} Night Shift"),
    ),
]

each_surface = pytest.mark.parametrize("surface", SURFACES, ids=str)


# --- list and count ---------------------------------------------------------------------


@each_surface
def test_org_admin_lists_only_own_orgs_rows(app, alpha_admin, alpha, bravo, surface):
    response = alpha_admin.get(f"/admin/{surface.endpoint}/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for name in surface.listed(alpha):
        assert name in html
    # Every Bravo row carries "Bravo" in its name or e-mail; the organization too.
    assert "bravo" not in html.lower()


@each_surface
def test_org_admin_list_count_is_own_orgs_count(app, alpha_admin, alpha, surface):
    html = alpha_admin.get(f"/admin/{surface.endpoint}/").get_data(as_text=True)
    own = count_rows(app, surface.model, organization_id=alpha.org_id)
    assert own < count_rows(app, surface.model)  # Bravo has rows of this kind too
    assert list_count(html) == own


def test_search_count_ignores_other_orgs_matches(app, alpha_admin):
    # Both organizations have a product named "Workspaces".
    html = alpha_admin.get("/admin/products/?search=Workspaces").get_data(as_text=True)
    assert list_count(html) == 1


def test_member_search_finds_no_other_orgs_users(app, alpha_admin):
    html = alpha_admin.get("/admin/memberships/?search=bravo").get_data(as_text=True)
    assert list_count(html) == 0
    assert "bravo.example" not in html


# --- details, edit, delete of another organization's row ---------------------------------


@each_surface
def test_org_admin_cannot_view_details_of_other_orgs_row(app, alpha_admin, bravo, surface):
    row_id = surface.deletable(bravo)
    response = alpha_admin.get(f"/admin/{surface.endpoint}/details/?id={row_id}")
    assert response.status_code == 404
    assert "bravo" not in response.get_data(as_text=True).lower()


@each_surface
def test_org_admin_cannot_open_edit_form_of_other_orgs_row(app, alpha_admin, bravo, surface):
    row_id = surface.deletable(bravo)
    response = alpha_admin.get(f"/admin/{surface.endpoint}/edit/?id={row_id}")
    assert response.status_code == 404
    assert "bravo" not in response.get_data(as_text=True).lower()


@each_surface
def test_org_admin_cannot_edit_other_orgs_row(app, alpha_admin, alpha, bravo, surface):
    before = world(app)
    url = f"/admin/{surface.endpoint}/edit/?id={surface.deletable(bravo)}"
    response = post(alpha_admin, url, surface.edit_data(alpha))
    assert response.status_code == 404
    assert world(app) == before


@each_surface
def test_org_admin_cannot_delete_other_orgs_row(app, alpha_admin, bravo, surface):
    before = world(app)
    response = post(
        alpha_admin, f"/admin/{surface.endpoint}/delete/", {"id": surface.deletable(bravo)}
    )
    assert response.status_code == 404
    assert world(app) == before


@each_surface
def test_bulk_delete_naming_another_orgs_row_deletes_nothing(
    app, alpha_admin, alpha, bravo, surface
):
    before = world(app)
    response = post(
        alpha_admin,
        f"/admin/{surface.endpoint}/action/",
        {"action": "delete", "rowid": [surface.deletable(alpha), surface.deletable(bravo)]},
    )
    assert response.status_code == 404
    # Not even Alpha's own row named in the same request.
    assert world(app) == before


@each_surface
def test_bulk_delete_of_own_rows_deletes_them(app, alpha_admin, alpha, surface):
    row_id = surface.deletable(alpha)
    response = post(
        alpha_admin, f"/admin/{surface.endpoint}/action/", {"action": "delete", "rowid": row_id}
    )
    assert response.status_code == 302
    assert count_rows(app, surface.model, id=row_id) == 0


@each_surface
def test_inline_update_of_other_orgs_row_is_refused(app, alpha_admin, bravo, surface):
    before = world(app)
    response = post(
        alpha_admin,
        f"/admin/{surface.endpoint}/ajax/update/",
        {"list_form_pk": surface.deletable(bravo), "name": "Taken over"},
    )
    assert response.status_code == 404
    assert world(app) == before


@pytest.mark.parametrize("ident", ["abc", "1.5", "99999"])
def test_unknown_or_malformed_ids_are_404(app, alpha_admin, ident):
    assert alpha_admin.get(f"/admin/products/details/?id={ident}").status_code == 404
    assert alpha_admin.get(f"/admin/products/edit/?id={ident}").status_code == 404


def test_org_admin_can_edit_own_product(app, alpha_admin, alpha):
    url = f"/admin/products/edit/?id={alpha.spare_id}"
    response = alpha_admin.submit(url, {"name": "Alpha Renamed"})
    assert response.status_code == 302
    assert count_rows(app, Product, id=alpha.spare_id, name="Alpha Renamed") == 1


# --- export -------------------------------------------------------------------------


@each_surface
def test_csv_export_holds_only_own_orgs_rows(app, alpha_admin, alpha, surface):
    response = alpha_admin.get(f"/admin/{surface.endpoint}/export/csv/")
    rows = csv_rows(response)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert len(rows) - 1 == count_rows(app, surface.model, organization_id=alpha.org_id)
    text = response.get_data(as_text=True)
    for name in surface.listed(alpha):
        assert name in text
    assert "bravo" not in text.lower()


# --- relation dropdowns -------------------------------------------------------------


def test_membership_forms_list_only_own_orgs_roles(app, alpha_admin, alpha):
    own_roles = {str(i) for i in (*alpha.role_ids.values(), alpha.custom_role_id)}
    create = alpha_admin.get("/admin/memberships/new/").get_data(as_text=True)
    edit_url = f"/admin/memberships/edit/?id={alpha.operator_membership_id}"
    edit = alpha_admin.get(edit_url).get_data(as_text=True)
    for html in (create, edit):
        options = select_options(html, "role")
        assert set(options) - {"__None", ""} == own_roles


def test_role_form_offers_org_admin_no_choice_of_organization(app, alpha_admin, alpha):
    for url in ("/admin/roles/new/", f"/admin/roles/edit/?id={alpha.custom_role_id}"):
        html = alpha_admin.get(url).get_data(as_text=True)
        assert 'name="organization"' not in html
        assert "bravo" not in html.lower()


def test_product_form_offers_org_admin_no_choice_of_organization(app, alpha_admin):
    html = alpha_admin.get("/admin/products/new/").get_data(as_text=True)
    assert 'name="organization"' not in html
    assert "bravo" not in html.lower()


def test_org_admin_cannot_add_a_member_with_other_orgs_role(app, alpha_admin, bravo):
    before = world(app)
    response = alpha_admin.submit(
        "/admin/memberships/new/",
        {
            "email": "newcomer@alpha.example",
            "password": "a long enough initial password",
            "role": bravo.role_ids["operator"],
        },
    )
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True))
    assert world(app) == before
    assert count_rows(app, User, email="newcomer@alpha.example") == 0


def test_org_admin_cannot_move_a_member_to_other_orgs_role(app, alpha_admin, alpha, bravo):
    before = world(app)
    url = f"/admin/memberships/edit/?id={alpha.operator_membership_id}"
    response = alpha_admin.submit(url, {"role": bravo.role_ids["org_admin"]})
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True))
    assert world(app) == before


def test_org_admin_adds_a_member_with_own_role(app, alpha_admin, alpha):
    response = alpha_admin.submit(
        "/admin/memberships/new/",
        {
            "email": "newcomer@alpha.example",
            "password": "a long enough initial password",
            "role": alpha.role_ids["auditor"],
        },
    )
    assert response.status_code == 302
    assert (
        count_rows(app, Membership, organization_id=alpha.org_id, role_id=alpha.role_ids["auditor"])
        == 1
    )


# --- AJAX lookups -------------------------------------------------------------------


def lookup(browser, query: str):
    url = f"/admin/reporting_groups/ajax/lookup/?name=product&query={query}"
    response = browser.get(url)
    assert response.status_code == 200
    return response.get_json()


def test_product_lookup_returns_only_own_orgs_products(app, alpha_admin, alpha, bravo):
    found = lookup(alpha_admin, "")
    assert {pk for pk, _ in found} == {alpha.workspaces_id, alpha.kiosks_id, alpha.spare_id}
    # "Workspaces" exists in both organizations.
    assert lookup(alpha_admin, "Workspaces") == [[alpha.workspaces_id, "Workspaces"]]
    assert lookup(alpha_admin, "Bravo") == []


def test_lookup_of_a_field_without_loader_is_404(app, alpha_admin):
    response = alpha_admin.get("/admin/reporting_groups/ajax/lookup/?name=organization&query=")
    assert response.status_code == 404


def test_reporting_group_form_looks_products_up_with_ajax(app, alpha_admin):
    html = alpha_admin.get("/admin/reporting_groups/new/").get_data(as_text=True)
    assert 'data-url="/admin/reporting_groups/ajax/lookup/?name=product"' in html
    assert "bravo" not in html.lower()


def test_org_admin_cannot_create_a_group_in_other_orgs_product(app, alpha_admin, bravo):
    before = world(app)
    response = alpha_admin.submit(
        "/admin/reporting_groups/new/", {"name": "Smuggled", "product": bravo.kiosks_id}
    )
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True))
    assert world(app) == before


def test_org_admin_cannot_move_own_group_to_other_orgs_product(app, alpha_admin, alpha, bravo):
    before = world(app)
    response = alpha_admin.submit(
        f"/admin/reporting_groups/edit/?id={alpha.lobby_group_id}",
        {"name": f"{alpha.name} Lobby", "product": bravo.kiosks_id},
    )
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True))
    assert world(app) == before


def test_org_admin_creates_a_group_in_own_product(app, alpha_admin, alpha):
    response = alpha_admin.submit(
        "/admin/reporting_groups/new/", {"name": "Alpha Kiosks East", "product": alpha.kiosks_id}
    )
    assert response.status_code == 302
    assert (
        count_rows(
            app,
            ReportingGroup,
            name="Alpha Kiosks East",
            organization_id=alpha.org_id,
            product_id=alpha.kiosks_id,
        )
        == 1
    )


# --- a posted organization is ignored ------------------------------------------------


def test_posted_organization_is_ignored_when_creating_a_product(app, alpha_admin, alpha, bravo):
    response = alpha_admin.submit(
        "/admin/products/new/",
        {"name": "Sneaky", "organization": bravo.org_id, "organization_id": bravo.org_id},
    )
    assert response.status_code == 302
    assert count_rows(app, Product, name="Sneaky", organization_id=alpha.org_id) == 1
    assert count_rows(app, Product, name="Sneaky", organization_id=bravo.org_id) == 0


def test_posted_organization_is_ignored_when_editing_a_product(app, alpha_admin, alpha, bravo):
    response = alpha_admin.submit(
        f"/admin/products/edit/?id={alpha.spare_id}",
        {"name": "Alpha Spare", "organization": bravo.org_id, "organization_id": bravo.org_id},
    )
    assert response.status_code == 302
    assert count_rows(app, Product, id=alpha.spare_id, organization_id=alpha.org_id) == 1


def test_posted_organization_is_ignored_when_creating_a_role(app, alpha_admin, alpha, bravo):
    response = alpha_admin.submit(
        "/admin/roles/new/",
        {
            "name": "Sneaky role",
            "permission_set": ["devices.view"],
            "organization": bravo.org_id,
            "organization_id": bravo.org_id,
        },
    )
    assert response.status_code == 302
    assert count_rows(app, Role, name="Sneaky role", organization_id=alpha.org_id) == 1
    assert count_rows(app, Role, name="Sneaky role", organization_id=bravo.org_id) == 0


def test_posted_organization_is_ignored_when_creating_a_group(app, alpha_admin, alpha, bravo):
    response = alpha_admin.submit(
        "/admin/reporting_groups/new/",
        {"name": "Sneaky group", "product": alpha.kiosks_id, "organization_id": bravo.org_id},
    )
    assert response.status_code == 302
    assert count_rows(app, ReportingGroup, name="Sneaky group", organization_id=alpha.org_id) == 1


def test_posted_organization_is_ignored_when_adding_a_member(app, alpha_admin, alpha, bravo):
    response = alpha_admin.submit(
        "/admin/memberships/new/",
        {
            "email": "newcomer@alpha.example",
            "password": "a long enough initial password",
            "role": alpha.role_ids["operator"],
            "organization": bravo.org_id,
            "organization_id": bravo.org_id,
        },
    )
    assert response.status_code == 302
    assert count_rows(app, Membership, organization_id=bravo.org_id) == 2  # as before
    assert count_rows(app, Membership, organization_id=alpha.org_id) == 3
