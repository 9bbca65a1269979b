"""Relation dropdowns that Flask-Admin builds from the model are scoped by
`TenantModelView` itself, not by each view: the reporting-group form with a plain product
dropdown (instead of the AJAX lookup the real view uses) lists Alpha's products only."""

from __future__ import annotations

import pytest

from app import create_app
from app.admin.views import ReportingGroupView
from app.models import ReportingGroup
from tests.admin.support import count_rows, field_errors, select_options, world
from tests.conftest import Browser
from tests.factories import PASSWORD


class GroupWithProductDropdownView(ReportingGroupView):
    form_ajax_refs = None


@pytest.fixture(scope="module")
def dropdown_app(app):
    """The portal plus one extra admin view at /admin/groups_dropdown/."""
    other = create_app("test")
    (admin,) = other.extensions["admin"]
    admin.add_view(
        GroupWithProductDropdownView(
            ReportingGroup, name="Groups (dropdown)", endpoint="groups_dropdown"
        )
    )
    return other


@pytest.fixture
def alpha_admin_dropdown(dropdown_app, alpha):
    browser = Browser(dropdown_app.test_client())
    assert browser.login(alpha.admin_email, PASSWORD).status_code == 302
    return browser


def test_product_dropdown_lists_only_own_orgs_products(app, alpha_admin_dropdown, alpha):
    for url in (
        "/admin/groups_dropdown/new/",
        f"/admin/groups_dropdown/edit/?id={alpha.lobby_group_id}",
    ):
        html = alpha_admin_dropdown.get(url).get_data(as_text=True)
        options = select_options(html, "product")
        assert set(options) - {"__None", ""} == {
            str(alpha.workspaces_id),
            str(alpha.kiosks_id),
            str(alpha.spare_id),
        }
        assert "bravo" not in html.lower()


def test_product_dropdown_refuses_other_orgs_product(app, alpha_admin_dropdown, bravo):
    before = world(app)
    response = alpha_admin_dropdown.submit(
        "/admin/groups_dropdown/new/", {"name": "Smuggled", "product": bravo.kiosks_id}
    )
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True))
    assert world(app) == before


def test_product_dropdown_accepts_own_product(app, alpha_admin_dropdown, alpha):
    response = alpha_admin_dropdown.submit(
        "/admin/groups_dropdown/new/", {"name": "Alpha West", "product": alpha.kiosks_id}
    )
    assert response.status_code == 302
    assert count_rows(app, ReportingGroup, name="Alpha West", organization_id=alpha.org_id) == 1
