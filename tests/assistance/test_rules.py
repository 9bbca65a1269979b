"""Every refusal of SPEC §4 through the API, with its own code and a message saying why."""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Device, Organization
from tests import factories

# (device, requested type, expected code) — the device page and the API show the same.
REFUSALS = [
    ("linux", "unattended", "not_windows"),
    ("old", "interactive", "agent_too_old"),
    ("kiosk_old", "dynamic", "agent_too_old_for_dynamic"),
    ("closed", "interactive", "ra_disabled"),
    ("kiosk", "unattended", "dynamic_only"),
    ("kiosk_user", "interactive", "dynamic_only"),
    ("laptop", "dynamic", "type_not_enabled"),
    ("offline", "interactive", "device_offline"),
    ("nosession", "interactive", "no_active_session"),
    ("multi", "interactive", "session_required"),
    ("multi", "dynamic", "type_not_enabled"),
]

# What a start asks for where the group and role have no governance settings.
NO_GOVERNANCE = {"approval_required": False, "reason_required": False}


@pytest.mark.parametrize(("device", "ra_type", "code"), REFUSALS)
def test_refusals_have_their_own_code_and_message(client, world, device, ra_type, code):
    response = client.post(
        "/api/v1/assistances",
        headers=world["tokens"]["operator"],
        json={"device_id": world[device], "type": ra_type},
    )
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 20
    shown = client.get(
        f"/api/v1/devices/{world[device]}", headers=world["tokens"]["operator"]
    ).get_json()["remote_assistance"]
    assert shown[ra_type] == {
        "available": False,
        "code": code,
        "message": error["message"],
        **NO_GOVERNANCE,
    }


def test_role_without_ra_start_is_refused_by_the_rule_with_its_own_code(app, client, world):
    response = client.post(
        "/api/v1/assistances",
        headers=world["tokens"]["auditor"],
        json={"device_id": world["laptop"], "type": "interactive"},
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "ra_not_permitted"
    assert "ra.start" in response.get_json()["error"]["message"]
    with app.app_context():
        refused = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "assistance.refused")
        ).scalar_one()
        assert refused.details["code"] == "ra_not_permitted"


def test_a_role_with_no_device_rights_gets_ra_not_permitted_too(app, client, world):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        role = factories.create_role(org, "Readers", {"audit.view"})
        headers = factories.api_headers(factories.create_member_with(org, role), org)
    response = client.post(
        "/api/v1/assistances",
        headers=headers,
        json={"device_id": world["laptop"], "type": "unattended"},
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "ra_not_permitted"


def test_without_ra_start_a_device_outside_ones_groups_is_still_404(app, client, world):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        kiosks = db.session.get(Device, world["kiosk"]).reporting_group_id
        role = factories.create_role(org, "Kiosk viewers", {"devices.view"}, [kiosks])
        headers = factories.api_headers(factories.create_member_with(org, role), org)
    for device, status in (("laptop", 404), ("kiosk", 403)):
        response = client.post(
            "/api/v1/assistances",
            headers=headers,
            json={"device_id": world[device], "type": "dynamic"},
        )
        assert response.status_code == status, device


def test_device_api_shows_what_can_start(client, world):
    shown = client.get(
        f"/api/v1/devices/{world['laptop']}", headers=world["tokens"]["operator"]
    ).get_json()["remote_assistance"]
    assert shown["interactive"] == {"available": True, **NO_GOVERNANCE}
    assert shown["unattended"] == {"available": True, **NO_GOVERNANCE}
    assert shown["dynamic"]["code"] == "type_not_enabled"


def test_bad_requests_are_400(client, world):
    headers = world["tokens"]["operator"]
    for body in (
        {"type": "interactive"},
        {"device_id": "x", "type": "interactive"},
        {"device_id": world["laptop"]},
        [],
        {"device_id": world["laptop"], "session_id": 1, "type": "interactive"},
    ):
        response = client.post("/api/v1/assistances", headers=headers, json=body)
        assert response.status_code == 400, body
    unknown = client.post(
        "/api/v1/assistances",
        headers=headers,
        json={"device_id": world["laptop"], "type": "remote"},
    )
    assert unknown.status_code == 400
    assert unknown.get_json()["error"]["code"] == "unknown_type"


def test_a_start_names_exactly_one_target_and_null_is_not_absent(client, world):
    headers = world["tokens"]["operator"]
    for body in (
        {"device_id": None, "type": "unattended"},
        {"device_id": world["server"], "session_id": None, "type": "unattended"},
        {"device_id": world["server"], "operator_device_id": None, "type": "unattended"},
    ):
        response = client.post("/api/v1/assistances", headers=headers, json=body)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["code"] == "invalid_field"
