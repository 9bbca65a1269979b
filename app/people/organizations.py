"""Organizations, products and reporting groups."""

from __future__ import annotations

import re

from app import audit
from app.extensions import db
from app.models import Organization, Product, ReportingGroup, Role
from app.people.permissions import BUILTIN_ROLES


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:64] or "org"


def create_builtin_roles(org: Organization) -> list[Role]:
    roles = []
    for key, (name, perms) in BUILTIN_ROLES.items():
        role = Role(organization=org, name=name, builtin_key=key)
        role.set_permissions(perms)
        db.session.add(role)
        roles.append(role)
    return roles


def create_organization(name: str, slug: str | None = None) -> Organization:
    """Create an organization with its five built-in roles (caller commits)."""
    org = Organization(name=name, slug=slug or slugify(name))
    db.session.add(org)
    create_builtin_roles(org)
    db.session.flush()
    audit.record("organization.created", organization_id=org.id, target=org, details={"name": name})
    return org


def builtin_role(org_id: int, key: str) -> Role:
    return db.session.execute(
        db.select(Role).where(Role.organization_id == org_id, Role.builtin_key == key)
    ).scalar_one()


def create_product(org: Organization, name: str) -> Product:
    product = Product(organization=org, name=name)
    db.session.add(product)
    db.session.flush()
    audit.record("product.created", organization_id=org.id, target=product, details={"name": name})
    return product


def create_reporting_group(product: Product, name: str) -> ReportingGroup:
    group = ReportingGroup(organization_id=product.organization_id, product=product, name=name)
    db.session.add(group)
    db.session.flush()
    audit.record(
        "reporting_group.created",
        organization_id=product.organization_id,
        target=group,
        details={"name": name, "product": product.name},
    )
    return group
