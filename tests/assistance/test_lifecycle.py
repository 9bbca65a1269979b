"""The lifecycle of SPEC §4, in-process (the worker's functions called directly)."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.assistance.sweeper import sweep
from app.extensions import db
from app.models import AgentOrder, Assistance, AuditEvent, Device, utcnow
from tests.assistance.helpers import (
    answer,
    assistance,
    connect,
    deliver,
    disconnect,
    ready_unattended,
    sign,
    start,
    token_of,
)

pytestmark = pytest.mark.usefixtures("as_worker")


def _actions(app, assistance_id):
    with app.app_context():
        return (
            db.session.execute(
                select(AuditEvent.action)
                .where(
                    AuditEvent.target_type == "Assistance",
                    AuditEvent.target_id == str(assistance_id),
                )
                .order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )


def test_interactive_consent_granted_then_connect_and_end(app, client, world):
    body = start(client, world, "laptop", "interactive")
    assert body["state"] == "awaiting_consent" and body["type"] == "interactive"
    orders = deliver(app, world["laptop"])
    assert orders[0]["type"] == "ra.interactive.start"
    assert orders[0]["payload"] == {
        "assistance_id": body["id"],
        "session_key": "1",
        "audio_redirection": False,
        "operator_name": "operator@acme.example",
    }
    answer(app, orders[0]["id"], result={"consent": "granted"})
    assert assistance(app, body["id"]).state == "ready"
    token = token_of(sign(app, body["id"]))
    response = connect(client, token)
    assert response.status_code == 200, response.get_json()
    assert assistance(app, body["id"]).state == "connected"
    disconnect(client, response.get_json()["connection_id"])
    ended = assistance(app, body["id"])
    assert ended.state == "expired" and ended.activation_file is None
    assert connect(client, token).status_code == 410
    assert [o["type"] for o in deliver(app, world["laptop"])] == ["ra.end"]
    assert _actions(app, body["id"]) == [
        "assistance.started",
        "assistance.consent_answered",
        "assistance.file_signed",
        "assistance.connected",
        "assistance.disconnected",
        "assistance.expired",
    ]


@pytest.mark.parametrize("consent", ["denied", "timeout"])
def test_interactive_denied_or_unanswered_consent_is_denied(app, client, world, consent):
    body = start(client, world, "laptop", "interactive")
    orders = deliver(app, world["laptop"])
    answer(app, orders[0]["id"], result={"consent": consent})
    ended = assistance(app, body["id"])
    assert ended.state == "denied" and ended.end_reason == f"consent {consent}"


def test_unattended_password_reveal_once_grace_and_cleanup(app, client, world):
    assistance_id, token, password, start_order = ready_unattended(app, client, world)
    assert start_order["payload"]["password"] == password  # the agent got it
    row = assistance(app, assistance_id)
    assert row.sid == "123456789" and row.state == "ready"
    assert row.password_hash.startswith("$argon2id$") and row.sealed_password is None
    again = client.post(
        f"/api/v1/assistances/{assistance_id}/reveal", headers=world["tokens"]["operator"]
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_revealed"
    assert connect(client, token, "wrong-password").status_code == 401
    first = connect(client, token, password)
    assert first.status_code == 200
    disconnect(client, first.get_json()["connection_id"])
    row = assistance(app, assistance_id)
    assert row.state == "disconnected" and row.grace_until > utcnow()
    # Within the grace window the same file and password work again (e.g. after a reboot).
    second = connect(client, token, password)
    assert second.status_code == 200
    disconnect(client, second.get_json()["connection_id"])
    with app.app_context():
        db.session.get(Assistance, assistance_id).grace_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert sweep()["grace"] == 1
    row = assistance(app, assistance_id)
    assert row.state == "expired" and row.activation_file is None and row.password_hash is None
    assert row.teardown == "pending"
    response = connect(client, token, password)
    assert response.status_code == 410
    stop = deliver(app, world["server"])
    assert [o["type"] for o in stop] == ["ra.unattended.stop"]
    answer(app, stop[0]["id"], result={"service_removed": True})
    assert assistance(app, assistance_id).teardown == "confirmed"
    assert "assistance.teardown_confirmed" in _actions(app, assistance_id)


def test_teardown_not_confirmed_is_flagged(app, client, world):
    assistance_id, *_ = ready_unattended(app, client, world)
    client.post(f"/api/v1/assistances/{assistance_id}/end", headers=world["tokens"]["operator"])
    with app.app_context():
        row = db.session.get(Assistance, assistance_id)
        order = db.session.get(AgentOrder, row.stop_order_id)
        order.status = "expired"
        db.session.commit()
        assert sweep()["teardown"] == 1
    assert assistance(app, assistance_id).teardown == "unconfirmed"


def test_five_wrong_passwords_lock_the_assistance(app, client, world):
    assistance_id, token, password, _ = ready_unattended(app, client, world)
    statuses = [connect(client, token, f"wrong-{i}").status_code for i in range(5)]
    assert statuses == [401, 401, 401, 401, 423]
    assert connect(client, token, password).status_code == 423
    row = assistance(app, assistance_id)
    assert row.state == "locked" and row.failed_password_attempts == 5
    assert "assistance.locked" in _actions(app, assistance_id)
    assert _actions(app, assistance_id).count("assistance.wrong_password") == 5


def test_ready_never_connected_expires_after_its_ttl(app, client, world):
    assistance_id, token, password, _ = ready_unattended(app, client, world)
    with app.app_context():
        db.session.get(Assistance, assistance_id).ready_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert sweep()["ttl"] == 1
    assert assistance(app, assistance_id).state == "expired"
    assert connect(client, token, password).status_code == 410


def test_agent_restart_interrupts_the_assistance(app, client, world):
    from app.agent_api.schemas import CheckinBody
    from app.fleet.checkin import AgentIdentity, checkin

    body = start(client, world, "laptop", "interactive")
    with app.app_context():
        device = db.session.get(Device, world["laptop"])
        checkin(
            AgentIdentity.of(device),
            CheckinBody.model_validate(
                {
                    "agent_version": "24.10.1",
                    "agent_instance_id": "instance-2",
                    "os_name": "Windows 11",
                    "os_version": "23H2",
                    "sessions": [
                        {
                            "session_key": "1",
                            "username": "ana",
                            "state": "active",
                            "kind": "console",
                        }
                    ],
                }
            ),
        )
    row = assistance(app, body["id"])
    assert row.state == "interrupted" and row.end_reason == "the agent restarted"


def test_agent_that_never_answers_fails_the_assistance(app, client, world):
    body = start(client, world, "server", "unattended")
    with app.app_context():
        order = db.session.get(AgentOrder, db.session.get(Assistance, body["id"]).start_order_id)
        order.status = "expired"
        db.session.commit()
        assert sweep()["unanswered"] == 1
    row = assistance(app, body["id"])
    assert row.state == "failed" and "did not answer" in row.end_reason
    assert row.sealed_password is None


@pytest.mark.parametrize(
    ("device", "expected", "reason"),
    [
        ("kiosk", "unattended", "no active user session"),
        ("kiosk_user", "interactive", "active user session 1"),
    ],
)
def test_dynamic_decides_from_the_sessions_and_records_why(
    app, client, world, device, expected, reason
):
    body = start(client, world, device, "dynamic")
    assert body["type"] == expected and body["requested_type"] == "dynamic"
    assert reason in body["decision_reason"]
    with app.app_context():
        started = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "assistance.started")
        ).scalar_one()
        assert started.details["type"] == expected and reason in started.details["decision"]


def test_one_live_assistance_per_device(app, client, world):
    start(client, world, "laptop", "interactive")
    second = client.post(
        "/api/v1/assistances",
        headers=world["tokens"]["lead"],
        json={"device_id": world["laptop"], "type": "unattended"},
    )
    assert second.status_code == 409
    assert second.get_json()["error"]["code"] == "device_busy"
    with app.app_context():
        refused = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "assistance.refused")
        ).scalar_one()
        assert refused.details["code"] == "device_busy"


def test_database_enforces_one_live_assistance_per_device(app, client, world):
    from sqlalchemy.exc import IntegrityError

    body = start(client, world, "laptop", "interactive")
    with app.app_context():
        first = db.session.get(Assistance, body["id"])
        twin = Assistance(
            organization_id=first.organization_id,
            device_id=first.device_id,
            requested_type="unattended",
            type="unattended",
            state="ready",
            sid="111111111",
            file_kind="exe",
        )
        db.session.add(twin)
        with pytest.raises(IntegrityError):
            db.session.commit()


def test_end_and_revoke(app, client, world):
    assistance_id, token, password, _ = ready_unattended(app, client, world)
    response = client.post(
        f"/api/v1/assistances/{assistance_id}/end",
        headers=world["tokens"]["operator"],
        json={"revoke": True},
    )
    assert response.status_code == 200 and response.get_json()["state"] == "cancelled"
    assert connect(client, token, password).status_code == 410
    assert "assistance.revoked" in _actions(app, assistance_id)
    again = client.post(
        f"/api/v1/assistances/{assistance_id}/end", headers=world["tokens"]["operator"]
    )
    assert again.status_code == 409


def test_activation_file_download_formats(app, client, world):
    body = start(client, world, "server", "unattended")
    answer(app, deliver(app, world["server"])[0]["id"], result={})
    sign(app, body["id"])
    response = client.get(
        f"/api/v1/assistances/{body['id']}/activation-file", headers=world["tokens"]["operator"]
    )
    assert response.status_code == 200
    content = response.data
    assert body["file_kind"] == "exe"  # no operator device registered
    assert content.endswith(b"FLXRA001")
    length = int.from_bytes(content[-12:-8], "big")
    token = content[-12 - length : -12].decode()
    assert token.count(".") == 2
    assert content.startswith(b"MZ-STAND-IN")
    assert 'filename="remote-assistance-' in response.headers["Content-Disposition"]
    header = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["typ"] == "flxra+jwt" and header["alg"] == "EdDSA"
