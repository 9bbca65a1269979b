"""The dashboard (SPEC §5): GET /api/v1/dashboard and the home page's charts, scoped to the
role's reporting groups, in a constant number of queries."""

from __future__ import annotations

from sqlalchemy import event

from app import audit
from app.extensions import db
from app.models import Device, Organization, Role
from app.overview.dashboard import dashboard
from tests import factories


def _assistance(org_id, device_id, operator_id, state="connected", type_="unattended"):
    return factories.create_assistance(org_id, device_id, operator_id, state, type_)


def test_dashboard_counts_live_assistances_devices_versions_days_and_refusals(app, client, world):
    with app.app_context():
        live = _assistance(world["org"], world["server"], world["operator_id"])
        _assistance(world["org"], world["laptop"], world["operator_id"], "denied", "interactive")
        device = db.session.get(Device, world["linux"])
        audit.record(
            "assistance.refused",
            organization_id=world["org"],
            target=device,
            details={"code": "not_windows"},
        )
        db.session.commit()
    body = client.get("/api/v1/dashboard?days=7", headers=world["tokens"]["operator"]).get_json()
    assert body["days"] == 7 and len(body["assistances_per_day"]) == 7
    assert body["live_assistances"]["total"] == 1
    assert body["live_assistances"]["items"][0]["id"] == live
    assert body["live_assistances"]["items"][0]["device"]["hostname"] == "SRV-1"
    groups = {g["name"]: g for g in body["devices_by_group"]}
    assert groups["Kiosks"]["online"] == 3 and groups["Kiosks"]["offline"] == 0
    assert sum(g["offline"] for g in groups.values()) == 1  # PC-OFF
    versions = body["agent_versions"]
    assert versions["too_old_for_ra"] == 1  # OLD-1 runs 23.5
    assert versions["too_old_for_dynamic"] == 2  # and KIOSK-OLD runs 24.1
    assert {v["version"]: v["support"] for v in versions["versions"]}["23.5"] == "too_old"
    today = body["assistances_per_day"][-1]
    assert today["unattended"] == 1 and today["interactive"] == 1
    assert today["live"] == 1 and today["denied"] == 1
    assert body["refusals_by_code"] == [{"code": "not_windows", "count": 1}]


def test_dashboard_is_limited_to_the_roles_groups(app, client, world):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        kiosks = next(g for p in org.products for g in p.reporting_groups if g.name == "Kiosks")
        role = factories.create_role(org, "Kiosk desk", {"devices.view"}, [kiosks.id])
        user = factories.create_member_with(org, db.session.get(Role, role.id))
        _assistance(world["org"], world["server"], world["operator_id"])
        db.session.commit()
        headers = factories.api_headers(user, org)
    body = client.get("/api/v1/dashboard", headers=headers).get_json()
    assert [g["name"] for g in body["devices_by_group"]] == ["Kiosks"]
    assert body["live_assistances"]["total"] == 0  # SRV-1 is not theirs
    assert sum(v["devices"] for v in body["agent_versions"]["versions"]) == 3


def test_dashboard_refuses_a_bad_window(client, world):
    for days in ("0", "91", "x", "1e3"):
        response = client.get(f"/api/v1/dashboard?days={days}", headers=world["tokens"]["lead"])
        assert response.status_code == 400
        assert response.get_json()["error"]["field"] == "days"


def test_dashboard_uses_a_constant_number_of_queries(app, world):
    def queries() -> int:
        count = 0

        def hit(*_args):
            nonlocal count
            count += 1

        with app.test_request_context():
            event.listen(db.engine, "before_cursor_execute", hit)
            try:
                dashboard(world["org"], visible_groups=None, days=30)
            finally:
                event.remove(db.engine, "before_cursor_execute", hit)
        return count

    small = queries()
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        for i in range(40):
            device = factories.create_device(org, f"MORE-{i}", agent_version=f"24.{i}")
            _assistance(world["org"], device.id, world["operator_id"], "expired")
    assert queries() == small == 5


def test_home_page_draws_the_dashboard_with_links_to_the_lists(app, make_browser, world):
    browser = make_browser()
    browser.login("operator@acme.example", factories.PASSWORD)
    html = browser.get("/").get_data(as_text=True)
    assert 'id="chart-groups"' in html and "vendor/chart.js/chart.umd.min.js" in html
    assert "/workspaces/devices?group=" in html and "online=no" in html
    assert "/workspaces/devices?version=23.5" in html
    assert "devices.view" not in html  # no raw permission strings any more
    assert "1 device runs an agent older than 23.7" in html
