"""A small world for assistance tests: Acme with groups configured like the demo, devices
that checked in, an operator with an API token, and a signing key."""

from __future__ import annotations

import pytest

from app.agent_settings.service import SettingChange, apply_changes
from app.extensions import db
from app.models import Device, DeviceSession, Organization, utcnow
from app.people import api_tokens
from app.people.organizations import builtin_role, create_reporting_group
from tests import factories


def add_device(
    org,
    group,
    hostname,
    *,
    os_name="Windows 11",
    agent="24.10.1",
    sessions=(),
    online=True,
    environment="prod",
    kind="physical",
):
    device = factories.create_device(
        org,
        hostname,
        os_name=os_name,
        agent_version=agent,
        environment=environment,
        kind=kind,
        agent_instance_id="instance-1",
        last_checkin_at=utcnow() if online else None,
    )
    device.reporting_group_id = group.id
    for key, user, state in sessions:
        db.session.add(
            DeviceSession(
                organization_id=org.id,
                device_id=device.id,
                session_key=key,
                username=user,
                state=state,
                kind="console",
            )
        )
    db.session.commit()
    return device.id


@pytest.fixture
def world(app):
    with app.app_context():
        org = factories.create_org("Acme")
        product = factories.product_of(org)
        office = factories.group_of(org)
        kiosks = create_reporting_group(product, "Kiosks")
        servers = create_reporting_group(product, "Servers")
        closed = create_reporting_group(product, "Closed")
        apply_changes(
            product, [SettingChange("remote_assistance.types", ["interactive", "unattended"])]
        )
        apply_changes(kiosks, [SettingChange("remote_assistance.types", ["dynamic"])])
        apply_changes(closed, [SettingChange("remote_assistance.types", [])])
        lead = builtin_role(org.id, "helpdesk_lead")
        apply_changes(office, [SettingChange("flexxible_tools", True, lead.id)])
        db.session.commit()
        ids = {
            "org": org.id,
            "laptop": add_device(org, office, "LAPTOP-1", sessions=[("1", "ana", "active")]),
            "multi": add_device(
                org, office, "VDI-1", sessions=[("1", "a", "active"), ("2", "b", "active")]
            ),
            "nosession": add_device(org, office, "PC-EMPTY"),
            "server": add_device(org, servers, "SRV-1", os_name="Windows Server 2022"),
            "linux": add_device(org, servers, "LNX-1", os_name="Ubuntu"),
            "old": add_device(org, office, "OLD-1", agent="23.5", sessions=[("1", "o", "active")]),
            "kiosk": add_device(org, kiosks, "KIOSK-1"),
            "kiosk_user": add_device(org, kiosks, "KIOSK-2", sessions=[("1", "k", "active")]),
            "kiosk_old": add_device(org, kiosks, "KIOSK-OLD", agent="24.1"),
            "offline": add_device(
                org, office, "PC-OFF", online=False, sessions=[("1", "z", "active")]
            ),
            "closed": add_device(org, closed, "PC-CLOSED", sessions=[("1", "c", "active")]),
            "opsdev": add_device(org, office, "OPS-PC", sessions=[("1", "op", "active")]),
        }
        operator = factories.create_member(org, "operator", email="operator@acme.example")
        lead_user = factories.create_member(org, "helpdesk_lead", email="lead@acme.example")
        auditor = factories.create_member(org, "auditor", email="auditor@acme.example")
        tokens = {}
        for name, user in (("operator", operator), ("lead", lead_user), ("auditor", auditor)):
            _, raw = api_tokens.create_token(user, org.id, "tests")
            tokens[name] = {"Authorization": f"Bearer {raw}"}
        db.session.commit()
        ids["tokens"] = tokens
        ids["operator_id"] = operator.id
        ids["lead_id"] = lead_user.id
        return ids


@pytest.fixture
def as_worker(app):
    """Let this (test) process sign, as the worker does."""
    app.config["PROCESS_ROLE"] = "worker"
    yield
    app.config["PROCESS_ROLE"] = "web"


def org_of(org_id):
    return db.session.get(Organization, org_id)


def device(device_id):
    return db.session.get(Device, device_id)
