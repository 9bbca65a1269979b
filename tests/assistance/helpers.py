"""Playing the agent and the relay client in-process for lifecycle tests."""

from __future__ import annotations

from app.assistance import files
from app.assistance.signing import sign_due
from app.extensions import db
from app.fleet.orders import deliver_pending, record_result
from app.models import AgentOrder, Assistance, Device


def start(client, world, device, ra_type, user="operator", **extra):
    response = client.post(
        "/api/v1/assistances",
        headers=world["tokens"][user],
        json={"device_id": world[device], "type": ra_type, **extra},
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def deliver(app, device_id):
    """The agent picks up its orders (as a long poll would)."""
    with app.app_context():
        return deliver_pending(device_id)


def answer(app, order_id, status="succeeded", result=None, error=None):
    with app.app_context():
        order = db.session.get(AgentOrder, order_id)
        record_result(
            db.session.get(Device, order.device_id), order_id, status, result or {}, error
        )
        db.session.commit()


def assistance(app, assistance_id) -> Assistance:
    with app.app_context():
        row = db.session.get(Assistance, assistance_id)
        db.session.expunge(row)
        return row


def sign(app, assistance_id) -> bytes:
    with app.app_context():
        assert sign_due() >= 1
        return db.session.get(Assistance, assistance_id).activation_file


def token_of(content: bytes) -> str:
    return files.extract_token(content)


def connect(client, token, password=None):
    body = {"activation": token}
    if password is not None:
        body["password"] = password
    return client.post("/api/relay/v1/connect", json=body)


def disconnect(client, connection_id):
    return client.post("/api/relay/v1/disconnect", json={"connection_id": connection_id})


def ready_unattended(app, client, world, device="server"):
    """Start an unattended assistance, let the agent confirm, sign; returns (id, token,
    password)."""
    body = start(client, world, device, "unattended")
    orders = deliver(app, world[device])
    answer(app, orders[0]["id"], result={"session_id": "123456789"})
    content = sign(app, body["id"])
    revealed = client.post(
        f"/api/v1/assistances/{body['id']}/reveal", headers=world["tokens"]["operator"]
    ).get_json()
    return body["id"], token_of(content), revealed["password"], orders[0]
