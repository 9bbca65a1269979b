"""Deactivating an account, or removing a member from an organization, ends their access
at once: browser sessions on the next request, API tokens on the next call."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken, Organization
from app.people import api_tokens
from app.people.organizations import builtin_role
from app.people.users import add_membership, find_user_by_email, membership_of
from tests import factories
from tests.admin.support import audit_events, post
from tests.factories import PASSWORD


def _token(app, email: str, org_id: int) -> dict[str, str]:
    with app.app_context():
        user = find_user_by_email(email)
        _, raw = api_tokens.create_token(user, org_id, "script")
        db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def _signed_in(make_browser, email: str):
    browser = make_browser()
    assert browser.login(email, PASSWORD).status_code == 302
    assert browser.get("/workspaces/devices").status_code == 200
    return browser


def test_platform_admin_deactivating_a_user_ends_sessions_and_tokens_at_once(
    app, alpha, make_browser, client
):
    with app.app_context():
        factories.create_platform_admin()
        user_id = find_user_by_email(alpha.operator_email).id
    operator = _signed_in(make_browser, alpha.operator_email)
    headers = _token(app, alpha.operator_email, alpha.org_id)
    assert client.get("/api/v1/devices", headers=headers).status_code == 200

    root = make_browser()
    root.login("root@example.com", PASSWORD)
    response = post(
        root,
        f"/admin/users/edit/?id={user_id}",
        {"email": alpha.operator_email, "name": ""},  # "active" unticked
    )
    assert response.status_code == 302

    assert operator.get("/workspaces/devices").status_code == 302  # back to sign-in
    assert client.get("/api/v1/devices", headers=headers).status_code == 401
    assert operator.login(alpha.operator_email, PASSWORD).status_code == 401
    with app.app_context():
        token = db.session.execute(select(ApiToken)).scalar_one()
        assert token.revoked_at is not None  # reactivation will not revive it
    [event] = [e for e in audit_events(app, "user.updated") if e["target_id"] == str(user_id)]
    assert event["details"]["changes"]["active"] == {"before": True, "after": False}
    assert event["details"]["api_tokens_revoked"] == 1
    assert audit_events(app, "api_token.revoked")


def test_org_admin_removing_a_member_ends_their_access_to_that_org_only(
    app, alpha, bravo, alpha_admin, make_browser, client
):
    # The operator of Alpha is also an auditor in Bravo.
    with app.app_context():
        user = find_user_by_email(alpha.operator_email)
        bravo_org = db.session.get(Organization, bravo.org_id)
        add_membership(user, bravo_org, builtin_role(bravo.org_id, "auditor"))
        db.session.commit()
    operator = _signed_in(make_browser, alpha.operator_email)
    alpha_token = _token(app, alpha.operator_email, alpha.org_id)
    bravo_token = _token(app, alpha.operator_email, bravo.org_id)

    response = post(
        alpha_admin,
        "/admin/memberships/delete/",
        {"id": str(alpha.operator_membership_id)},
    )
    assert response.status_code == 302

    # The very next request no longer reaches Alpha.
    home = operator.get("/").get_data(as_text=True)
    assert "<h1>Alpha</h1>" not in home and "<h1>Bravo</h1>" in home
    assert operator.get(
        f"/settings/reporting-groups/{alpha.main_group_id}/agent-settings"
    ).status_code in (403, 404)
    assert client.get("/api/v1/devices", headers=alpha_token).status_code == 401
    # Bravo is not affected.
    assert client.get("/api/v1/devices", headers=bravo_token).status_code == 200
    with app.app_context():
        user = find_user_by_email(alpha.operator_email)
        assert membership_of(user, alpha.org_id) is None
        tokens = db.session.execute(select(ApiToken).order_by(ApiToken.id)).scalars().all()
        assert [t.revoked_at is not None for t in tokens] == [True, False]
    [event] = audit_events(app, "membership.deleted")
    assert event["details"]["api_tokens_revoked"] == 1


def test_removed_member_of_a_single_org_keeps_no_access(app, alpha, alpha_admin, make_browser):
    operator = _signed_in(make_browser, alpha.operator_email)
    post(alpha_admin, "/admin/memberships/delete/", {"id": str(alpha.operator_membership_id)})
    assert operator.get("/workspaces/devices").status_code == 403
    assert "do not belong to any organization" in operator.get("/").get_data(as_text=True)
