"""Roles limited to reporting groups: a Kiosks-only operator sees and acts on Kiosks
devices only, in every list, filter, page and API call."""

from dataclasses import dataclass

import pytest
from flask import g

from app.extensions import db
from app.models import DeviceSession, Membership, Organization, Role
from app.people.organizations import builtin_role, create_reporting_group
from app.tenancy import can_see_group, visible_group_ids
from tests import factories
from tests.portal.test_workspaces import Counter


@dataclass(frozen=True)
class Fleet:
    org: int
    office: int  # the factory's group
    kiosks: int
    laptop: int
    kiosk: int
    kiosk_role: int
    kiosk_operator: str  # e-mail, Kiosks-limited operator
    operator: str  # e-mail, unlimited built-in Operator
    kiosk_headers: dict
    other_laptop: int  # a device of another organization


def _session(org_id, device_id, username):
    db.session.add(
        DeviceSession(
            organization_id=org_id,
            device_id=device_id,
            session_key="1",
            username=username,
            state="active",
            kind="console",
        )
    )


@pytest.fixture
def fleet(app):
    with app.app_context():
        org = factories.create_org("Acme")
        office = factories.group_of(org)
        kiosks = create_reporting_group(factories.product_of(org), "Kiosks")
        laptop = factories.create_device(
            org, "LAPTOP-01", os_name="Windows 11", agent_version="24.10.1"
        )
        kiosk = factories.create_device(
            org, "KIOSK-01", os_name="Windows 11 IoT", agent_version="24.1", kind="kiosk"
        )
        kiosk.reporting_group_id = kiosks.id
        _session(org.id, laptop.id, "office-alice")
        _session(org.id, kiosk.id, "kiosk-user")
        db.session.commit()
        role = factories.create_role(
            org, "Kiosk Operator", {"devices.view", "ra.start"}, {kiosks.id}
        )
        kiosk_operator = factories.create_member_with(org, role)
        other = factories.create_org("Other")
        other_laptop = factories.create_device(other, "THEIR-PC")
        return Fleet(
            org=org.id,
            office=office.id,
            kiosks=kiosks.id,
            laptop=laptop.id,
            kiosk=kiosk.id,
            kiosk_role=role.id,
            kiosk_operator=kiosk_operator.email,
            operator=factories.create_member(org, "operator").email,
            kiosk_headers=factories.api_headers(kiosk_operator, org),
            other_laptop=other_laptop.id,
        )


@pytest.fixture
def kiosk_browser(make_browser, fleet):
    browser = make_browser()
    assert browser.login(fleet.kiosk_operator, factories.PASSWORD).status_code == 302
    return browser


def _hostnames(html):
    return sorted(h for h in ("LAPTOP-01", "KIOSK-01", "THEIR-PC") if f">{h}</a>" in html)


def test_limited_operator_lists_only_devices_of_their_groups(kiosk_browser, fleet):
    html = kiosk_browser.get("/workspaces/devices").get_data(as_text=True)
    assert _hostnames(html) == ["KIOSK-01"]
    assert "1 result<" in html


def test_unlimited_operator_lists_every_device_of_the_organization(make_browser, fleet):
    browser = make_browser()
    browser.login(fleet.operator, factories.PASSWORD)
    html = browser.get("/workspaces/devices").get_data(as_text=True)
    assert _hostnames(html) == ["KIOSK-01", "LAPTOP-01"]


def test_limited_operator_lists_only_sessions_of_their_groups(kiosk_browser, fleet):
    html = kiosk_browser.get("/workspaces/sessions").get_data(as_text=True)
    assert "kiosk-user" in html
    assert "office-alice" not in html
    searched = kiosk_browser.get("/workspaces/sessions?q=alice").get_data(as_text=True)
    assert "office-alice" not in searched and "No sessions match." in searched


def test_filters_offer_only_visible_groups_os_names_and_versions(kiosk_browser, fleet):
    html = kiosk_browser.get("/workspaces/devices").get_data(as_text=True)
    assert f'<option value="{fleet.kiosks}"' in html
    assert f'<option value="{fleet.office}"' not in html
    assert "Acme group" not in html
    assert "Windows 11 IoT" in html and ">Windows 11<" not in html
    assert ">24.1<" in html and ">24.10.1<" not in html
    sessions = kiosk_browser.get("/workspaces/sessions").get_data(as_text=True)
    assert f'<option value="{fleet.office}"' not in sessions


def test_filtering_on_a_group_outside_the_limit_finds_nothing(kiosk_browser, fleet):
    for url in (
        f"/workspaces/devices?group={fleet.office}",
        f"/workspaces/sessions?group={fleet.office}",
    ):
        response = kiosk_browser.get(url)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "LAPTOP-01" not in html and "office-alice" not in html
    for url in (f"/api/v1/devices?group={fleet.office}", f"/api/v1/sessions?group={fleet.office}"):
        body = kiosk_browser.get(url).get_json()
        assert body["total"] == 0 and body["items"] == []


def test_device_page_outside_the_limit_is_404(kiosk_browser, fleet):
    assert kiosk_browser.get(f"/workspaces/devices/{fleet.kiosk}").status_code == 200
    response = kiosk_browser.get(f"/workspaces/devices/{fleet.laptop}")
    assert response.status_code == 404
    assert "LAPTOP-01" not in response.get_data(as_text=True)
    # Exactly like another organization's device.
    assert kiosk_browser.get(f"/workspaces/devices/{fleet.other_laptop}").status_code == 404


def test_device_api_outside_the_limit_is_404(client, fleet):
    headers = fleet.kiosk_headers
    assert client.get(f"/api/v1/devices/{fleet.kiosk}", headers=headers).status_code == 200
    response = client.get(f"/api/v1/devices/{fleet.laptop}", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/devices/{fleet.other_laptop}", headers=headers).status_code == 404


def test_device_and_session_api_lists_are_limited(client, fleet):
    devices = client.get("/api/v1/devices", headers=fleet.kiosk_headers).get_json()
    assert [d["hostname"] for d in devices["items"]] == ["KIOSK-01"]
    assert devices["total"] == 1
    sessions = client.get("/api/v1/sessions", headers=fleet.kiosk_headers).get_json()
    assert [s["username"] for s in sessions["items"]] == ["kiosk-user"]


def test_effective_settings_preview_is_limited_for_operators_not_for_editors(
    app, client, make_browser, fleet
):
    page = "/settings/reporting-groups/{}/effective"
    api = "/api/v1/reporting-groups/{}/effective-settings"
    headers = fleet.kiosk_headers
    assert client.get(api.format(fleet.kiosks), headers=headers).status_code == 200
    assert client.get(api.format(fleet.office), headers=headers).status_code == 404
    browser = make_browser()
    browser.login(fleet.kiosk_operator, factories.PASSWORD)
    assert browser.get(page.format(fleet.kiosks)).status_code == 200
    assert browser.get(page.format(fleet.office)).status_code == 404
    # A product owner limited to Kiosks still configures (and previews) every group.
    with app.app_context():
        org = db.session.get(Organization, fleet.org)
        role = factories.create_role(
            org,
            "Kiosk Owner",
            {"product.configure", "group.configure", "devices.view"},
            {fleet.kiosks},
        )
        owner = factories.create_member_with(org, role)
        owner_headers = factories.api_headers(owner, org)
    assert client.get(api.format(fleet.office), headers=owner_headers).status_code == 200


def test_visible_group_ids_and_can_see_group_follow_the_members_role(app, fleet):
    with app.app_context():
        kiosk_membership = db.session.execute(
            db.select(Membership).where(Membership.role_id == fleet.kiosk_role)
        ).scalar_one()
        operator_membership = db.session.execute(
            db.select(Membership).where(
                Membership.role_id == builtin_role(fleet.org, "operator").id
            )
        ).scalar_one()
        with app.test_request_context():
            g.membership = kiosk_membership
            assert visible_group_ids() == {fleet.kiosks}
            assert can_see_group(fleet.kiosks) and not can_see_group(fleet.office)
        with app.test_request_context():
            g.membership = operator_membership
            assert visible_group_ids() is None
            assert can_see_group(fleet.office) and can_see_group(fleet.kiosks)
        with app.test_request_context():
            g.membership = None
            assert visible_group_ids() == frozenset()
            assert not can_see_group(fleet.kiosks)


def test_a_changed_limit_applies_on_the_next_request(app, kiosk_browser, fleet):
    assert kiosk_browser.get(f"/workspaces/devices/{fleet.laptop}").status_code == 404
    with app.app_context():
        role = db.session.get(Role, fleet.kiosk_role)
        role.set_group_limit({fleet.kiosks, fleet.office})
        db.session.commit()
    assert kiosk_browser.get(f"/workspaces/devices/{fleet.laptop}").status_code == 200
    with app.app_context():
        db.session.get(Role, fleet.kiosk_role).set_group_limit(set())
        db.session.commit()
    html = kiosk_browser.get("/workspaces/devices").get_data(as_text=True)
    assert _hostnames(html) == []
    assert kiosk_browser.get(f"/workspaces/devices/{fleet.kiosk}").status_code == 404


def test_deleting_the_only_group_of_a_limit_never_widens_it(app, kiosk_browser, fleet):
    with app.app_context():
        db.session.execute(
            db.delete(DeviceSession).where(DeviceSession.organization_id == fleet.org)
        )
        from app.models import Device, ReportingGroup

        db.session.execute(db.delete(Device).where(Device.reporting_group_id == fleet.kiosks))
        db.session.delete(db.session.get(ReportingGroup, fleet.kiosks))
        db.session.commit()
        role = db.session.get(Role, fleet.kiosk_role)
        assert role.limited_to_groups and role.group_limit == frozenset()
    html = kiosk_browser.get("/workspaces/devices").get_data(as_text=True)
    assert _hostnames(html) == []
    assert kiosk_browser.get(f"/workspaces/devices/{fleet.laptop}").status_code == 404


def test_limited_list_pages_use_a_constant_number_of_queries(app, kiosk_browser, fleet):
    urls = ["/workspaces/devices", "/workspaces/sessions", "/api/v1/devices", "/api/v1/sessions"]

    def counts():
        result = []
        for url in urls:
            with Counter(app) as counter:
                assert kiosk_browser.get(url).status_code == 200
            result.append(counter.count)
        return result

    counts()
    small = counts()
    with app.app_context():
        org = db.session.get(Organization, fleet.org)
        for i in range(20):
            device = factories.create_device(org, f"KIOSK-{i + 10}", os_name=f"Win {i}")
            device.reporting_group_id = fleet.kiosks
            _session(org.id, device.id, f"k{i}")
        db.session.commit()
    assert counts() == small
