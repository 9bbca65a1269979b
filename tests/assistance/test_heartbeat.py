"""The relay heartbeat (SPEC §5): a crashed RA client never leaves its assistance
`connected` and the device blocked. No heartbeat for three RELAY_HEARTBEAT_SECONDS is a
disconnection, by the same path as /disconnect (unattended → grace, interactive → ended)."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.assistance.lifecycle import drop_silent_connections
from app.assistance.sweeper import sweep
from app.extensions import db
from app.models import AgentOrder, Assistance, AuditEvent, utcnow
from tests.assistance.helpers import (
    answer,
    assistance,
    connect,
    deliver,
    ready_unattended,
    sign,
    start,
    token_of,
)

pytestmark = pytest.mark.usefixtures("as_worker")
INTERVAL = 2  # seconds, for these tests


@pytest.fixture(autouse=True)
def short_interval(app):
    previous = app.config["RELAY_HEARTBEAT_SECONDS"]
    app.config["RELAY_HEARTBEAT_SECONDS"] = INTERVAL
    yield
    app.config["RELAY_HEARTBEAT_SECONDS"] = previous


def heartbeat(client, connection_id):
    return client.post("/api/relay/v1/heartbeat", json={"connection_id": connection_id})


def silent_for(app, assistance_id, seconds):
    """The RA client's last sign of life was `seconds` ago (as after a crash)."""
    with app.app_context():
        db.session.execute(
            update(Assistance)
            .where(Assistance.id == assistance_id)
            .values(last_heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )
        db.session.commit()


def connected_unattended(app, client, world):
    assistance_id, token, password, _ = ready_unattended(app, client, world)
    response = connect(client, token, password)
    assert response.status_code == 200
    body = response.get_json()
    assert body["heartbeat_interval_s"] == INTERVAL
    return assistance_id, token, password, body["connection_id"]


def test_connect_counts_as_a_heartbeat_and_heartbeats_keep_it_connected(app, client, world):
    assistance_id, _, _, connection_id = connected_unattended(app, client, world)
    row = assistance(app, assistance_id)
    assert row.last_heartbeat_at == row.connected_at
    silent_for(app, assistance_id, 2 * INTERVAL)  # two missed: not yet a disconnection
    with app.app_context():
        assert drop_silent_connections() == 0
    silent_for(app, assistance_id, 10 * INTERVAL)
    assert heartbeat(client, connection_id).status_code == 204  # ... then it spoke
    with app.app_context():
        assert drop_silent_connections() == 0
    assert assistance(app, assistance_id).state == "connected"


def test_a_silent_unattended_client_is_disconnected_into_grace_and_can_reconnect(
    app, client, world
):
    assistance_id, token, password, connection_id = connected_unattended(app, client, world)
    silent_for(app, assistance_id, 3 * INTERVAL + 1)
    with app.app_context():
        assert sweep()["silent"] == 1  # the sweeper runs the check
        assert sweep()["silent"] == 0  # once
    row = assistance(app, assistance_id)
    assert row.state == "disconnected" and row.connection_hash is None
    assert row.grace_until > utcnow()
    response = heartbeat(client, connection_id)
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "connection_gone"
    with app.app_context():
        event = (
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == "assistance.disconnected")
                .order_by(AuditEvent.id.desc())
            )
            .scalars()
            .first()
        )
        assert event.actor == "system"
        assert event.details["reason"] == f"no heartbeat from the RA client for {3 * INTERVAL} s"
    # Within the grace window the same file and password connect again.
    again = connect(client, token, password)
    assert again.status_code == 200
    assert assistance(app, assistance_id).state == "connected"


def test_a_silent_interactive_client_ends_the_assistance_and_frees_the_device(app, client, world):
    body = start(client, world, "laptop", "interactive")
    answer(app, deliver(app, world["laptop"])[0]["id"], result={"consent": "granted"})
    token = token_of(sign(app, body["id"]))
    assert connect(client, token).status_code == 200
    # Before: a crashed client's device refuses everyone.
    busy = client.post(
        "/api/v1/assistances",
        headers=world["tokens"]["lead"],
        json={"device_id": world["laptop"], "type": "interactive"},
    )
    assert busy.get_json()["error"]["code"] == "device_busy"
    silent_for(app, body["id"], 3 * INTERVAL + 1)
    with app.app_context():
        assert drop_silent_connections() == 1
    row = assistance(app, body["id"])
    assert row.state == "expired" and "no heartbeat" in row.end_reason
    assert [o["type"] for o in deliver(app, world["laptop"])] == ["ra.end"]
    assert connect(client, token).status_code == 410
    again = client.post(
        "/api/v1/assistances",
        headers=world["tokens"]["lead"],
        json={"device_id": world["laptop"], "type": "interactive"},
    )
    assert again.status_code == 202


def test_two_workers_drop_a_silent_connection_once(app, client, world):
    assistance_id, *_ = connected_unattended(app, client, world)
    silent_for(app, assistance_id, 3 * INTERVAL + 1)
    results, barrier = [], threading.Barrier(2)

    def run():
        with app.app_context():
            barrier.wait()
            results.append(drop_silent_connections())
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1]
    with app.app_context():
        drops = (
            db.session.execute(
                select(AuditEvent).where(AuditEvent.action == "assistance.disconnected")
            )
            .scalars()
            .all()
        )
        assert len(drops) == 1
        assert db.session.query(AgentOrder).filter_by(type="ra.unattended.stop").count() == 0


def test_a_heartbeat_for_an_unknown_connection_is_410_and_counts_against_the_address(app, client):
    app.config["RELAY_MAX_CONNECTS_PER_IP"], previous = 2, app.config["RELAY_MAX_CONNECTS_PER_IP"]
    try:
        assert heartbeat(client, "nope").status_code == 410
        assert heartbeat(client, "nope").status_code == 410
        assert heartbeat(client, "nope").status_code == 429
    finally:
        app.config["RELAY_MAX_CONNECTS_PER_IP"] = previous


def test_live_heartbeats_never_throttle_the_relay(app, client, world):
    assistance_id, *_, connection_id = connected_unattended(app, client, world)
    app.config["RELAY_MAX_CONNECTS_PER_IP"], previous = 3, app.config["RELAY_MAX_CONNECTS_PER_IP"]
    try:
        for _ in range(10):
            assert heartbeat(client, connection_id).status_code == 204
    finally:
        app.config["RELAY_MAX_CONNECTS_PER_IP"] = previous
    assert assistance(app, assistance_id).state == "connected"
