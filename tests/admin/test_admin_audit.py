"""Every change made through the admin is one audit event, in the chain of the
organization the row belongs to, and the chains still verify afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app import audit
from app.extensions import db
from app.models import AuditEvent
from tests import factories
from tests.admin.support import post


def last_event_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(AuditEvent.id))) or 0


def events_since(app, event_id: int) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.id > event_id).order_by(AuditEvent.id)
        )
        return [
            {
                "action": e.action,
                "organization_id": e.organization_id,
                "chain": e.chain,
                "actor": e.actor,
                "target_id": e.target_id,
                "details": e.details,
            }
            for e in rows
        ]


def chains_verify(app) -> bool:
    with app.app_context():
        reports = audit.verify_all()
        return bool(reports) and all(r.ok for r in reports)


@pytest.fixture
def audited(app):
    """Call with a change; returns the audit events it wrote (and checks the chains)."""

    def run(change):
        before = last_event_id(app)
        response = change()
        assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
        events = events_since(app, before)
        assert chains_verify(app)
        return events

    return run


def only(events: list[dict]) -> dict:
    assert len(events) == 1, events
    return events[0]


# --- organization admin ----------------------------------------------------------------


def test_creating_a_product_is_audited_in_own_org(app, alpha_admin, alpha, audited):
    event = only(
        audited(lambda: alpha_admin.submit("/admin/products/new/", {"name": "Alpha Labs"}))
    )
    assert event["action"] == "product.created"
    assert event["organization_id"] == alpha.org_id
    assert event["chain"] == f"org:{alpha.org_id}"
    assert event["actor"] == alpha.admin_email
    assert event["details"]["via"] == "admin"
    assert event["details"]["changes"]["name"] == {"before": None, "after": "Alpha Labs"}


def test_editing_a_product_is_audited_with_before_and_after(app, alpha_admin, alpha, audited):
    url = f"/admin/products/edit/?id={alpha.spare_id}"
    event = only(audited(lambda: alpha_admin.submit(url, {"name": "Alpha Reserve"})))
    assert event["action"] == "product.updated"
    assert event["organization_id"] == alpha.org_id
    assert event["target_id"] == str(alpha.spare_id)
    assert event["details"]["changes"] == {
        "name": {"before": "Alpha Spare", "after": "Alpha Reserve"}
    }


def test_deleting_a_product_is_audited(app, alpha_admin, alpha, audited):
    event = only(
        audited(lambda: post(alpha_admin, "/admin/products/delete/", {"id": alpha.spare_id}))
    )
    assert event["action"] == "product.deleted"
    assert event["organization_id"] == alpha.org_id
    assert event["target_id"] == str(alpha.spare_id)


def test_reporting_group_changes_are_audited(app, alpha_admin, alpha, audited):
    created = only(
        audited(
            lambda: alpha_admin.submit(
                "/admin/reporting_groups/new/", {"name": "Alpha East", "product": alpha.kiosks_id}
            )
        )
    )
    assert (created["action"], created["organization_id"]) == (
        "reporting_group.created",
        alpha.org_id,
    )
    url = f"/admin/reporting_groups/edit/?id={alpha.lobby_group_id}"
    updated = only(
        audited(lambda: alpha_admin.submit(url, {"name": "Alpha Hall", "product": alpha.kiosks_id}))
    )
    assert updated["action"] == "reporting_group.updated"
    assert updated["details"]["changes"]["name"] == {"before": "Alpha Lobby", "after": "Alpha Hall"}
    deleted = only(
        audited(
            lambda: post(
                alpha_admin, "/admin/reporting_groups/delete/", {"id": alpha.lobby_group_id}
            )
        )
    )
    assert (deleted["action"], deleted["organization_id"]) == (
        "reporting_group.deleted",
        alpha.org_id,
    )


def test_role_changes_are_audited(app, alpha_admin, alpha, audited):
    created = only(
        audited(
            lambda: alpha_admin.submit(
                "/admin/roles/new/", {"name": "Alpha Desk", "permission_set": ["devices.view"]}
            )
        )
    )
    assert (created["action"], created["organization_id"]) == ("role.created", alpha.org_id)
    url = f"/admin/roles/edit/?id={alpha.custom_role_id}"
    updated = only(
        audited(
            lambda: alpha_admin.submit(
                url, {"name": "Alpha Night Shift", "permission_set": ["devices.view", "ra.start"]}
            )
        )
    )
    assert updated["action"] == "role.updated"
    assert updated["details"]["changes"]["permissions"] == {
        "before": ["devices.view"],
        "after": ["devices.view", "ra.start"],
    }
    deleted = only(
        audited(lambda: post(alpha_admin, "/admin/roles/delete/", {"id": alpha.custom_role_id}))
    )
    assert (deleted["action"], deleted["organization_id"]) == ("role.deleted", alpha.org_id)


def test_membership_changes_are_audited(app, alpha_admin, alpha, audited):
    created = only(
        audited(
            lambda: alpha_admin.submit(
                "/admin/memberships/new/",
                {
                    "email": "newcomer@alpha.example",
                    "password": "a long enough initial password",
                    "role": alpha.role_ids["operator"],
                },
            )
        )
    )
    assert (created["action"], created["organization_id"]) == ("membership.created", alpha.org_id)
    assert created["details"]["user"] == "newcomer@alpha.example"
    assert "password" not in str(created["details"]).lower()
    url = f"/admin/memberships/edit/?id={alpha.operator_membership_id}"
    updated = only(audited(lambda: alpha_admin.submit(url, {"role": alpha.role_ids["auditor"]})))
    assert updated["action"] == "membership.updated"
    assert updated["details"]["changes"]["role"] == {"before": "Operator", "after": "Auditor"}
    deleted = only(
        audited(
            lambda: post(
                alpha_admin, "/admin/memberships/delete/", {"id": alpha.operator_membership_id}
            )
        )
    )
    assert (deleted["action"], deleted["organization_id"]) == ("membership.deleted", alpha.org_id)


def test_bulk_delete_writes_one_event_per_row(app, alpha_admin, alpha, audited):
    groups = [alpha.main_group_id, alpha.lobby_group_id]
    events = audited(
        lambda: post(
            alpha_admin, "/admin/reporting_groups/action/", {"action": "delete", "rowid": groups}
        )
    )
    assert sorted((e["action"], e["target_id"]) for e in events) == [
        ("reporting_group.deleted", str(group_id)) for group_id in sorted(groups)
    ]
    assert {e["organization_id"] for e in events} == {alpha.org_id}


def test_refused_changes_write_no_audit_event(app, alpha_admin, alpha, bravo):
    before = last_event_id(app)
    post(alpha_admin, "/admin/products/delete/", {"id": bravo.spare_id})
    post(alpha_admin, f"/admin/products/edit/?id={bravo.spare_id}", {"name": "x"})
    alpha_admin.submit("/admin/reporting_groups/new/", {"name": "x", "product": bravo.kiosks_id})
    post(alpha_admin, "/admin/roles/delete/", {"id": alpha.role_ids["operator"]})  # built-in
    assert events_since(app, before) == []
    assert chains_verify(app)


# --- platform admin -----------------------------------------------------------------


@pytest.fixture
def platform_admin(app, browser, tenants):
    with app.app_context():
        email = factories.create_platform_admin().email
    browser.login(email, factories.PASSWORD)
    return browser


def test_platform_admins_change_is_audited_in_the_rows_org(app, platform_admin, bravo, audited):
    event = only(
        audited(
            lambda: platform_admin.submit(
                "/admin/products/new/", {"name": "Bravo Labs", "organization": bravo.org_id}
            )
        )
    )
    assert event["action"] == "product.created"
    assert event["chain"] == f"org:{bravo.org_id}"
    assert event["actor"] == "root@example.com"


def test_creating_an_organization_is_audited_in_its_own_chain(app, platform_admin, audited):
    event = only(
        audited(lambda: platform_admin.submit("/admin/organizations/new/", {"name": "Charlie"}))
    )
    assert event["action"] == "organization.created"
    assert event["chain"] == f"org:{event['organization_id']}"


def test_creating_a_user_is_audited_in_the_platform_chain(app, platform_admin, audited):
    event = only(
        audited(
            lambda: platform_admin.submit(
                "/admin/users/new/",
                {
                    "email": "someone@example.com",
                    "new_password": "a long enough initial password",
                    "active": "y",
                },
            )
        )
    )
    assert event["action"] == "user.created"
    assert (event["organization_id"], event["chain"]) == (None, "platform")
    assert "long enough" not in str(event["details"])
