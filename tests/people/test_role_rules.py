"""The no-escalation rules with roles limited to reporting groups (app.people.roles)."""

import pytest
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Role, RoleReportingGroup
from app.people.organizations import builtin_role, create_reporting_group
from app.people.permissions import ALL_PERMISSIONS
from app.people.role_rules import RoleChangeRefused, check_grant, check_role_edit
from app.people.roles import create_role, update_role
from app.people.users import membership_of
from tests import factories

OPERATOR_PERMS = {"devices.view", "ra.start"}


@pytest.fixture
def acme(app):
    """Acme with groups Office, Kiosks and Servers; yields inside an app context."""
    with app.app_context():
        org = factories.create_org("Acme")
        product = factories.product_of(org)
        groups = {
            "office": factories.group_of(org),
            "kiosks": create_reporting_group(product, "Kiosks"),
            "servers": create_reporting_group(product, "Servers"),
        }
        db.session.commit()
        yield org, {k: g.id for k, g in groups.items()}


def _lead(org, group_ids, perms=("roles.assign", "roles.manage", *OPERATOR_PERMS)):
    """A member whose role is limited to `group_ids` (None: unlimited)."""
    role = factories.create_role(org, f"Lead {len(group_ids or ())}", set(perms), group_ids)
    return factories.create_member_with(org, role)


def test_limited_member_cannot_grant_an_unlimited_role(acme):
    org, groups = acme
    lead = _lead(org, {groups["kiosks"]})
    with pytest.raises(RoleChangeRefused, match=r"covers every reporting group.*limited to Kiosks"):
        check_grant(lead, org.id, builtin_role(org.id, "operator"))


def test_limited_member_cannot_grant_a_role_covering_other_groups(acme):
    org, groups = acme
    lead = _lead(org, {groups["kiosks"]})
    wider = factories.create_role(
        org, "Kiosks and servers", OPERATOR_PERMS, {groups["kiosks"], groups["servers"]}
    )
    with pytest.raises(RoleChangeRefused, match=r"outside your own limit.*: Servers"):
        check_grant(lead, org.id, wider)


def test_limited_member_may_grant_a_role_within_their_groups(acme):
    org, groups = acme
    lead = _lead(org, {groups["kiosks"], groups["servers"]})
    narrower = factories.create_role(org, "Kiosk Operator", OPERATOR_PERMS, {groups["kiosks"]})
    target = membership_of(factories.create_member_with(org, narrower), org.id)
    check_grant(lead, org.id, narrower)  # does not raise
    same = factories.create_role(org, "Kiosk Viewer", {"devices.view"}, {groups["kiosks"]})
    check_grant(lead, org.id, same, target=target)


def test_limited_member_cannot_change_the_role_of_an_unlimited_member(acme):
    org, groups = acme
    lead = _lead(org, {groups["kiosks"]})
    narrower = factories.create_role(org, "Kiosk Viewer", {"devices.view"}, {groups["kiosks"]})
    unlimited = membership_of(factories.create_member(org, "operator"), org.id)
    with pytest.raises(RoleChangeRefused, match="change the role of someone who is Operator"):
        check_grant(lead, org.id, narrower, target=unlimited)


def test_limited_role_manager_cannot_create_or_widen_beyond_their_groups(acme):
    org, groups = acme
    lead = _lead(org, {groups["kiosks"]})
    with pytest.raises(RoleChangeRefused, match="covers every reporting group"):
        create_role(lead, org.id, "Everywhere", {"devices.view"}, None)
    with pytest.raises(RoleChangeRefused, match="outside your own limit"):
        create_role(lead, org.id, "Servers", {"devices.view"}, {groups["servers"]})
    role = create_role(lead, org.id, "Kiosk Viewer", {"devices.view"}, {groups["kiosks"]})
    with pytest.raises(RoleChangeRefused, match="outside your own limit"):
        update_role(lead, role, role.name, {"devices.view"}, {groups["kiosks"], groups["office"]})
    with pytest.raises(RoleChangeRefused, match="covers every reporting group"):
        update_role(lead, role, role.name, {"devices.view"}, None)
    db.session.rollback()


def test_limited_role_manager_cannot_add_permissions_to_an_unlimited_role(acme):
    org, groups = acme
    lead = _lead(org, {groups["kiosks"]})
    auditor = builtin_role(org.id, "auditor")
    # ra.start is the lead's, but on Kiosks only: giving it to every auditor is escalation.
    with pytest.raises(RoleChangeRefused, match="covers every reporting group"):
        check_role_edit(lead, auditor, {*auditor.permissions, "ra.start"})


def test_widening_a_role_needs_all_its_permissions(acme):
    org, groups = acme
    # Unlimited, but without ra.start.
    manager = _lead(org, None, perms=("roles.manage", "devices.view"))
    kiosk_operator = factories.create_role(
        org, "Kiosk Operator", OPERATOR_PERMS, {groups["kiosks"]}
    )
    with pytest.raises(RoleChangeRefused, match=r"widen Kiosk Operator.*ra.start"):
        check_role_edit(manager, kiosk_operator, OPERATOR_PERMS, None)
    # Narrowing is always allowed.
    check_role_edit(manager, kiosk_operator, OPERATOR_PERMS, set())


def test_nobody_changes_the_group_limit_of_their_own_role(acme):
    org, groups = acme
    lead = _lead(org, {groups["kiosks"], groups["servers"]})
    own = membership_of(lead, org.id).role
    with pytest.raises(RoleChangeRefused, match="your own role"):
        check_role_edit(lead, own, set(own.permissions), {groups["kiosks"]})


def test_organization_admin_role_cannot_be_limited(acme):
    org, groups = acme
    admin_role = builtin_role(org.id, "org_admin")
    platform = factories.create_platform_admin()
    with pytest.raises(RoleChangeRefused, match="covers every reporting group"):
        check_role_edit(platform, admin_role, ALL_PERMISSIONS, {groups["kiosks"]})
    # The database refuses it too.
    admin_role.limited_to_groups = True
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_role_managing_the_organization_cannot_be_limited(acme):
    org, groups = acme
    admin = factories.create_member(org, "org_admin")
    with pytest.raises(RoleChangeRefused, match=r"org.manage.*cannot be limited"):
        create_role(admin, org.id, "Kiosk admin", {"org.manage"}, {groups["kiosks"]})


def test_a_role_cannot_be_limited_to_another_organizations_group(app, acme):
    org, _ = acme
    other = factories.create_org("Other")
    admin = factories.create_member(org, "org_admin")
    with pytest.raises(RoleChangeRefused) as refused:
        create_role(admin, org.id, "Theirs", {"devices.view"}, {factories.group_of(other).id})
    assert refused.value.status == 404
    db.session.rollback()
    # The composite foreign key refuses the row itself.
    role = db.session.get(Role, builtin_role(org.id, "operator").id)
    db.session.add(
        RoleReportingGroup(
            role_id=role.id,
            reporting_group_id=factories.group_of(other).id,
            organization_id=org.id,
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_last_organization_admin_cannot_be_demoted_even_by_an_admin_equivalent(acme):
    org, _ = acme
    only_admin = membership_of(factories.create_member(org, "org_admin"), org.id)
    equal = factories.create_member_with(
        org, factories.create_role(org, "Shadow admin", ALL_PERMISSIONS)
    )
    with pytest.raises(RoleChangeRefused, match="last Organization Admin") as refused:
        check_grant(equal, org.id, builtin_role(org.id, "operator"), target=only_admin)
    assert refused.value.status == 409
