"""Small builders for tests (call inside an app context; they commit)."""

from __future__ import annotations

import itertools

from app.extensions import db
from app.models import Device, Organization, Product, ReportingGroup, Role, User
from app.people.organizations import (
    builtin_role,
    create_organization,
    create_product,
    create_reporting_group,
)
from app.people.users import add_membership, create_user

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def create_org(name: str | None = None) -> Organization:
    """An organization with its five built-in roles, a product and one reporting group."""
    org = create_organization(name or f"Org {next(_seq)}")
    product = create_product(org, "Workspaces")
    create_reporting_group(product, f"{org.name} group")
    db.session.commit()
    return org


def product_of(org: Organization) -> Product:
    return db.session.query(Product).filter_by(organization_id=org.id).first()


def group_of(org: Organization) -> ReportingGroup:
    return db.session.query(ReportingGroup).filter_by(organization_id=org.id).first()


def create_member(
    org: Organization,
    role_key: str = "operator",
    email: str | None = None,
    password: str = PASSWORD,
) -> User:
    user = create_user(email or f"user{next(_seq)}@{org.slug}.example", password)
    add_membership(user, org, builtin_role(org.id, role_key))
    db.session.commit()
    return user


def create_platform_admin(email: str = "root@example.com") -> User:
    user = create_user(email, PASSWORD, platform_admin=True)
    db.session.commit()
    return user


def create_device(org: Organization, hostname: str | None = None, **fields) -> Device:
    n = next(_seq)
    fields = {"os_name": "Windows 11", "agent_version": "24.10.1", **fields}
    device = Device(
        organization_id=org.id,
        reporting_group_id=group_of(org).id,
        hardware_id=f"hw-{n}",
        hostname=hostname or f"PC-{n:04d}",
        **fields,
    )
    db.session.add(device)
    db.session.commit()
    return device


def create_role(
    org: Organization, name: str, permissions, group_ids=None, builtin_key: str | None = None
) -> Role:
    """A role of `org` with `permissions`, limited to `group_ids` (None: all groups)."""
    role = Role(organization_id=org.id, name=name, builtin_key=builtin_key)
    role.set_permissions(permissions)
    role.set_group_limit(group_ids)
    db.session.add(role)
    db.session.commit()
    return role


def create_member_with(org: Organization, role: Role, email: str | None = None) -> User:
    """A member of `org` holding `role` (any role, custom ones included)."""
    user = create_user(email or f"user{next(_seq)}@{org.slug}.example", PASSWORD)
    add_membership(user, org, role)
    db.session.commit()
    return user


def api_headers(user: User, org: Organization) -> dict[str, str]:
    """Bearer headers of a fresh personal API token of `user` in `org`."""
    from app.people import api_tokens

    _, raw = api_tokens.create_token(user, org.id, "tests", 30)
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def create_assistance(
    org_id: int, device_id: int, operator_id: int, state="ready", type_="unattended", **fields
):
    """An assistance row in `state` (no order, no file): for pages and counts."""
    from app.models import Assistance

    a = Assistance(
        organization_id=org_id,
        device_id=device_id,
        operator_id=operator_id,
        requested_type=fields.pop("requested_type", type_),
        type=type_,
        state=state,
        sid=fields.pop("sid", "987654321"),
        **fields,
    )
    db.session.add(a)
    db.session.commit()
    return a.id


def agent_facts(hardware_id: str = "hw-1", hostname: str = "PC-1", **overrides) -> dict:
    """What a Windows 11 FlexxAgent sends to enroll, but the enrollment token."""
    return {
        "hardware_id": hardware_id,
        "hostname": hostname,
        "os_name": "Windows 11",
        "os_version": "23H2",
        "agent_version": "24.10.1",
        "device_kind": "physical",
        **overrides,
    }
