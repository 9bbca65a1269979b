"""Bad input of every kind, sent to every kind of endpoint, gets a clear 4xx (SPEC §6):
deep or odd JSON, NUL bytes and lone surrogates, ids and numbers out of range, dates out
of range. And the HTML error page survives a database error."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.fleet.enrollment import create_enrollment_token
from app.models import Organization
from app.web_input import up_to
from tests import factories

DEEP = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 40 + "1" + "}" * 40


@pytest.fixture
def site(app, client):
    """An organization admin (API token and browser), an enrolled agent, a device."""
    with app.app_context():
        org = factories.create_org("Acme")
        admin = factories.create_member(org, "org_admin", email="admin@acme.example")
        headers = factories.api_headers(admin, org)
        _, enrollment = create_enrollment_token(factories.group_of(org), "tests")
        db.session.commit()
        group_id = factories.group_of(org).id
    enrolled = client.post(
        "/api/agent/v1/enroll",
        json={"enrollment_token": enrollment, **factories.agent_facts()},
    ).get_json()
    return {
        "api": headers,
        "agent": {"Authorization": f"Bearer {enrolled['device_token']}"},
        "device_id": enrolled["device_id"],
        "group_id": group_id,
        "enrollment": enrollment,
    }


def _signed_in(browser):
    assert browser.login("admin@acme.example", factories.PASSWORD).status_code == 302
    return browser


def _error(response, status=400):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    return response.get_json()["error"]


def _json_endpoints(site):
    """(method, url, headers) of every JSON endpoint, authenticated as its caller."""
    a, agent = site["api"], site["agent"]
    g = site["group_id"]
    return [
        ("post", "/api/agent/v1/enroll", {}),
        ("post", "/api/agent/v1/checkin", agent),
        ("post", "/api/agent/v1/orders/1/result", agent),
        ("post", "/api/relay/v1/connect", {}),
        ("post", "/api/relay/v1/disconnect", {}),
        ("post", "/api/relay/v1/heartbeat", {}),
        ("post", "/api/v1/assistances", a),
        ("post", "/api/v1/assistances/1/end", a),
        ("post", "/api/v1/assistances/1/tools", a),
        ("put", f"/api/v1/reporting-groups/{g}/agent-settings", a),
        ("put", "/api/v1/members/1/role", a),
    ]


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT, '{"x": NaN}', '{"x": 1e999}', "{"])
def test_deep_or_odd_json_is_a_400_on_every_json_endpoint(client, site, body):
    for method, url, headers in _json_endpoints(site):
        response = getattr(client, method)(
            url, data=body, headers={**headers, "Content-Type": "application/json"}
        )
        # 404 where the id in the path does not exist is fine too; never a 5xx.
        assert response.status_code in (400, 404), (url, response.status_code)
        if response.status_code == 400:
            assert response.get_json()["error"]["code"] in ("invalid_body", "invalid_field"), url


def test_deeply_nested_json_on_a_form_page_is_not_a_500(client):
    response = client.post("/login", data=DEEP, headers={"Content-Type": "application/json"})
    assert response.status_code == 400


@pytest.mark.parametrize("body", ["[1]", '"x"', "5", "null"])
def test_a_non_object_body_on_end_is_a_400(client, site, body):
    response = client.post(
        "/api/v1/assistances/1/end",
        data=body,
        headers={**site["api"], "Content-Type": "application/json"},
    )
    assert _error(response)["code"] == "invalid_body"


def test_nul_in_an_agent_field_is_a_400_naming_it_and_the_next_clean_checkin_works(client, site):
    def checkin(username):
        return client.post(
            "/api/agent/v1/checkin",
            headers=site["agent"],
            json={
                "agent_version": "24.10.1",
                "agent_instance_id": "i-1",
                "os_name": "Windows 11",
                "os_version": "23H2",
                "sessions": [
                    {"session_key": "1", "username": "ana", "state": "active", "kind": "console"},
                    {"session_key": "2", "username": username, "state": "active", "kind": "rdp"},
                ],
            },
        )

    error = _error(checkin("bad\x00name"))
    assert (error["code"], error["field"]) == ("invalid_character", "sessions[1].username")
    assert "NUL" in error["message"]
    error = _error(checkin("bad\ud800name"))
    assert error["field"] == "sessions[1].username"
    assert checkin("bob").status_code == 200


def test_nul_in_enrollment_and_a_lone_surrogate_in_a_relay_field_are_400(client, site):
    enroll = client.post(
        "/api/agent/v1/enroll",
        json={"enrollment_token": site["enrollment"], "hostname": "PC\x00", "hardware_id": "h"},
    )
    assert _error(enroll)["field"] == "hostname"
    for path in ("disconnect", "heartbeat"):
        response = client.post(f"/api/relay/v1/{path}", json={"connection_id": "ab\udc80"})
        assert _error(response)["field"] == "connection_id"
    key = client.post("/api/relay/v1/connect", json={"activation\x00": "x"})
    assert _error(key)["code"] == "invalid_character"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/devices?q=%00",
        "/api/v1/sessions?q=a%00b",
        "/api/v1/audit?actor=%00",
        "/api/v1/devices?%00=1",
    ],
)
def test_nul_in_an_api_query_is_a_400_naming_the_argument(client, site, url):
    error = _error(client.get(url, headers=site["api"]))
    assert error["code"] == "invalid_character"
    assert error["field"] in ("q", "actor", "?")


@pytest.mark.parametrize(
    "url",
    [
        "/workspaces/devices?q=%00",
        "/workspaces/sessions?q=%00",
        "/audit?actor=%00",
        "/admin/roles/?search=%00",
        "/admin/memberships/?search=%00",
    ],
)
def test_nul_in_a_page_query_or_admin_search_is_a_400_page(browser, site, url):
    response = _signed_in(browser).get(url)
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_nul_in_a_form_is_a_400(client):
    response = client.post("/login", data={"email": "a\x00@example.com", "password": "x"})
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/devices/2147483648",
        "/api/v1/devices/99999999999999999999999999",
        "/api/v1/assistances/9223372036854775808",
        "/api/v1/reporting-groups/2147483648/effective-settings",
    ],
)
def test_ids_beyond_the_database_range_are_404(client, site, url):
    assert _error(client.get(url, headers=site["api"]), 404)["code"] == "not_found"


def test_an_id_beyond_range_is_404_for_every_method_not_405(client, site):
    """Werkzeug answers 405 when a path matches another method's rule: an id beyond the
    range must match no rule at all."""
    for group in (site["group_id"], 2**31):
        url = f"/api/v1/reporting-groups/{group}/agent-settings"
        response = client.put(url, headers=site["api"], json={"settings": {}})
        assert response.status_code == (200 if group == site["group_id"] else 404), url


@pytest.mark.parametrize("limit", [1, 5, 10, 99, 100, 2047, 2**31 - 1])
def test_the_id_pattern_matches_exactly_one_to_the_limit(limit):
    pattern = re.compile(up_to(limit) + r"\Z")
    probes = {*range(0, 250), limit - 1, limit, limit + 1, 10 * limit, 2**31, 2**40}
    for n in probes:
        assert bool(pattern.match(str(n))) == (1 <= n <= limit), n
    assert not pattern.match("01") and not pattern.match("-1")


def test_ids_out_of_range_in_bodies_arguments_and_agent_paths_are_4xx(client, site):
    g = site["group_id"]
    role = client.get(
        f"/api/v1/reporting-groups/{g}/effective-settings?role=99999999999999", headers=site["api"]
    )
    assert role.status_code == 404
    start = client.post(
        "/api/v1/assistances", headers=site["api"], json={"device_id": 2**31, "type": "unattended"}
    )
    assert _error(start)["field"] == "device_id"
    result = client.post(
        "/api/agent/v1/orders/99999999999999999999/result",
        headers=site["agent"],
        json={"status": "succeeded"},
    )
    assert result.status_code == 404


@pytest.mark.parametrize(
    "query", ["page=99999999999999999999", "page=2147483648", "group=9999999999999", "page=-1"]
)
def test_page_numbers_and_filters_beyond_range_are_400_naming_them(client, site, query):
    paths = (
        ("devices", "sessions") if query.startswith("group") else ("devices", "sessions", "audit")
    )
    for path in paths:
        error = _error(client.get(f"/api/v1/{path}?{query}", headers=site["api"]))
        assert error["code"] == "invalid_filter"
        assert error["field"] == query.split("=")[0]


def test_the_last_possible_page_is_an_empty_page(client, site):
    response = client.get("/api/v1/devices?page=2147483647", headers=site["api"])
    assert response.status_code == 200
    assert response.get_json()["items"] == []


def test_page_numbers_and_ids_beyond_range_on_pages_are_4xx(browser, site):
    _signed_in(browser)
    assert browser.get("/workspaces/devices?page=99999999999999999999").status_code == 400
    assert browser.get("/workspaces/assistances?page=99999999999999999999").status_code == 400
    assert browser.get("/workspaces/devices/2147483648").status_code == 404
    assist = f"/workspaces/devices/{site['device_id']}/assist?session=99999999999999"
    assert browser.get(assist).status_code in (400, 404)
    assert browser.get("/admin/roles/edit/?id=99999999999999999999").status_code == 404
    for query in ("page=99999999999999999999", "page=-5", "sort=abc"):
        assert browser.get(f"/admin/devices/?{query}").status_code == 400, query
    role = browser.submit(
        "/settings/roles/new",
        {"name": "X", "limit": "groups", "group_ids": "99999999999999999999999"},
    )
    assert role.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "to=9999-12-31",
        "from=9999-12-31T23:59:59-05:00",
        "from=0001-01-01T00:00:00+14:00",
        "to=10000-01-01",
    ],
)
def test_dates_out_of_range_on_the_audit_api_and_page_are_400(client, browser, site, query):
    error = _error(client.get(f"/api/v1/audit?{query}", headers=site["api"]))
    assert error["field"] == query.split("=")[0]
    _signed_in(browser)
    assert browser.get(f"/audit?{query}").status_code == 400
    assert browser.get(f"/audit/export.csv?{query}").status_code == 400


def test_the_error_page_survives_a_database_error_in_the_request(app, site):
    """A view whose statement fails leaves the session unusable; the error page (which
    reads the signed-in user and their organizations) still renders, as a 500 page."""
    broken = create_app("test")

    @broken.route("/test-only/database-error")
    def database_error():
        from flask_login import current_user

        assert current_user.is_authenticated
        db.session.add(Organization(name="Acme", slug="acme"))  # the slug is taken
        db.session.flush()

    from tests.conftest import Browser

    browser = _signed_in(Browser(broken.test_client()))
    response = browser.get("/test-only/database-error")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "admin@acme.example" in html  # the full page, with the signed-in user's menu
    assert "Traceback" not in html and "IntegrityError" not in html
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM organizations")).scalar_one() == 1
