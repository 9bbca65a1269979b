"""ra.manage: only the initiator, or a holder of ra.manage (Organization Admin, Helpdesk
Lead), ends or revokes an assistance, within the groups their role covers; leads see the
live assistances and force-end them, and the audit log says who ended whose."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEvent, Device, Organization, Role
from app.people.permissions import BUILTIN_ROLES
from tests import factories
from tests.assistance.helpers import assistance, ready_unattended, start

pytestmark = pytest.mark.usefixtures("as_worker")


def _end(client, world, assistance_id, who, **body):
    return client.post(
        f"/api/v1/assistances/{assistance_id}/end", headers=world["tokens"][who], json=body
    )


def _second_operator(app, world):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        return factories.api_headers(factories.create_member(org, "operator"), org)


@pytest.mark.parametrize("revoke", [False, True])
def test_another_operator_cannot_end_or_revoke(app, client, world, revoke):
    assistance_id, *_ = ready_unattended(app, client, world)
    other = _second_operator(app, world)
    response = client.post(
        f"/api/v1/assistances/{assistance_id}/end", headers=other, json={"revoke": revoke}
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "not_initiator"
    assert assistance(app, assistance_id).state == "ready"


def test_a_lead_force_ends_and_the_audit_names_who_ended_whose(app, client, world):
    assistance_id, *_ = ready_unattended(app, client, world)
    response = _end(client, world, assistance_id, "lead", revoke=True)
    assert response.status_code == 200, response.get_json()
    ended = response.get_json()
    assert ended["state"] == "cancelled"
    assert ended["end_reason"] == "revoked by lead@acme.example"
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "assistance.revoked")
        ).scalar_one()
        assert event.actor == "lead@acme.example"
        assert event.details["forced"] is True
        assert event.details["initiator"] == {
            "id": world["operator_id"],
            "name": "operator@acme.example",
        }


def test_the_initiator_ends_their_own_without_ra_manage(app, client, world):
    assistance_id, *_ = ready_unattended(app, client, world)
    response = _end(client, world, assistance_id, "operator")
    assert response.status_code == 200
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "assistance.ended")
        ).scalar_one()
        assert event.details["forced"] is False


def test_a_group_limited_lead_cannot_see_other_groups_assistances(app, client, world):
    assistance_id, *_ = ready_unattended(app, client, world)  # on SRV-1, group Servers
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        kiosks = db.session.get(Device, world["kiosk"]).reporting_group_id
        role = factories.create_role(
            org, "Kiosk leads", {"devices.view", "ra.start", "ra.manage"}, [kiosks]
        )
        headers = factories.api_headers(factories.create_member_with(org, role), org)
    assert (
        client.post(f"/api/v1/assistances/{assistance_id}/end", headers=headers).status_code == 404
    )
    assert client.get(f"/api/v1/assistances/{assistance_id}", headers=headers).status_code == 404
    listed = client.get("/api/v1/assistances?live=1", headers=headers).get_json()
    assert listed["items"] == [] and listed["total"] == 0
    assert assistance(app, assistance_id).state == "ready"


def test_the_api_lists_live_assistances_for_leads(app, client, world):
    live_id, *_ = ready_unattended(app, client, world)
    ended = start(client, world, "laptop", "interactive")
    assert _end(client, world, ended["id"], "operator").status_code == 200
    listed = client.get("/api/v1/assistances?live=1", headers=world["tokens"]["lead"])
    assert listed.status_code == 200
    body = listed.get_json()
    assert [a["id"] for a in body["items"]] == [live_id] and body["total"] == 1
    item = body["items"][0]
    assert item["operator"]["name"] == "operator@acme.example"
    assert item["device"]["hostname"] == "SRV-1" and item["state"] == "ready"
    assert item["state_since"]
    everything = client.get("/api/v1/assistances", headers=world["tokens"]["lead"]).get_json()
    assert everything["total"] == 2
    bad = client.get("/api/v1/assistances?state=sleeping", headers=world["tokens"]["lead"])
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "state"


def test_leads_force_end_from_the_live_assistances_page(app, client, world, make_browser):
    assistance_id, *_ = ready_unattended(app, client, world)
    lead = make_browser()
    assert lead.login("lead@acme.example", factories.PASSWORD).status_code == 302
    page = lead.get("/workspaces/live-assistances")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "SRV-1" in html and "operator@acme.example" in html and "Force end" in html
    confirm_url = f"/workspaces/assistances/{assistance_id}/end?back=live"
    confirm = lead.get(confirm_url)
    assert confirm.status_code == 200 and "End the assistance" in confirm.get_data(as_text=True)
    done = lead.submit(confirm_url, {"back": "live"}, post_url=confirm_url.split("?")[0])
    assert done.status_code == 302 and done.headers["Location"].endswith(
        "/workspaces/live-assistances"
    )
    assert assistance(app, assistance_id).state == "cancelled"
    after = lead.get("/workspaces/live-assistances").get_data(as_text=True)
    assert "Ended the assistance of operator@acme.example on SRV-1" in after
    assert "No live assistances" in after


def test_operators_get_no_live_view_and_cannot_force_end_from_the_page(
    app, client, world, make_browser
):
    assistance_id, *_ = ready_unattended(app, client, world)
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        email = factories.create_member(org, "operator").email
    other = make_browser()
    assert other.login(email, factories.PASSWORD).status_code == 302
    assert other.get("/workspaces/live-assistances").status_code == 403
    url = f"/workspaces/assistances/{assistance_id}/end"
    assert other.get(url).status_code == 403
    refused = other.submit(f"/workspaces/assistances/{assistance_id}", {}, post_url=url)
    assert refused.status_code == 403
    assert "ra.manage" in refused.get_data(as_text=True)
    assert assistance(app, assistance_id).state == "ready"


def test_builtin_leads_and_admins_hold_ra_manage_operators_do_not():
    assert "ra.manage" in BUILTIN_ROLES["org_admin"][1]
    assert "ra.manage" in BUILTIN_ROLES["helpdesk_lead"][1]
    assert "ra.manage" not in BUILTIN_ROLES["operator"][1]


def test_the_migration_gives_existing_builtin_leads_ra_manage(app, world):
    """Organizations created before the permission existed get it on their built-in Admin
    and Lead roles, and nowhere else."""
    with app.app_context():
        db.session.execute(text("DELETE FROM role_permissions WHERE permission = 'ra.manage'"))
        db.session.commit()
        downgrade(revision="d11_ra_manage-1")
        upgrade()
        holders = db.session.execute(
            select(Role.builtin_key)
            .join(Role.permission_rows)
            .where(Role.organization_id == world["org"])
            .where(text("role_permissions.permission = 'ra.manage'"))
        ).scalars()
        assert sorted(holders) == ["helpdesk_lead", "org_admin"]
