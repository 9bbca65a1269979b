"""Assigning roles (`roles.assign`, the helpdesk lead's job) on Settings → People and
through `PUT /api/v1/members/<id>/role`: every escalation attempt is refused and says why."""

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Membership, Organization
from app.people.organizations import builtin_role, create_reporting_group
from app.people.permissions import ALL_PERMISSIONS
from app.people.users import membership_of
from tests import factories
from tests.admin.support import world


@dataclass(frozen=True)
class People:
    org: int
    kiosks: int
    roles: dict[str, int]
    kiosk_role: int
    lead: str
    lead_membership: int
    lead_headers: dict
    admin_membership: int
    admin_headers: dict
    operator_membership: int
    auditor_membership: int
    other_membership: int  # a member of another organization
    other_role: int


ROLE_KEYS = ("org_admin", "product_owner", "helpdesk_lead", "operator", "auditor")


@pytest.fixture
def people(app):
    with app.app_context():
        org = factories.create_org("Acme")
        kiosks = create_reporting_group(factories.product_of(org), "Kiosks")
        db.session.commit()
        kiosk_role = factories.create_role(
            org, "Kiosk Operator", {"devices.view", "ra.start"}, {kiosks.id}
        )
        admin = factories.create_member(org, "org_admin")
        lead = factories.create_member(org, "helpdesk_lead")
        operator = factories.create_member(org, "operator")
        auditor = factories.create_member(org, "auditor")
        other = factories.create_org("Other")
        stranger = factories.create_member(other, "operator")
        return People(
            org=org.id,
            kiosks=kiosks.id,
            roles={k: builtin_role(org.id, k).id for k in ROLE_KEYS},
            kiosk_role=kiosk_role.id,
            lead=lead.email,
            lead_membership=membership_of(lead, org.id).id,
            lead_headers=factories.api_headers(lead, org),
            admin_membership=membership_of(admin, org.id).id,
            admin_headers=factories.api_headers(admin, org),
            operator_membership=membership_of(operator, org.id).id,
            auditor_membership=membership_of(auditor, org.id).id,
            other_membership=membership_of(stranger, other.id).id,
            other_role=builtin_role(other.id, "auditor").id,
        )


@pytest.fixture
def lead(make_browser, people):
    browser = make_browser()
    assert browser.login(people.lead, factories.PASSWORD).status_code == 302
    return browser


def _role_of(app, membership_id):
    with app.app_context():
        return db.session.get(Membership, membership_id).role_id


def _assign(browser, membership_id, role_id):
    return browser.submit(
        "/settings/people",
        {"role_id": str(role_id)},
        post_url=f"/settings/people/{membership_id}/role",
    )


def test_people_page_lists_members_with_their_roles(lead, people):
    html = lead.get("/settings/people").get_data(as_text=True)
    # Four members; the lead changes neither themself nor the (stronger) admin.
    assert html.count('name="role_id"') == 2
    assert "Helpdesk Lead" in html and "Organization Admin" in html
    assert "You cannot change your own role" in html
    assert "change the role of someone who is Organization Admin" in html
    assert "@other.example" not in html
    # Roles beyond the lead's rights are offered disabled, with the reason.
    assert "(beyond your own rights)" in html


def test_helpdesk_lead_gives_a_role_within_their_rights(app, lead, people):
    response = _assign(lead, people.operator_membership, people.roles["auditor"])
    assert response.status_code == 302
    assert _role_of(app, people.operator_membership) == people.roles["auditor"]
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.action == "membership.updated")
            .order_by(AuditEvent.id.desc())
            .limit(1)
        ).scalar_one()
        assert event.actor == people.lead
        assert event.target_id == str(people.operator_membership)
        assert event.details["changes"]["role"] == {"before": "Operator", "after": "Auditor"}
        assert event.details["via"] == "portal"


def test_helpdesk_lead_cannot_give_a_stronger_role(app, lead, people):
    before = world(app)
    for role in ("org_admin", "product_owner"):
        response = _assign(lead, people.operator_membership, people.roles[role])
        assert response.status_code == 403
        assert "holds permissions you do not have" in response.get_data(as_text=True)
    assert world(app) == before


def test_nobody_changes_their_own_role(app, lead, people):
    before = world(app)
    response = _assign(lead, people.lead_membership, people.roles["operator"])
    assert response.status_code == 403
    assert "You cannot change your own role" in response.get_data(as_text=True)
    assert world(app) == before


def test_helpdesk_lead_cannot_change_a_stronger_members_role(app, lead, people):
    before = world(app)
    response = _assign(lead, people.admin_membership, people.roles["operator"])
    assert response.status_code == 403
    assert "someone who is Organization Admin" in response.get_data(as_text=True)
    assert world(app) == before


def test_last_organization_admin_is_kept(app, make_browser, people):
    with app.app_context():
        org = db.session.get(Organization, people.org)
        shadow = factories.create_member_with(
            org, factories.create_role(org, "Shadow admin", ALL_PERMISSIONS)
        ).email
    browser = make_browser()
    browser.login(shadow, factories.PASSWORD)
    before = world(app)
    response = _assign(browser, people.admin_membership, people.roles["operator"])
    assert response.status_code == 409
    assert "last Organization Admin" in response.get_data(as_text=True)
    assert world(app) == before


def test_limited_lead_cannot_give_an_unlimited_role(app, make_browser, people):
    with app.app_context():
        org = db.session.get(Organization, people.org)
        role = factories.create_role(
            org, "Kiosk Lead", {"roles.assign", "devices.view", "ra.start"}, {people.kiosks}
        )
        kiosk_lead = factories.create_member_with(org, role).email
        kiosk_op = membership_of(
            factories.create_member_with(org, db.session.get(type(role), people.kiosk_role)),
            people.org,
        ).id
    browser = make_browser()
    browser.login(kiosk_lead, factories.PASSWORD)
    before = world(app)
    response = _assign(browser, kiosk_op, people.roles["operator"])
    assert response.status_code == 403
    assert "covers every reporting group" in response.get_data(as_text=True)
    assert world(app) == before


def test_crafted_posts_with_another_organizations_ids_are_404(app, lead, people):
    before = world(app)
    assert _assign(lead, people.other_membership, people.roles["operator"]).status_code == 404
    assert _assign(lead, people.operator_membership, people.other_role).status_code == 404
    assert _assign(lead, people.operator_membership, "x").status_code == 404
    assert world(app) == before


def test_assigning_needs_roles_assign(app, make_browser, people):
    with app.app_context():
        operator = factories.create_member(db.session.get(Organization, people.org)).email
    browser = make_browser()
    browser.login(operator, factories.PASSWORD)
    assert browser.get("/settings/people").status_code == 403
    before = world(app)
    response = browser.submit(
        "/profile",
        {"role_id": str(people.roles["org_admin"])},
        post_url=f"/settings/people/{people.operator_membership}/role",
    )
    assert response.status_code == 403
    assert world(app) == before


def test_roles_assign_is_not_users_manage(lead, people):
    # The helpdesk lead assigns roles in the portal but cannot edit accounts in the admin.
    assert lead.get("/settings/people").status_code == 200
    assert lead.get("/admin/memberships/").status_code == 403
    assert lead.get("/settings/roles").status_code == 403


# --- the same through the API --------------------------------------------------------


def _put(client, headers, membership_id, body):
    return client.put(f"/api/v1/members/{membership_id}/role", json=body, headers=headers)


def test_api_assigns_a_role_and_audits_it(app, client, people):
    response = _put(
        client, people.lead_headers, people.operator_membership, {"role_id": people.kiosk_role}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["role"] == {"id": people.kiosk_role, "name": "Kiosk Operator"}
    assert body["changed"] is True
    assert _role_of(app, people.operator_membership) == people.kiosk_role
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)
        ).scalar_one()
    assert event.action == "membership.updated" and event.details["via"] == "api"


def test_api_refuses_escalation_with_a_reason(app, client, people):
    before = world(app)
    cases = [
        (people.operator_membership, people.roles["org_admin"], 403, "permissions you do not"),
        (people.lead_membership, people.roles["operator"], 403, "your own role"),
        (people.admin_membership, people.roles["operator"], 403, "Organization Admin"),
    ]
    for membership_id, role_id, status, message in cases:
        response = _put(client, people.lead_headers, membership_id, {"role_id": role_id})
        assert response.status_code == status
        error = response.get_json()["error"]
        assert error["code"] == "role_change_refused" and message in error["message"]
    assert world(app) == before


def test_api_keeps_the_last_organization_admin(app, client, people):
    response = _put(
        client, people.admin_headers, people.admin_membership, {"role_id": people.roles["auditor"]}
    )
    assert response.status_code == 403  # an admin cannot demote themself
    with app.app_context():
        org = db.session.get(Organization, people.org)
        shadow = factories.create_member_with(
            org, factories.create_role(org, "Shadow admin", ALL_PERMISSIONS)
        )
        headers = factories.api_headers(shadow, org)
    response = _put(client, headers, people.admin_membership, {"role_id": people.roles["auditor"]})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "role_change_conflict"
    assert _role_of(app, people.admin_membership) == people.roles["org_admin"]


def test_api_other_organizations_ids_and_bad_bodies(app, client, people):
    before = world(app)
    headers = people.lead_headers
    ok_role = {"role_id": people.roles["auditor"]}
    assert _put(client, headers, people.other_membership, ok_role).status_code == 404
    other = _put(client, headers, people.operator_membership, {"role_id": people.other_role})
    assert other.status_code == 404
    for body in ({}, {"role_id": "3"}, {"role_id": True}, [1]):
        response = _put(client, headers, people.operator_membership, body)
        assert response.status_code == 400
        assert response.get_json()["error"]["field"] == "role_id"
    assert world(app) == before


def test_api_lists_members_and_roles(client, people):
    members = client.get("/api/v1/members", headers=people.lead_headers).get_json()["items"]
    assert {m["id"] for m in members} == {
        people.lead_membership,
        people.admin_membership,
        people.operator_membership,
        people.auditor_membership,
    }
    roles = client.get("/api/v1/roles", headers=people.lead_headers).get_json()["items"]
    kiosk = next(r for r in roles if r["id"] == people.kiosk_role)
    assert kiosk["reporting_groups"] == [people.kiosks]
    assert next(r for r in roles if r["builtin"] == "org_admin")["reporting_groups"] is None


def test_api_assignment_needs_roles_assign(app, client, people):
    with app.app_context():
        org = db.session.get(Organization, people.org)
        headers = factories.api_headers(factories.create_member(org, "auditor"), org)
    for method, url in (
        ("get", "/api/v1/members"),
        ("get", "/api/v1/roles"),
        ("put", f"/api/v1/members/{people.operator_membership}/role"),
    ):
        response = getattr(client, method)(url, headers=headers, json={"role_id": 1})
        assert response.status_code == 403, url
