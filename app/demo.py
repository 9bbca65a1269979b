"""The demo organization that `make run` seeds on an empty database."""

from __future__ import annotations

import secrets
import string

from sqlalchemy import select

from app import audit
from app.agent_settings.service import SettingChange, apply_changes
from app.extensions import db
from app.models import Organization, Role
from app.people.organizations import (
    builtin_role,
    create_organization,
    create_product,
    create_reporting_group,
)
from app.people.permissions import BUILTIN_ROLES
from app.people.roles import describe_role
from app.people.users import add_membership, create_user

DEMO_ORG = "Acme"
DEMO_PRODUCT = "Workspaces"
DEMO_GROUPS = ("Head office", "Kiosks", "Servers", "Contractors")
PLATFORM_ADMIN_EMAIL = "admin@example.com"
# role key -> e-mail of the demo user holding it
DEMO_USERS = {
    "org_admin": "orgadmin@acme.example",
    "product_owner": "owner@acme.example",
    "helpdesk_lead": "lead@acme.example",
    "operator": "operator@acme.example",
    "auditor": "auditor@acme.example",
}
# A custom role limited to one reporting group, and the demo user holding it.
DEMO_LIMITED_ROLE = ("Kiosk Operator", frozenset({"devices.view", "ra.start"}), "Kiosks")
DEMO_LIMITED_USER = "kiosk.operator@acme.example"

_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


def generate_password(length: int = 16) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def demo_exists() -> bool:
    return (
        db.session.execute(select(Organization.id).where(Organization.name == DEMO_ORG)).first()
        is not None
    )


def seed_demo() -> list[tuple[str, str, str]] | None:
    """Create the demo; return (role, e-mail, password) rows, or None if it exists.
    Only hashes are stored: the returned passwords are the only copy."""
    if demo_exists():
        return None
    credentials = []
    password = generate_password()
    create_user(PLATFORM_ADMIN_EMAIL, password, name="Platform Admin", platform_admin=True)
    credentials.append(("Platform admin", PLATFORM_ADMIN_EMAIL, password))

    org = create_organization(DEMO_ORG)
    product = create_product(org, DEMO_PRODUCT)
    groups = {name: create_reporting_group(product, name) for name in DEMO_GROUPS}
    for key, email in DEMO_USERS.items():
        password = generate_password()
        role_name = BUILTIN_ROLES[key][0]
        user = create_user(email, password, name=f"Acme {role_name}")
        add_membership(user, org, builtin_role(org.id, key))
        credentials.append((role_name, email, password))
    configure_demo_settings(org, product, groups)
    role_name, _, group_name = DEMO_LIMITED_ROLE
    role = create_demo_limited_role(org, groups)
    password = generate_password()
    user = create_user(DEMO_LIMITED_USER, password, name=f"Acme {role_name}")
    add_membership(user, org, role)
    credentials.append((f"{role_name} ({group_name} only)", DEMO_LIMITED_USER, password))
    db.session.commit()
    return credentials


def create_demo_limited_role(org, groups) -> Role:
    """ "Kiosk Operator": sees and assists only the Kiosks devices."""
    name, perms, group_name = DEMO_LIMITED_ROLE
    role = Role(organization_id=org.id, name=name)
    role.set_permissions(perms)
    role.set_group_limit({groups[group_name].id})
    db.session.add(role)
    db.session.flush()
    audit.record(
        "role.created",
        organization_id=org.id,
        target=role,
        actor_label="demo seed",
        details={"role": describe_role(role), "via": "demo"},
    )
    return role


def configure_demo_settings(org, product, groups) -> None:
    """A realistic configuration: interactive and unattended by default, audio locked off,
    Head office with Flexxible Tools for Helpdesk Leads only, Kiosks dynamic, Servers
    unattended only, Contractors without remote assistance."""
    lead = builtin_role(org.id, "helpdesk_lead")
    apply_changes(
        product,
        [
            SettingChange("remote_assistance.types", ["interactive", "unattended"]),
            SettingChange("audio_redirection", False, enforced=True),
        ],
    )
    apply_changes(groups["Head office"], [SettingChange("flexxible_tools", True, lead.id)])
    apply_changes(groups["Kiosks"], [SettingChange("remote_assistance.types", ["dynamic"])])
    apply_changes(groups["Servers"], [SettingChange("remote_assistance.types", ["unattended"])])
    apply_changes(groups["Contractors"], [SettingChange("remote_assistance.types", [])])


def _user(key: str, name: str, state: str = "active", kind: str = "console") -> dict:
    return {"session_key": key, "username": name, "state": state, "kind": kind}


# The demo's simulated FlexxAgents, by reporting group: every rule of SPEC §4 shows.
DEMO_FLEET: dict[str, list[dict]] = {
    "Head office": [
        {"hostname": "LAPTOP-ANA", "sessions": [_user("1", "ACME\\ana")]},
        {"hostname": "LAPTOP-BEN", "sessions": [_user("1", "ACME\\ben")], "consent": "denied"},
        {
            "hostname": "LAPTOP-OLD",
            "os_name": "Windows 10",
            "os_version": "22H2",
            "agent_version": "23.5",
            "sessions": [_user("1", "ACME\\old")],
        },
        {
            "hostname": "VDI-HOST-01",
            "os_name": "Windows Server 2022",
            "os_version": "21H2",
            "kind": "shared_desktop",
            "environment": "vdi",
            "sessions": [
                _user("2", "ACME\\carla", kind="rdp"),
                _user("3", "ACME\\dan", "disconnected", "rdp"),
                _user("4", "ACME\\eva", kind="rdp"),
            ],
        },
        {"hostname": "OPS-PC-01", "sessions": [_user("1", "ACME\\operator")]},
    ],
    "Kiosks": [
        {"hostname": "KIOSK-LOBBY", "os_name": "Windows 11 IoT Enterprise", "kind": "kiosk"},
        {
            "hostname": "KIOSK-SHOP",
            "kind": "kiosk",
            "agent_version": "24.1",
            "sessions": [_user("1", "kiosk")],
        },
    ],
    "Servers": [
        {
            "hostname": "SRV-FILES-01",
            "os_name": "Windows Server 2022",
            "os_version": "21H2",
            "kind": "server",
        },
        {"hostname": "LNX-BUILD-01", "os_name": "Ubuntu", "os_version": "22.04", "kind": "server"},
    ],
    "Contractors": [
        {"hostname": "LAPTOP-CONTRACTOR", "sessions": [_user("1", "guest")]},
    ],
}


def demo_fleet_profiles() -> list[dict]:
    """Agent profiles for the demo fleet, each with a fresh single-day enrollment token of
    its group (the tokens exist only in the returned list and the simulator)."""
    from app.fleet.enrollment import create_enrollment_token
    from app.models import ReportingGroup

    org = db.session.execute(select(Organization).where(Organization.name == DEMO_ORG)).scalar_one()
    profiles = []
    for group_name, agents in DEMO_FLEET.items():
        group = db.session.execute(
            select(ReportingGroup).where(
                ReportingGroup.organization_id == org.id, ReportingGroup.name == group_name
            )
        ).scalar_one_or_none()
        if group is None:
            continue
        _, raw = create_enrollment_token(
            group, f"demo fleet ({group_name})", days=1, max_uses=len(agents)
        )
        profiles.extend({**agent, "enrollment_token": raw} for agent in agents)
    db.session.commit()
    return profiles
