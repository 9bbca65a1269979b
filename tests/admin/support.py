"""Two organizations with a bit of everything, and helpers to read admin pages."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Membership, Organization, Product, ReportingGroup, Role
from app.people.organizations import create_product, create_reporting_group
from app.people.users import membership_of
from tests import factories

# The Flask-Admin endpoints of tenant-owned rows, as registered in app/admin/__init__.py.
TENANT_ENDPOINTS = ("products", "reporting_groups", "memberships", "roles")
PLATFORM_ENDPOINTS = ("organizations", "users")


@dataclass(frozen=True)
class Tenant:
    """Ids and names of one organization's rows (never ORM objects: no app context is
    held across requests)."""

    org_id: int
    name: str
    admin_email: str
    operator_email: str
    workspaces_id: int  # the factory's product, with the main reporting group
    kiosks_id: int  # a second product, with the "Lobby" group
    spare_id: int  # a product without groups (deletable)
    main_group_id: int
    lobby_group_id: int
    custom_role_id: int  # "<name> Night Shift", held by nobody
    role_ids: dict[str, int]  # built-in key -> id
    admin_membership_id: int
    operator_membership_id: int

    @property
    def product_names(self) -> tuple[str, ...]:
        return ("Workspaces", f"{self.name} Kiosks", f"{self.name} Spare")

    @property
    def own_names(self) -> tuple[str, ...]:
        """Names that appear in this organization only (the other one has its own)."""
        return (
            f"{self.name} Kiosks",
            f"{self.name} Spare",
            f"{self.name} group",
            f"{self.name} Lobby",
            f"{self.name} Night Shift",
            self.admin_email,
            self.operator_email,
        )


def build_tenant(name: str) -> Tenant:
    """Call inside an app context."""
    org = factories.create_org(name)
    workspaces = factories.product_of(org)
    kiosks = create_product(org, f"{name} Kiosks")
    spare = create_product(org, f"{name} Spare")
    lobby = create_reporting_group(kiosks, f"{name} Lobby")
    custom = Role(organization=org, name=f"{name} Night Shift")
    custom.set_permissions({"devices.view"})
    db.session.add(custom)
    db.session.commit()
    slug = org.slug
    admin = factories.create_member(org, "org_admin", email=f"admin@{slug}.example")
    operator = factories.create_member(org, "operator", email=f"operator@{slug}.example")
    roles = db.session.scalars(
        select(Role).where(Role.organization_id == org.id, Role.builtin_key.is_not(None))
    )
    return Tenant(
        org_id=org.id,
        name=name,
        admin_email=admin.email,
        operator_email=operator.email,
        workspaces_id=workspaces.id,
        kiosks_id=kiosks.id,
        spare_id=spare.id,
        main_group_id=factories.group_of(org).id,
        lobby_group_id=lobby.id,
        custom_role_id=custom.id,
        role_ids={r.builtin_key: r.id for r in roles},
        admin_membership_id=membership_of(admin, org.id).id,
        operator_membership_id=membership_of(operator, org.id).id,
    )


def add_member(app, tenant: Tenant, role_key: str) -> str:
    """A new member of `tenant` holding the built-in role `role_key`; returns the e-mail."""
    with app.app_context():
        return factories.create_member(db.session.get(Organization, tenant.org_id), role_key).email


def world(app) -> dict[str, list[tuple]]:
    """Every tenant-owned row of every organization, to compare before and after."""
    with app.app_context():
        return {
            "products": [
                (p.id, p.organization_id, p.name)
                for p in db.session.scalars(select(Product).order_by(Product.id))
            ],
            "groups": [
                (g.id, g.organization_id, g.product_id, g.name)
                for g in db.session.scalars(select(ReportingGroup).order_by(ReportingGroup.id))
            ],
            "roles": [
                (r.id, r.organization_id, r.name, tuple(sorted(r.permissions)))
                for r in db.session.scalars(select(Role).order_by(Role.id))
            ],
            "memberships": [
                (m.id, m.organization_id, m.user_id, m.role_id)
                for m in db.session.scalars(select(Membership).order_by(Membership.id))
            ],
            "audit_events": [
                (e.id, e.chain, e.action)
                for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            ],
        }


def audit_events(app, action: str | None = None) -> list[dict]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return [
            {
                "organization_id": e.organization_id,
                "chain": e.chain,
                "action": e.action,
                "actor": e.actor,
                "target_type": e.target_type,
                "target_id": e.target_id,
                "details": e.details,
            }
            for e in db.session.scalars(query)
        ]


def count_rows(app, model, **where) -> int:
    with app.app_context():
        query = select(func.count()).select_from(model)
        for attr, value in where.items():
            query = query.where(getattr(model, attr) == value)
        return db.session.scalar(query)


def post(browser, url: str, data: dict, **kw):
    """POST as a signed-in browser would, with the session's CSRF token (taken from the
    portal home page, which every signed-in user can open)."""
    return browser.submit("/", data, post_url=url, **kw)


LIST_COUNT_RE = re.compile(r'class="nav-link active">List(?: \((\d+)\))?</a>')


def list_count(html: str) -> int:
    """The row count Flask-Admin shows on the list tab ("List (7)")."""
    match = LIST_COUNT_RE.search(html)
    assert match, "no list tab in page"
    return int(match.group(1) or 0)


def select_options(html: str, name: str) -> dict[str, str]:
    """value -> label of the options of `<select name=name>`."""
    match = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert match, f"no select named {name}"
    return {
        value: label.strip()
        for value, label in re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)<', match[1])
    }


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def field_errors(html: str) -> list[str]:
    """The validation messages Flask-Admin shows under form fields."""
    blocks = re.findall(r'class="invalid-feedback">(.*?)</ul>', html, re.S)
    return [m.strip() for block in blocks for m in re.findall(r"<li>(.*?)</li>", block, re.S)]


def hidden_inputs(html: str, form_start: str, containing: str = "") -> list[tuple[str, str]]:
    """(name, value) of the hidden inputs of the first form whose opening tag contains
    `form_start` and whose body contains `containing`, in page order: what a browser sends
    besides the visible fields."""
    forms = re.findall(rf"<form[^>]*{re.escape(form_start)}[^>]*>(.*?)</form>", html, re.S)
    body = next((f for f in forms if containing in f), None)
    assert body is not None, f"no form matching {form_start!r} containing {containing!r}"
    pairs = []
    for tag in re.findall(r"<input[^>]*>", body):
        if 'type="hidden"' in tag and (name := re.search(r'name="([^"]+)"', tag)):
            value = re.search(r'value="([^"]*)"', tag)
            pairs.append((name[1], value[1] if value else ""))
    return pairs
