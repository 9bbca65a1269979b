"""Four-eyes approval (SPEC §5 "Access governance"): a start by a role that needs approval
waits (no order, no password), approvers in the device's groups decide once, never on
their own requests; an approval re-checks every start rule; undecided requests expire."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.agent_settings.service import SettingChange, apply_changes
from app.assistance import sweeper
from app.extensions import db
from app.models import AgentOrder, Assistance, AuditEvent, Device, Organization, utcnow
from app.people.organizations import builtin_role
from app.tasks.assistance import notify_approvers, notify_requester
from tests import factories
from tests.assistance.helpers import answer, deliver, sign, start, token_of

pytestmark = pytest.mark.usefixtures("as_worker")


def _require_approval(app, world, role_key="operator", on=True):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        role = builtin_role(org.id, role_key)
        apply_changes(
            factories.product_of(org),
            [SettingChange("remote_assistance.approval_required", on, role.id)],
        )
        db.session.commit()


def _orders(app, device_id):
    with app.app_context():
        return (
            db.session.execute(select(AgentOrder).where(AgentOrder.device_id == device_id))
            .scalars()
            .all()
        )


def _row(app, assistance_id) -> Assistance:
    with app.app_context():
        row = db.session.get(Assistance, assistance_id)
        db.session.expunge(row)
        return row


def _events(app, action):
    with app.app_context():
        return (
            db.session.execute(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )


def _approve(client, world, assistance_id, who="lead", **body):
    return client.post(
        f"/api/v1/assistances/{assistance_id}/approve", headers=world["tokens"][who], json=body
    )


def test_a_start_that_needs_approval_waits_with_nothing_sent_and_the_device_says_so(
    app, client, world
):
    _require_approval(app, world)
    device = client.get(
        f"/api/v1/devices/{world['server']}", headers=world["tokens"]["operator"]
    ).get_json()
    assert device["remote_assistance"]["unattended"]["approval_required"] is True
    body = start(client, world, "server", "unattended", reason="Disk full", ticket="INC-42")
    assert body["state"] == "awaiting_approval"
    assert body["reason"] == "Disk full" and body["ticket"] == "INC-42"
    assert body["approval"]["decided_by"] is None and body["approval"]["expires_at"]
    assert _orders(app, world["server"]) == []
    row = _row(app, body["id"])
    assert row.password_hash is None and row.sealed_password is None
    # The request holds the device: a second start is refused, naming it.
    again = client.post(
        "/api/v1/assistances",
        headers=world["tokens"]["lead"],
        json={"device_id": world["server"], "type": "unattended"},
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "device_busy"
    (event,) = _events(app, "assistance.approval_requested")
    assert event.details["reason"] == "Disk full" and event.details["ticket"] == "INC-42"
    # The lead (not limited, holds ra.approve) does not need approval.
    lead_view = client.get(
        f"/api/v1/devices/{world['laptop']}", headers=world["tokens"]["lead"]
    ).get_json()
    assert lead_view["remote_assistance"]["interactive"]["approval_required"] is False


def test_approval_starts_it_as_a_direct_start_would(app, client, world, outbox):
    _require_approval(app, world)
    body = start(client, world, "server", "unattended", reason="Patch night")
    pending = client.get("/api/v1/approvals", headers=world["tokens"]["lead"]).get_json()
    assert [a["id"] for a in pending["items"]] == [body["id"]]
    with app.app_context():
        assert notify_approvers(body["id"]) >= 1  # the lead (and no one who is the requester)
    mail = outbox.last_body("lead@acme.example")
    assert "operator@acme.example" in mail and "Patch night" in mail
    assert not outbox.messages("operator@acme.example")

    response = _approve(client, world, body["id"], note="ok, go")
    assert response.status_code == 200, response.get_json()
    approved = response.get_json()
    assert approved["state"] == "requested"
    assert approved["approval"]["decided_by"]["name"] == "lead@acme.example"
    assert approved["approval"]["note"] == "ok, go"
    (order,) = deliver(app, world["server"])
    assert order["type"] == "ra.unattended.start"
    answer(app, order["id"], result={"session_id": "123456789"})
    content = sign(app, body["id"])
    claims = token_of(content).split(".")[1]
    import base64
    import json

    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert "Patch night" not in json.dumps(decoded)  # never in the activation file
    revealed = client.post(
        f"/api/v1/assistances/{body['id']}/reveal", headers=world["tokens"]["operator"]
    )
    assert revealed.status_code == 200 and len(revealed.get_json()["password"]) == 14
    started = _events(app, "assistance.started")[-1]
    assert started.actor == "operator@acme.example"
    assert started.details["approved_by"] == "lead@acme.example"
    with app.app_context():
        assert notify_requester(body["id"]) is True
    assert "lead@acme.example approved" in outbox.last_body("operator@acme.example")
    assert (
        client.get("/api/v1/approvals", headers=world["tokens"]["lead"]).get_json()["items"] == []
    )


def test_the_requester_cannot_approve_their_own_request(app, client, world):
    _require_approval(app, world, "helpdesk_lead")
    body = start(client, world, "laptop", "interactive", user="lead")
    assert body["state"] == "awaiting_approval"
    listed = client.get("/api/v1/approvals", headers=world["tokens"]["lead"]).get_json()
    assert listed["items"] == []  # never shown as theirs to decide
    response = _approve(client, world, body["id"])
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "own_request"
    assert _row(app, body["id"]).state == "awaiting_approval"


def test_operators_and_auditors_cannot_decide(app, client, world):
    _require_approval(app, world)
    body = start(client, world, "server", "unattended")
    for who in ("operator", "auditor"):
        assert client.get("/api/v1/approvals", headers=world["tokens"][who]).status_code == 403
        assert _approve(client, world, body["id"], who=who).status_code in (403, 404)
    assert _row(app, body["id"]).state == "awaiting_approval"


def test_an_approver_limited_to_other_groups_does_not_see_the_request(app, client, world):
    _require_approval(app, world)
    body = start(client, world, "server", "unattended")
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        kiosks = (
            db.session.execute(select(Device).where(Device.id == world["kiosk"]))
            .scalar_one()
            .reporting_group_id
        )
        role = factories.create_role(org, "Kiosk lead", {"devices.view", "ra.approve"}, [kiosks])
        headers = factories.api_headers(factories.create_member_with(org, role), org)
        db.session.commit()
    assert client.get("/api/v1/approvals", headers=headers).get_json()["items"] == []
    for verb in ("approve", "deny"):
        response = client.post(
            f"/api/v1/assistances/{body['id']}/{verb}", headers=headers, json={"reason": "x"}
        )
        assert response.status_code == 404
    assert _row(app, body["id"]).state == "awaiting_approval"


def test_deny_needs_a_reason_and_is_final(app, client, world, outbox):
    _require_approval(app, world)
    body = start(client, world, "server", "unattended")
    url = f"/api/v1/assistances/{body['id']}/deny"
    assert client.post(url, headers=world["tokens"]["lead"], json={}).status_code == 400
    blank = client.post(url, headers=world["tokens"]["lead"], json={"reason": "   "})
    assert blank.status_code == 400
    denied = client.post(url, headers=world["tokens"]["lead"], json={"reason": "Not tonight"})
    assert denied.status_code == 200 and denied.get_json()["state"] == "denied"
    assert denied.get_json()["approval"]["note"] == "Not tonight"
    late = _approve(client, world, body["id"])
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "already_decided"
    assert _orders(app, world["server"]) == []
    with app.app_context():
        notify_requester(body["id"])
    assert "Not tonight" in outbox.last_body("operator@acme.example")
    # The device is free again.
    assert start(client, world, "server", "unattended", user="lead")["state"] == "requested"


def test_a_refusal_that_arose_meanwhile_fails_the_request_at_approval(app, client, world):
    _require_approval(app, world)
    body = start(client, world, "laptop", "interactive")
    with app.app_context():
        db.session.get(Device, world["laptop"]).last_checkin_at = utcnow() - timedelta(hours=2)
        db.session.commit()
    response = _approve(client, world, body["id"])
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "device_offline"
    row = _row(app, body["id"])
    assert row.state == "failed" and "offline" in row.end_reason
    assert row.decided_by_id == world["lead_id"]
    assert _orders(app, world["laptop"]) == []
    refused = _events(app, "assistance.refused")[-1]
    assert refused.details["code"] == "device_offline" and refused.details["after_approval"]


def test_dynamic_is_decided_when_approved(app, client, world):
    _require_approval(app, world)
    body = start(client, world, "kiosk", "dynamic")
    assert body["state"] == "awaiting_approval"
    response = _approve(client, world, body["id"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["type"] == "unattended"
    assert [o["type"] for o in deliver(app, world["kiosk"])] == ["ra.unattended.start"]


def test_undecided_requests_expire_once(app, client, world, outbox):
    _require_approval(app, world)
    body = start(client, world, "server", "unattended")
    with app.app_context():
        row = db.session.get(Assistance, body["id"])
        row.approval_deadline = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert sweeper.sweep()["approval"] == 1
        assert sweeper.sweep()["approval"] == 0
    row = _row(app, body["id"])
    assert row.state == "expired" and row.decided_at is None
    assert len(_events(app, "assistance.approval_expired")) == 1
    assert _approve(client, world, body["id"]).get_json()["error"]["code"] == "already_decided"
    with app.app_context():
        notify_requester(body["id"])
    assert "in time" in outbox.last_body("operator@acme.example")


def test_the_requester_may_cancel_a_waiting_request_and_nothing_reaches_the_agent(
    app, client, world
):
    _require_approval(app, world)
    body = start(client, world, "server", "unattended")
    ended = client.post(
        f"/api/v1/assistances/{body['id']}/end", headers=world["tokens"]["operator"], json={}
    )
    assert ended.status_code == 200 and ended.get_json()["state"] == "cancelled"
    assert _orders(app, world["server"]) == []


def test_reason_required_refuses_a_start_without_one(app, client, world):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        apply_changes(
            factories.product_of(org), [SettingChange("remote_assistance.reason_required", True)]
        )
        db.session.commit()
    device = client.get(
        f"/api/v1/devices/{world['server']}", headers=world["tokens"]["operator"]
    ).get_json()
    assert device["remote_assistance"]["unattended"]["reason_required"] is True
    response = client.post(
        "/api/v1/assistances",
        headers=world["tokens"]["operator"],
        json={"device_id": world["server"], "type": "unattended", "reason": "  "},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "reason_required"
    assert _events(app, "assistance.refused")[-1].details["code"] == "reason_required"
    long = client.post(
        "/api/v1/assistances",
        headers=world["tokens"]["operator"],
        json={"device_id": world["server"], "type": "unattended", "reason": "x" * 501},
    )
    assert long.status_code == 400
    body = start(client, world, "server", "unattended", reason="Backup failed", ticket="CHG-7")
    assert body["state"] == "requested"
    started = _events(app, "assistance.started")[-1]
    assert started.details["reason"] == "Backup failed" and started.details["ticket"] == "CHG-7"
    for q in ("backup", "chg-7"):
        found = client.get(
            "/api/v1/assistances", headers=world["tokens"]["operator"], query_string={"q": q}
        ).get_json()
        assert [a["id"] for a in found["items"]] == [body["id"]]


def test_governance_settings_never_reach_agents(app, world):
    _require_approval(app, world)
    from app.agent_settings.cache import compute

    with app.app_context():
        device = db.session.get(Device, world["server"])
        settings = compute(device.reporting_group)
    assert not any(key.startswith("remote_assistance.approval") for key in settings)
    assert "remote_assistance.reason_required" not in settings


def test_two_approvers_at_once_make_one_decision(app, world):
    _require_approval(app, world)
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        second = factories.api_headers(factories.create_member(org, "org_admin"), org)
        db.session.commit()
    client = app.test_client()
    body = start(client, world, "server", "unattended")
    barrier = threading.Barrier(2)
    results = []

    def decide(headers, verb):
        own = app.test_client()
        barrier.wait()
        payload = {"reason": "no"} if verb == "deny" else {}
        response = own.post(
            f"/api/v1/assistances/{body['id']}/{verb}", headers=headers, json=payload
        )
        results.append((verb, response.status_code, response.get_json()))

    threads = [
        threading.Thread(target=decide, args=(world["tokens"]["lead"], "approve")),
        threading.Thread(target=decide, args=(second, "deny")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(status for _, status, _ in results)
    assert codes == [200, 409], results
    loser = next(b for _, status, b in results if status == 409)
    assert loser["error"]["code"] == "already_decided"
    winner = next(verb for verb, status, _ in results if status == 200)
    row = _row(app, body["id"])
    assert row.state == ("requested" if winner == "approve" else "denied")
    decisions = _events(app, "assistance.approved") + _events(app, "assistance.denied")
    assert len(decisions) == 1
    assert len(_orders(app, world["server"])) == (1 if winner == "approve" else 0)


def _window(app, world, days):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        apply_changes(
            factories.product_of(org),
            [
                SettingChange(
                    "remote_assistance.access_windows",
                    [{"days": days, "from": "00:00", "to": "24:00"}],
                )
            ],
        )
        db.session.commit()


def test_an_approval_checks_the_access_window_and_stamps_its_close(app, client, world):
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[utcnow().weekday()]
    other = "sun" if day != "sun" else "mon"
    _require_approval(app, world)
    _window(app, world, [day])
    first = start(client, world, "server", "unattended")
    assert first["window_closes_at"] is None  # a request reaches nothing yet
    approved = _approve(client, world, first["id"]).get_json()
    assert approved["state"] == "requested" and approved["window_closes_at"] is not None
    client.post(f"/api/v1/assistances/{first['id']}/end", headers=world["tokens"]["lead"], json={})
    second = start(client, world, "server", "unattended")
    _window(app, world, [other])  # the window closed while the request waited
    refused = _approve(client, world, second["id"])
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "outside_access_window"
    assert _row(app, second["id"]).state == "failed"


def test_the_approval_flow_reaches_webhooks_in_order(app, client, world):
    import json as _json

    from tests.webhooks.helpers import deliveries, endpoint

    endpoint_id, _ = endpoint(app, world["org"], "https://hooks.example.com/in", ["assistance.*"])
    _require_approval(app, world)
    body = start(client, world, "server", "unattended", reason="Patch", ticket="CHG-1")
    _approve(client, world, body["id"], note="ok")
    sent = deliveries(app, endpoint_id)
    assert [d.event_type for d in sent] == [
        "assistance.approval_requested",
        "assistance.approved",
        "assistance.started",
    ]
    requested = _json.loads(sent[0].body)
    assert requested["data"]["details"]["reason"] == "Patch"
    assert requested["data"]["details"]["ticket"] == "CHG-1"
