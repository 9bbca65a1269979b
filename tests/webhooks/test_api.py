"""/api/v1/webhooks: the same endpoints as Settings → Webhooks, for scripts."""

from __future__ import annotations

import pytest

from tests.api.conftest import tokens  # noqa: F401  (the fixture)
from tests.test_no_store import assert_no_store

URL = "https://hooks.example.com/in"


@pytest.fixture
def admin(tokens):  # noqa: F811
    return tokens("org_admin")[0]


def test_create_list_change_test_rotate_delete(client, admin):
    body = {"url": URL, "events": ["assistance.*"]}
    created = client.post("/api/v1/webhooks", headers=admin, json=body)
    assert created.status_code == 201, created.get_json()
    assert_no_store(created)
    body = created.get_json()
    assert body["secret"].startswith(body["secret_prefix"]) and body["status"] == "active"
    hook = f"/api/v1/webhooks/{body['id']}"

    listed = client.get("/api/v1/webhooks", headers=admin).get_json()["items"]
    assert [h["url"] for h in listed] == [URL] and "secret" not in listed[0]
    assert "secret" not in client.get(hook, headers=admin).get_json()

    changed = client.put(hook, headers=admin, json={"events": ["role.*"], "enabled": False})
    assert changed.status_code == 200
    assert changed.get_json() | {} == {
        **changed.get_json(),
        "events": ["role.*"],
        "enabled": False,
        "status": "disabled",
        "changed": True,
    }
    assert client.put(hook, headers=admin, json={}).get_json()["changed"] is False
    refused = client.post(f"{hook}/test", headers=admin)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "endpoint_disabled"
    client.put(hook, headers=admin, json={"enabled": True})

    queued = client.post(f"{hook}/test", headers=admin)
    assert queued.status_code == 202
    assert queued.get_json()["event_type"] == "ping" and queued.get_json()["state"] == "pending"
    log = client.get(f"{hook}/deliveries", headers=admin).get_json()
    assert log["total"] == 1 and log["items"][0]["id"] == queued.get_json()["id"]

    rotated = client.post(f"{hook}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    assert_no_store(rotated)
    assert rotated.get_json()["secret"] != body["secret"]

    assert client.delete(hook, headers=admin).status_code == 204
    assert client.get(hook, headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"url": URL}, "events", "invalid_field"),
        ({"url": URL, "events": "assistance.*"}, "events", "invalid_field"),
        ({"url": URL, "events": ["assistance.*", 3]}, "events[1]", "invalid_field"),
        ({"url": URL, "events": ["bogus"]}, "events", "invalid_events"),
        ({"url": URL, "events": ["auth.login"]}, "events", "invalid_events"),
        ({"url": "https://x.example/" + "a" * 3000, "events": ["*"]}, "url", "invalid_field"),
        ({"url": "javascript:alert(1)", "events": ["*"]}, "url", "bad_url"),
        ({"url": "https://a:b@x.example/", "events": ["*"]}, "url", "bad_url"),
        ({"url": None, "events": ["*"]}, "url", "invalid_field"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, admin, body, field, code):
    response = client.post("/api/v1/webhooks", headers=admin, json=body)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert (error["field"], error["code"]) == (field, code), error
    assert error["message"]


def test_non_admins_get_403_and_other_organizations_404(client, tokens):  # noqa: F811
    lead, _ = tokens("helpdesk_lead")
    assert client.get("/api/v1/webhooks", headers=lead).status_code == 403
    response = client.post("/api/v1/webhooks", headers=lead, json={"url": URL, "events": ["*"]})
    assert response.status_code == 403

    acme, _ = tokens("org_admin", "Acme")
    globex, _ = tokens("org_admin", "Globex")
    hook_id = client.post(
        "/api/v1/webhooks", headers=globex, json={"url": URL, "events": ["*"]}
    ).get_json()["id"]
    hook = f"/api/v1/webhooks/{hook_id}"
    assert client.get(hook, headers=acme).status_code == 404
    assert client.put(hook, headers=acme, json={"enabled": False}).status_code == 404
    assert client.delete(hook, headers=acme).status_code == 404
    for action in ("test", "rotate-secret"):
        assert client.post(f"{hook}/{action}", headers=acme).status_code == 404
    assert client.get(f"{hook}/deliveries", headers=acme).status_code == 404
    assert client.get("/api/v1/webhooks", headers=acme).get_json()["items"] == []


def test_an_organization_has_at_most_twenty_endpoints(client, admin):
    for n in range(20):
        body = {"url": f"{URL}/{n}", "events": ["*"]}
        assert client.post("/api/v1/webhooks", headers=admin, json=body).status_code == 201
    over = client.post("/api/v1/webhooks", headers=admin, json={"url": URL, "events": ["*"]})
    assert over.status_code == 409
    assert over.get_json()["error"]["code"] == "too_many_endpoints"
