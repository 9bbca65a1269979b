"""Portal → Settings → Roles: create, edit, limit to groups, delete with a replacement."""

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app import audit
from app.agent_settings.service import SettingChange, apply_changes
from app.extensions import db
from app.models import AgentSettingValue, AuditEvent, Membership, Organization, Role
from app.people.organizations import builtin_role, create_reporting_group
from app.people.permissions import ALL_PERMISSIONS
from tests import factories
from tests.admin.support import world


@dataclass(frozen=True)
class Acme:
    org: int
    office: int
    kiosks: int
    admin: str
    night_shift: int  # custom role held by two operators
    night_members: tuple[int, ...]  # their membership ids
    roles: dict[str, int]
    other_role: int  # a custom role of another organization
    other_group: int


@pytest.fixture
def acme(app):
    with app.app_context():
        org = factories.create_org("Acme")
        kiosks = create_reporting_group(factories.product_of(org), "Kiosks")
        db.session.commit()
        night = factories.create_role(org, "Night Shift", {"devices.view", "ra.start"})
        members = [factories.create_member_with(org, night) for _ in range(2)]
        other = factories.create_org("Other")
        theirs = factories.create_role(other, "Their role", {"devices.view"})
        return Acme(
            org=org.id,
            office=factories.group_of(org).id,
            kiosks=kiosks.id,
            admin=factories.create_member(org, "org_admin").email,
            night_shift=night.id,
            night_members=tuple(m.memberships[0].id for m in members),
            roles={k: builtin_role(org.id, k).id for k in ("org_admin", "operator", "auditor")},
            other_role=theirs.id,
            other_group=factories.group_of(other).id,
        )


@pytest.fixture
def admin(make_browser, acme):
    browser = make_browser()
    assert browser.login(acme.admin, factories.PASSWORD).status_code == 302
    return browser


def _role(app, **where):
    with app.app_context():
        role = db.session.execute(select(Role).filter_by(**where)).scalar_one_or_none()
        if role is None:
            return None
        return {
            "id": role.id,
            "name": role.name,
            "permissions": set(role.permissions),
            "groups": role.group_limit,
        }


def _events(app, action):
    with app.app_context():
        return [
            e.details
            for e in db.session.execute(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            ).scalars()
        ]


def test_roles_page_lists_roles_with_plain_language_permissions(admin, acme):
    html = admin.get("/settings/roles").get_data(as_text=True)
    assert "Night Shift" in html and "Organization Admin" in html
    assert "Start remote assistance" in html  # the label of ra.start
    assert "Their role" not in html


def test_admin_creates_a_role_limited_to_a_group(app, admin, acme):
    response = admin.submit(
        "/settings/roles/new",
        {
            "name": "Kiosk Operator",
            "permissions": ["devices.view", "ra.start"],
            "limit": "groups",
            "group_ids": [str(acme.kiosks)],
        },
    )
    assert response.status_code == 302
    role = _role(app, name="Kiosk Operator")
    assert role["permissions"] == {"devices.view", "ra.start"}
    assert role["groups"] == {acme.kiosks}
    created = _events(app, "role.created")[-1]
    assert created["role"]["reporting_groups"] == [acme.kiosks]
    assert created["via"] == "portal"
    assert "Kiosk Operator" in admin.get("/settings/roles").get_data(as_text=True)


def test_admin_edits_permissions_and_lifts_a_limit(app, admin, acme):
    with app.app_context():
        db.session.get(Role, acme.night_shift).set_group_limit({acme.kiosks})
        db.session.commit()
    form = admin.get(f"/settings/roles/{acme.night_shift}").get_data(as_text=True)
    assert f'value="{acme.kiosks}" checked' in form
    response = admin.submit(
        f"/settings/roles/{acme.night_shift}",
        {"name": "Night Shift", "permissions": ["devices.view"], "limit": "all"},
    )
    assert response.status_code == 302
    role = _role(app, id=acme.night_shift)
    assert role["permissions"] == {"devices.view"} and role["groups"] is None
    changes = _events(app, "role.updated")[-1]["changes"]
    assert changes["permissions"] == {
        "before": ["devices.view", "ra.start"],
        "after": ["devices.view"],
    }
    assert changes["reporting_groups"] == {"before": [acme.kiosks], "after": None}


def test_organization_admin_role_keeps_every_permission_and_every_group(app, admin, acme):
    url = f"/settings/roles/{acme.roles['org_admin']}"
    before = world(app)
    response = admin.submit(
        url,
        {"name": "Organization Admin", "permissions": sorted(ALL_PERMISSIONS - {"audit.view"})},
    )
    assert response.status_code == 400
    assert "keeps every permission" in response.get_data(as_text=True)
    response = admin.submit(
        url,
        {
            "name": "Organization Admin",
            "permissions": sorted(ALL_PERMISSIONS),
            "limit": "groups",
            "group_ids": [str(acme.kiosks)],
        },
    )
    assert response.status_code == 400
    assert "covers every reporting group" in response.get_data(as_text=True)
    assert world(app) == before
    # The page's own form (all permissions as hidden fields) saves a rename.
    response = admin.submit(url, {"name": "Acme Admins", "permissions": sorted(ALL_PERMISSIONS)})
    assert response.status_code == 302
    assert _role(app, id=acme.roles["org_admin"])["permissions"] == ALL_PERMISSIONS


def test_built_in_roles_cannot_be_deleted(app, admin, acme):
    before = world(app)
    response = admin.submit(
        f"/settings/roles/{acme.roles['operator']}/delete",
        {"replacement_id": str(acme.roles["auditor"])},
    )
    assert response.status_code == 409
    assert "built-in role and cannot be deleted" in response.get_data(as_text=True)
    assert world(app) == before


def test_unused_role_is_deleted_and_audited(app, admin, acme):
    with app.app_context():
        org = db.session.get(Organization, acme.org)
        spare = factories.create_role(org, "Spare", {"devices.view"}).id
    response = admin.submit(f"/settings/roles/{spare}/delete", {})
    assert response.status_code == 302
    assert _role(app, id=spare) is None
    deleted = _events(app, "role.deleted")[-1]
    assert deleted["role"]["name"] == "Spare" and deleted["members_moved"] == 0


def test_deleting_a_role_in_use_asks_for_a_replacement(app, admin, acme):
    page = admin.get(f"/settings/roles/{acme.night_shift}/delete").get_data(as_text=True)
    assert "2 members hold this role" in page and 'name="replacement_id"' in page
    before = world(app)
    response = admin.submit(f"/settings/roles/{acme.night_shift}/delete", {})
    assert response.status_code == 409
    assert "choose the role they get instead" in response.get_data(as_text=True)
    assert world(app) == before


def test_deleting_a_role_moves_its_members_to_the_replacement_in_one_step(app, admin, acme):
    with app.app_context():
        group = factories.group_of(db.session.get(Organization, acme.org))
        apply_changes(group, [SettingChange("flexxible_tools", True, acme.night_shift)])
        db.session.commit()
    response = admin.submit(
        f"/settings/roles/{acme.night_shift}/delete",
        {"replacement_id": str(acme.roles["operator"])},
    )
    assert response.status_code == 302
    assert _role(app, id=acme.night_shift) is None
    with app.app_context():
        roles = {db.session.get(Membership, m).role_id for m in acme.night_members}
        left = db.session.execute(
            select(AgentSettingValue).where(AgentSettingValue.role_id == acme.night_shift)
        ).all()
        assert all(r.ok for r in audit.verify_all())
    assert roles == {acme.roles["operator"]}
    assert left == []
    moves = [e for e in _events(app, "membership.updated") if e.get("reason")]
    assert len(moves) == 2
    assert moves[0]["changes"]["role"] == {"before": "Night Shift", "after": "Operator"}
    deleted = _events(app, "role.deleted")[-1]
    assert deleted["replacement"] == "Operator" and deleted["members_moved"] == 2
    assert deleted["role_settings_removed"] == 1


def test_replacement_role_obeys_the_no_escalation_rules(app, make_browser, acme):
    with app.app_context():
        org = db.session.get(Organization, acme.org)
        manager_role = factories.create_role(
            org, "Role manager", {"roles.manage", "devices.view", "ra.start"}
        )
        manager = factories.create_member_with(org, manager_role).email
    browser = make_browser()
    browser.login(manager, factories.PASSWORD)
    before = world(app)
    response = browser.submit(
        f"/settings/roles/{acme.night_shift}/delete",
        {"replacement_id": str(acme.roles["org_admin"])},
    )
    assert response.status_code == 403
    assert "holds permissions you do not have" in response.get_data(as_text=True)
    assert world(app) == before


def test_nobody_deletes_the_role_they_hold(app, make_browser, acme):
    with app.app_context():
        org = db.session.get(Organization, acme.org)
        role = factories.create_role(org, "Managers", {"roles.manage", "devices.view"})
        manager = factories.create_member_with(org, role).email
        role_id = role.id
    browser = make_browser()
    browser.login(manager, factories.PASSWORD)
    response = browser.submit(
        f"/settings/roles/{role_id}/delete", {"replacement_id": str(acme.roles["operator"])}
    )
    assert response.status_code == 403
    assert "You hold Managers yourself" in response.get_data(as_text=True)
    assert _role(app, id=role_id) is not None


def test_another_organizations_ids_are_404(app, admin, acme):
    before = world(app)
    token_page = "/settings/roles"
    assert admin.get(f"/settings/roles/{acme.other_role}").status_code == 404
    assert admin.get(f"/settings/roles/{acme.other_role}/delete").status_code == 404
    for url, data in [
        (f"/settings/roles/{acme.other_role}", {"name": "Mine now", "permissions": []}),
        (f"/settings/roles/{acme.other_role}/delete", {}),
        (
            f"/settings/roles/{acme.night_shift}/delete",
            {"replacement_id": str(acme.other_role)},
        ),
        (
            "/settings/roles/new",
            {
                "name": "Spy",
                "permissions": ["devices.view"],
                "limit": "groups",
                "group_ids": [str(acme.other_group)],
            },
        ),
        ("/settings/roles/new", {"name": "Junk", "limit": "groups", "group_ids": ["x"]}),
    ]:
        response = admin.submit(token_page, data, post_url=url)
        assert response.status_code == 404, url
    assert world(app) == before


def test_duplicate_and_empty_names_are_refused(app, admin, acme):
    before = world(app)
    response = admin.submit("/settings/roles/new", {"name": "night shift"})
    assert response.status_code == 409
    assert "A role named night shift already exists" in response.get_data(as_text=True)
    response = admin.submit("/settings/roles/new", {"name": "   "})
    assert response.status_code == 400
    assert "A role needs a name" in response.get_data(as_text=True)
    assert world(app) == before


def test_unknown_permission_in_a_crafted_post_is_refused(app, admin, acme):
    before = world(app)
    response = admin.submit("/settings/roles/new", {"name": "Root", "permissions": ["everything"]})
    assert response.status_code == 400
    assert "Unknown permission(s): everything" in response.get_data(as_text=True)
    assert world(app) == before


def test_role_pages_need_roles_manage(app, make_browser, acme):
    with app.app_context():
        lead = factories.create_member(
            db.session.get(Organization, acme.org), "helpdesk_lead"
        ).email
    browser = make_browser()
    browser.login(lead, factories.PASSWORD)
    for url in (
        "/settings/roles",
        "/settings/roles/new",
        f"/settings/roles/{acme.night_shift}",
        f"/settings/roles/{acme.night_shift}/delete",
    ):
        assert browser.get(url).status_code == 403, url
    before = world(app)
    response = browser.submit(
        "/profile",
        {"name": "Sneaky", "permissions": ["audit.view"]},
        post_url="/settings/roles/new",
    )
    assert response.status_code == 403
    assert world(app) == before
