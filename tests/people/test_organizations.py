import pytest
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Device, Membership, ReportingGroup, Role
from app.people.permissions import ALL_PERMISSIONS, BUILTIN_ROLES
from tests import factories


def test_new_organization_gets_the_five_builtin_roles(app):
    with app.app_context():
        org = factories.create_org("Acme")
        roles = {r.builtin_key: r for r in db.session.query(Role).filter_by(organization_id=org.id)}
        assert set(roles) == set(BUILTIN_ROLES)
        assert set(roles["org_admin"].permissions) == ALL_PERMISSIONS
        assert {"devices.view", "ra.start"} <= set(roles["operator"].permissions)
        assert "roles.assign" in roles["helpdesk_lead"].permissions
        assert set(roles["auditor"].permissions) >= {"audit.view"}
        assert "ra.start" not in roles["auditor"].permissions
        assert "roles.manage" not in roles["product_owner"].permissions


def test_database_refuses_a_group_under_another_orgs_product(app):
    with app.app_context():
        a, b = factories.create_org("A"), factories.create_org("B")
        db.session.add(
            ReportingGroup(organization_id=a.id, product_id=factories.product_of(b).id, name="x")
        )
        with pytest.raises(IntegrityError):
            db.session.commit()


def test_database_refuses_a_membership_with_another_orgs_role(app):
    with app.app_context():
        a, b = factories.create_org("A"), factories.create_org("B")
        user = factories.create_member(a)
        foreign_role = db.session.query(Role).filter_by(organization_id=b.id).first()
        db.session.add(Membership(user_id=user.id, organization_id=a.id, role_id=foreign_role.id))
        with pytest.raises(IntegrityError):
            db.session.commit()


def test_database_refuses_a_device_in_another_orgs_group(app):
    with app.app_context():
        a, b = factories.create_org("A"), factories.create_org("B")
        db.session.add(
            Device(
                organization_id=a.id,
                reporting_group_id=factories.group_of(b).id,
                hardware_id="hw",
                hostname="PC",
                kind="physical",
            )
        )
        with pytest.raises(IntegrityError):
            db.session.commit()


def test_database_refuses_an_unknown_device_kind(app):
    with app.app_context():
        a = factories.create_org("A")
        db.session.add(
            Device(
                organization_id=a.id,
                reporting_group_id=factories.group_of(a).id,
                hardware_id="hw",
                hostname="PC",
                kind="toaster",
            )
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
