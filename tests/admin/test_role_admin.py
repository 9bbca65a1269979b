"""Roles in the admin: built-in roles stay, and Organization Admin keeps every permission."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Membership, Organization, Role
from app.people.permissions import ALL_PERMISSIONS, BUILTIN_ROLES
from app.people.users import add_membership, create_user
from tests.admin.support import count_rows, field_errors, post, world


def permissions_of(app, role_id: int) -> set[str]:
    with app.app_context():
        return set(db.session.get(Role, role_id).permissions)


@pytest.mark.parametrize("key", sorted(BUILTIN_ROLES))
def test_builtin_role_cannot_be_deleted(app, alpha_admin, alpha, key):
    before = world(app)
    response = post(alpha_admin, "/admin/roles/delete/", {"id": alpha.role_ids[key]})
    assert response.status_code == 302
    assert world(app) == before
    page = alpha_admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "is a built-in role and cannot be deleted" in page


def test_bulk_delete_keeps_builtin_roles(app, alpha_admin, alpha):
    response = post(
        alpha_admin,
        "/admin/roles/action/",
        {"action": "delete", "rowid": [alpha.role_ids["org_admin"], alpha.role_ids["auditor"]]},
    )
    assert response.status_code == 302
    assert count_rows(app, Role, id=alpha.role_ids["org_admin"]) == 1
    assert count_rows(app, Role, id=alpha.role_ids["auditor"]) == 1


def test_role_held_by_a_member_cannot_be_deleted(app, alpha_admin, alpha):
    with app.app_context():
        user = create_user("night@alpha.example", None)
        org = db.session.get(Organization, alpha.org_id)
        add_membership(user, org, db.session.get(Role, alpha.custom_role_id))
        db.session.commit()
    response = post(alpha_admin, "/admin/roles/delete/", {"id": alpha.custom_role_id})
    assert response.status_code == 302
    assert count_rows(app, Role, id=alpha.custom_role_id) == 1
    assert count_rows(app, Membership, role_id=alpha.custom_role_id) == 1


def test_unused_custom_role_can_be_deleted(app, alpha_admin, alpha):
    response = post(alpha_admin, "/admin/roles/delete/", {"id": alpha.custom_role_id})
    assert response.status_code == 302
    assert count_rows(app, Role, id=alpha.custom_role_id) == 0


def test_organization_admin_role_cannot_lose_a_permission(app, alpha_admin, alpha):
    role_id = alpha.role_ids["org_admin"]
    before = world(app)
    response = alpha_admin.submit(
        f"/admin/roles/edit/?id={role_id}",
        {
            "name": "Organization Admin",
            "permission_set": sorted(ALL_PERMISSIONS - {"users.manage"}),
        },
    )
    assert response.status_code == 200
    assert "keeps every permission" in response.get_data(as_text=True)
    assert permissions_of(app, role_id) == ALL_PERMISSIONS
    assert world(app) == before


def test_organization_admin_role_cannot_be_emptied(app, alpha_admin, alpha):
    role_id = alpha.role_ids["org_admin"]
    response = alpha_admin.submit(
        f"/admin/roles/edit/?id={role_id}", {"name": "Organization Admin"}
    )
    assert response.status_code == 200
    assert permissions_of(app, role_id) == ALL_PERMISSIONS


def test_organization_admin_role_can_be_renamed_keeping_its_permissions(app, alpha_admin, alpha):
    role_id = alpha.role_ids["org_admin"]
    response = alpha_admin.submit(
        f"/admin/roles/edit/?id={role_id}",
        {"name": "Alpha Admins", "permission_set": sorted(ALL_PERMISSIONS)},
    )
    assert response.status_code == 302
    assert count_rows(app, Role, id=role_id, name="Alpha Admins", builtin_key="org_admin") == 1
    assert permissions_of(app, role_id) == ALL_PERMISSIONS


def test_other_builtin_roles_can_change_permissions(app, alpha_admin, alpha):
    role_id = alpha.role_ids["operator"]
    response = alpha_admin.submit(
        f"/admin/roles/edit/?id={role_id}",
        {"name": "Operator", "permission_set": ["devices.view"]},
    )
    assert response.status_code == 302
    assert permissions_of(app, role_id) == {"devices.view"}


def test_org_admin_creates_a_role_with_chosen_permissions(app, alpha_admin, alpha):
    response = alpha_admin.submit(
        "/admin/roles/new/", {"name": "Alpha Desk", "permission_set": ["devices.view", "ra.start"]}
    )
    assert response.status_code == 302
    with app.app_context():
        role = db.session.query(Role).filter_by(name="Alpha Desk").one()
        assert role.organization_id == alpha.org_id
        assert role.builtin_key is None
        assert set(role.permissions) == {"devices.view", "ra.start"}


def test_unknown_permission_is_refused(app, alpha_admin):
    before = world(app)
    response = alpha_admin.submit(
        "/admin/roles/new/", {"name": "Alpha Root", "permission_set": ["everything"]}
    )
    assert response.status_code == 200
    assert field_errors(response.get_data(as_text=True))
    assert world(app) == before


def test_role_edit_form_shows_current_permissions(app, alpha_admin, alpha):
    html = alpha_admin.get(f"/admin/roles/edit/?id={alpha.custom_role_id}").get_data(as_text=True)
    assert 'selected value="devices.view"' in html or 'value="devices.view" selected' in html
    assert 'selected value="ra.start"' not in html and 'value="ra.start" selected' not in html
