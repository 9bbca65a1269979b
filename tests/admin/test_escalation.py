"""No escalation through the admin: role grants, role edits, removals, existing accounts."""

from sqlalchemy import select

from app.extensions import db
from app.models import Device, Membership, Role
from app.people.permissions import ALL_PERMISSIONS
from tests import factories
from tests.admin.support import add_member, post, world


def _custom_role(app, org_id, perms, name="Custom"):
    with app.app_context():
        role = Role(organization_id=org_id, name=name)
        role.set_permissions(perms)
        db.session.add(role)
        db.session.commit()
        return role.id


def _signed_in_as(app, make_browser, tenant, perms):
    """A member of `tenant` holding a custom role with `perms`; returns (browser, membership id)."""
    role_id = _custom_role(app, tenant.org_id, perms, "Limited")
    with app.app_context():
        email = add_member(app, tenant, "operator")
        membership = db.session.execute(
            select(Membership).join(Membership.user).where(Membership.user.has(email=email))
        ).scalar_one()
        membership.role_id = role_id
        db.session.commit()
        membership_id = membership.id
    browser = make_browser()
    assert browser.login(email, factories.PASSWORD).status_code == 302
    return browser, membership_id


def test_users_manager_cannot_grant_a_stronger_role(app, make_browser, alpha):
    browser, _ = _signed_in_as(app, make_browser, alpha, {"users.manage", "devices.view"})
    before = world(app)
    html = post(
        browser,
        f"/admin/memberships/edit/?id={alpha.operator_membership_id}",
        {"role": str(alpha.role_ids["org_admin"])},
    ).get_data(as_text=True)
    assert "holds permissions you do not have" in html or "You cannot" in html
    assert world(app) == before


def test_users_manager_cannot_add_a_member_with_a_stronger_role(app, make_browser, alpha):
    browser, _ = _signed_in_as(app, make_browser, alpha, {"users.manage", "devices.view"})
    before = world(app)
    response = post(
        browser,
        "/admin/memberships/new/",
        {
            "email": "new@alpha.example",
            "name": "New",
            "password": "a long enough password",
            "role": str(alpha.role_ids["org_admin"]),
        },
    )
    assert "holds permissions you do not have" in response.get_data(as_text=True)
    assert world(app) == before


def test_nobody_changes_their_own_role(app, alpha_admin, alpha):
    before = world(app)
    html = post(
        alpha_admin,
        f"/admin/memberships/edit/?id={alpha.admin_membership_id}",
        {"role": str(alpha.role_ids["operator"])},
    ).get_data(as_text=True)
    assert "You cannot change your own role" in html
    assert world(app) == before


def test_last_organization_admin_cannot_be_demoted_or_removed(app, make_browser, alpha):
    # A second admin tries to demote the first, then the first is alone again.
    second = add_member(app, alpha, "org_admin")
    browser = make_browser()
    browser.login(second, factories.PASSWORD)
    ok = post(
        browser,
        f"/admin/memberships/edit/?id={alpha.admin_membership_id}",
        {"role": str(alpha.role_ids["operator"])},
    )
    assert ok.status_code == 302  # two admins: demoting one is fine
    with app.app_context():
        last = (
            db.session.execute(
                select(Membership).join(Membership.user).where(Membership.user.has(email=second))
            )
            .scalar_one()
            .id
        )
    # The remaining admin is now the last one; a platform admin cannot remove them either.
    with app.app_context():
        factories.create_platform_admin()
    platform = make_browser()
    platform.login("root@example.com", factories.PASSWORD)
    before = world(app)
    html = post(
        platform, "/admin/memberships/delete/", {"id": str(last)}, follow_redirects=True
    ).get_data(as_text=True)
    assert "last Organization Admin" in html
    html = post(
        platform, f"/admin/memberships/edit/?id={last}", {"role": str(alpha.role_ids["operator"])}
    ).get_data(as_text=True)
    assert "last Organization Admin" in html
    assert world(app) == before


def test_role_manager_cannot_add_permissions_they_lack_or_edit_their_own_role(
    app, make_browser, alpha
):
    browser, membership_id = _signed_in_as(
        app, make_browser, alpha, {"roles.manage", "devices.view"}
    )
    with app.app_context():
        own_role = db.session.get(Membership, membership_id).role_id
    before = world(app)
    html = post(
        browser,
        f"/admin/roles/edit/?id={alpha.custom_role_id}",
        {"name": "Night Shift+", "permission_set": ["ra.start"]},
    ).get_data(as_text=True)
    assert "holds permissions you do not have" in html
    html = post(
        browser,
        f"/admin/roles/edit/?id={own_role}",
        {"name": "Limited", "permission_set": ["roles.manage"]},
    ).get_data(as_text=True)
    assert "your own role" in html
    html = post(
        browser,
        "/admin/roles/new/",
        {"name": "Shadow admin", "permission_set": sorted(ALL_PERMISSIONS)},
    ).get_data(as_text=True)
    assert "holds permissions you do not have" in html
    assert world(app) == before


def test_org_admin_cannot_pull_an_existing_account_into_their_org(app, alpha_admin, alpha, bravo):
    before = world(app)
    html = post(
        alpha_admin,
        "/admin/memberships/new/",
        {"email": bravo.admin_email, "role": str(alpha.role_ids["operator"])},
    ).get_data(as_text=True)
    assert "cannot be added here" in html
    assert world(app) == before


def test_deleting_a_product_with_groups_says_why_without_sql(app, alpha_admin, alpha):
    before = world(app)
    html = post(
        alpha_admin,
        "/admin/products/delete/",
        {"id": str(alpha.workspaces_id)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "still has 1 reporting group(s)" in html
    assert "INSERT" not in html and "DELETE" not in html and "SELECT" not in html
    assert world(app) == before


def test_deleting_a_group_with_devices_says_why(app, alpha_admin, alpha):
    with app.app_context():
        from app.models import Organization

        factories.create_device(db.session.get(Organization, alpha.org_id))
        assert db.session.query(Device).one().reporting_group_id == alpha.main_group_id
    before = world(app)
    html = post(
        alpha_admin,
        "/admin/reporting_groups/delete/",
        {"id": str(alpha.main_group_id)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "still has 1 device(s)" in html
    assert world(app) == before
