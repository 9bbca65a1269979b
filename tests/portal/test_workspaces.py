from datetime import timedelta

import pytest
from sqlalchemy import event

from app.extensions import db
from app.fleet.orders import create_order
from app.models import Device, DeviceSession, EnrollmentToken, Organization, utcnow
from app.people.organizations import create_reporting_group
from tests import factories


@pytest.fixture
def acme(app):
    """Acme with a few devices; returns ids and an operator's e-mail."""
    with app.app_context():
        org = factories.create_org("Acme")
        kiosks = create_reporting_group(factories.product_of(org), "Kiosks")
        now = utcnow()
        laptop = factories.create_device(
            org, "LAPTOP-01", agent_version="24.10.1", last_checkin_at=now
        )
        server = factories.create_device(
            org,
            "SRV-01",
            os_name="Windows Server 2022",
            kind="server",
            agent_version="23.5",
            last_checkin_at=now - timedelta(hours=1),
        )
        kiosk = factories.create_device(org, "KIOSK-01", kind="kiosk", agent_version="24.1")
        kiosk.reporting_group_id = kiosks.id
        db.session.add(
            DeviceSession(
                organization_id=org.id,
                device_id=laptop.id,
                session_key="1",
                username="alice",
                state="active",
                kind="console",
            )
        )
        db.session.commit()
        return {
            "org": org.id,
            "laptop": laptop.id,
            "server": server.id,
            "kiosk": kiosk.id,
            "kiosks": kiosks.id,
            "operator": factories.create_member(org, "operator").email,
            "admin": factories.create_member(org, "org_admin").email,
        }


def _hostnames(html):
    return [h for h in ("LAPTOP-01", "SRV-01", "KIOSK-01", "THEIR-PC") if f">{h}</a>" in html]


def test_devices_list_filters(app, browser, acme):
    browser.login(acme["operator"], factories.PASSWORD)
    cases = {
        "": ["LAPTOP-01", "SRV-01", "KIOSK-01"],
        "?online=yes": ["LAPTOP-01"],
        "?online=no": ["SRV-01", "KIOSK-01"],
        "?kind=server": ["SRV-01"],
        "?version=24.1": ["KIOSK-01"],
        "?os=Windows+Server+2022": ["SRV-01"],
        f"?group={acme['kiosks']}": ["KIOSK-01"],
        "?q=lap": ["LAPTOP-01"],
        "?q=%25": [],  # a literal %, not a wildcard
    }
    for query, expected in cases.items():
        html = browser.get(f"/workspaces/devices{query}").get_data(as_text=True)
        assert sorted(_hostnames(html)) == sorted(expected), query
    assert browser.get("/workspaces/devices?kind=toaster").status_code == 400
    assert browser.get("/workspaces/devices?page=0").status_code == 400


def test_devices_list_paginates(app, browser, acme):
    with app.app_context():
        org = db.session.get(Organization, acme["org"])
        for i in range(55):
            factories.create_device(org, f"BULK-{i:03d}")
    browser.login(acme["operator"], factories.PASSWORD)
    first = browser.get("/workspaces/devices?q=BULK").get_data(as_text=True)
    second = browser.get("/workspaces/devices?q=BULK&page=2").get_data(as_text=True)
    assert "Page 1 of 2 (55)" in first and "BULK-049" in first and "BULK-050" not in first
    assert "BULK-050" in second and "BULK-054" in second


class Counter:
    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.count = 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._hit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._hit)

    def _hit(self, *args):
        self.count += 1


def test_list_pages_use_a_constant_number_of_queries(app, browser, acme):
    browser.login(acme["operator"], factories.PASSWORD)
    urls = ["/workspaces/devices", "/workspaces/sessions", "/api/v1/devices", "/api/v1/sessions"]
    for url in urls:
        browser.get(url)

    def counts():
        result = []
        for url in urls:
            with Counter(app) as counter:
                assert browser.get(url).status_code == 200
            result.append(counter.count)
        return result

    small = counts()
    with app.app_context():
        org = db.session.get(Organization, acme["org"])
        group = create_reporting_group(factories.product_of(org), "More")
        for i in range(30):
            device = factories.create_device(org, f"MORE-{i}", os_name=f"Windows {i}")
            device.reporting_group_id = group.id
            db.session.add(
                DeviceSession(
                    organization_id=org.id,
                    device_id=device.id,
                    session_key="1",
                    username=f"user{i}",
                    state="active",
                    kind="rdp",
                )
            )
        db.session.commit()
    assert counts() == small


def test_device_page_shows_facts_sessions_orders_and_settings(app, browser, acme):
    with app.app_context():
        create_order(db.session.get(Device, acme["laptop"]), "ra.end", {"assistance_id": 1})
        db.session.commit()
    browser.login(acme["operator"], factories.PASSWORD)
    html = browser.get(f"/workspaces/devices/{acme['laptop']}").get_data(as_text=True)
    assert "LAPTOP-01" in html and "alice" in html and "End the assistance" in html
    assert "Remote assistance" in html and "registry default" in html
    assert "Operations" in html


def test_sessions_view_lists_user_sessions_across_devices(app, browser, acme):
    browser.login(acme["operator"], factories.PASSWORD)
    html = browser.get("/workspaces/sessions").get_data(as_text=True)
    assert "alice" in html and "LAPTOP-01" in html and "Operations" in html
    assert "alice" not in browser.get("/workspaces/sessions?state=locked").get_data(as_text=True)


def test_other_orgs_devices_are_invisible_and_404(app, browser, acme):
    with app.app_context():
        other = factories.create_org("Other")
        theirs = factories.create_device(other, "THEIR-PC").id
    browser.login(acme["operator"], factories.PASSWORD)
    assert "THEIR-PC" not in browser.get("/workspaces/devices").get_data(as_text=True)
    assert browser.get(f"/workspaces/devices/{theirs}").status_code == 404
    assert browser.get(f"/api/v1/devices/{theirs}").status_code == 404
    assert all(
        d["hostname"] != "THEIR-PC" for d in browser.get("/api/v1/devices").get_json()["items"]
    )


def test_devices_api_shape(app, browser, acme):
    browser.login(acme["operator"], factories.PASSWORD)
    body = browser.get(f"/api/v1/devices/{acme['laptop']}").get_json()
    assert body["hostname"] == "LAPTOP-01" and body["online"] is True
    assert body["sessions"][0]["username"] == "alice"
    page = browser.get("/api/v1/devices?online=no").get_json()
    assert {d["hostname"] for d in page["items"]} == {"SRV-01", "KIOSK-01"}
    assert browser.get("/api/v1/devices?group=x").get_json()["error"]["field"] == "group"


def test_auditor_sees_devices_but_roles_without_devices_view_do_not(app, make_browser, acme):
    with app.app_context():
        org = db.session.get(Organization, acme["org"])
        from app.models import Role

        role = Role(organization_id=org.id, name="No devices")
        role.set_permissions({"audit.view"})
        db.session.add(role)
        db.session.commit()
        user = factories.create_member(org, "auditor")
        email = user.email
        blind = factories.create_member(org, "auditor", email="blind@acme.example")
        blind.memberships[0].role_id = role.id
        db.session.commit()
    auditor = make_browser()
    auditor.login(email, factories.PASSWORD)
    assert auditor.get("/workspaces/devices").status_code == 200
    other = make_browser()
    other.login("blind@acme.example", factories.PASSWORD)
    assert other.get("/workspaces/devices").status_code == 403
    assert other.get("/api/v1/devices").status_code == 403


def test_enrollment_tokens_page_creates_shows_once_and_revokes(app, browser, acme):
    browser.login(acme["admin"], factories.PASSWORD)
    response = browser.submit(
        "/settings/enrollment-tokens",
        {"group_id": str(acme["kiosks"]), "name": "Kiosk rollout", "days": "7", "max_uses": "10"},
    )
    html = response.get_data(as_text=True)
    raw = html.split('id="enrollment-token">')[1].split("<")[0]
    assert raw.startswith("enr_")
    listing = browser.get("/settings/enrollment-tokens").get_data(as_text=True)
    assert "Kiosk rollout" in listing and raw not in listing and "0 / 10" in listing
    enrolled = browser.client.post(
        "/api/agent/v1/enroll",
        json={
            "enrollment_token": raw,
            "hardware_id": "k-1",
            "hostname": "KIOSK-NEW",
            "os_name": "Windows 11",
            "os_version": "23H2",
            "agent_version": "24.10",
            "device_kind": "kiosk",
        },
    )
    assert enrolled.status_code == 201
    with app.app_context():
        token_id = db.session.query(EnrollmentToken).one().id
        assert (
            db.session.get(Device, enrolled.get_json()["device_id"]).reporting_group_id
            == acme["kiosks"]
        )
    browser.submit(
        "/settings/enrollment-tokens", {}, post_url=f"/settings/enrollment-tokens/{token_id}/revoke"
    )
    assert "revoked" in browser.get("/settings/enrollment-tokens").get_data(as_text=True)


def test_enrollment_token_form_errors_are_clear_and_scoped(app, browser, acme):
    with app.app_context():
        foreign_group = factories.group_of(factories.create_org("Other")).id
    browser.login(acme["admin"], factories.PASSWORD)
    bad = browser.submit(
        "/settings/enrollment-tokens",
        {"group_id": str(acme["kiosks"]), "name": "x", "max_uses": "lots"},
    )
    assert bad.status_code == 400
    assert "max uses must be a whole number" in bad.get_data(as_text=True)
    foreign = browser.submit(
        "/settings/enrollment-tokens", {"group_id": str(foreign_group), "name": "x"}
    )
    assert foreign.status_code == 404
    with app.app_context():
        assert db.session.query(EnrollmentToken).count() == 0


def test_operator_cannot_manage_enrollment_tokens(app, browser, acme):
    browser.login(acme["operator"], factories.PASSWORD)
    assert browser.get("/settings/enrollment-tokens").status_code == 403


def test_admin_moves_a_device_to_another_group_audited(app, browser, acme):
    browser.login(acme["admin"], factories.PASSWORD)
    response = browser.submit(
        f"/admin/devices/edit/?id={acme['laptop']}", {"reporting_group": str(acme["kiosks"])}
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Device, acme["laptop"]).reporting_group_id == acme["kiosks"]
        from app.models import AuditEvent

        event_ = db.session.query(AuditEvent).filter_by(action="device.updated").one()
        assert event_.details["changes"]["reporting_group_id"]["after"] == acme["kiosks"]
