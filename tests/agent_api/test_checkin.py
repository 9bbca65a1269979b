import threading
import time

from sqlalchemy import event, select

from app.agent_settings.service import SettingChange, apply_changes
from app.extensions import db, redis_store
from app.fleet.checkin import LAST_SEEN_KEY, flush_last_seen
from app.models import AuditEvent, Device, DeviceSession, ReportingGroup
from tests.agent_api.conftest import session


def _device(app, device_id):
    with app.app_context():
        device = db.session.get(Device, device_id)
        sessions = sorted((s.session_key, s.username, s.state) for s in device.sessions)
        return device, sessions


def test_checkin_updates_facts_and_replaces_sessions(app, make_agent):
    agent = make_agent()
    response = agent.checkin(
        [session("1", "alice"), session("2", "bob", "disconnected", "rdp")],
        agent_version="24.11.2",
        os_version="24H2",
    )
    assert response.status_code == 200
    device, sessions = _device(app, agent.device_id)
    assert (device.agent_version, device.os_version) == ("24.11.2", "24H2")
    assert sessions == [("1", "alice", "active"), ("2", "bob", "disconnected")]
    agent.checkin([session("3", "carol", "locked")])
    _, sessions = _device(app, agent.device_id)
    assert sessions == [("3", "carol", "locked")]  # replaced, not appended
    agent.checkin([])
    with app.app_context():
        assert db.session.query(DeviceSession).count() == 0


def test_checkin_returns_effective_settings_orders_and_interval(app, make_agent, fleet):
    with app.app_context():
        apply_changes(
            db.session.get(ReportingGroup, fleet["group_id"]),
            [
                SettingChange("remote_assistance.types", ["dynamic"]),
                SettingChange("proxy_url", "http://proxy:3128"),
            ],
        )
        db.session.commit()
    body = make_agent().checkin().get_json()
    assert body["settings"]["remote_assistance.types"] == ["dynamic"]
    assert body["settings"]["proxy_url"] == "http://proxy:3128"
    assert body["settings"]["audio_redirection"] is False
    assert body["orders"] == []
    assert body["checkin_interval_s"] == app.config["AGENT_CHECKIN_INTERVAL_SECONDS"]


def test_settings_change_reaches_the_next_checkin(app, make_agent, fleet):
    agent = make_agent()
    assert agent.checkin().get_json()["settings"]["audio_redirection"] is False
    with app.app_context():
        apply_changes(
            db.session.get(ReportingGroup, fleet["group_id"]),
            [SettingChange("audio_redirection", True)],
        )
        db.session.commit()
    assert agent.checkin().get_json()["settings"]["audio_redirection"] is True


def test_restart_is_detected_when_the_instance_id_changes(app, make_agent):
    agent = make_agent()
    agent.checkin()
    device, _ = _device(app, agent.device_id)
    assert device.agent_restarted_at is None
    agent.checkin()  # same instance: no restart
    assert _device(app, agent.device_id)[0].agent_restarted_at is None
    agent.instance_id = "restarted-instance"
    agent.checkin()
    device, _ = _device(app, agent.device_id)
    assert device.agent_restarted_at is not None
    assert device.agent_instance_id == "restarted-instance"
    # On the device, not in the audit log (only what a restart interrupts is audited).
    with app.app_context():
        assert not db.session.execute(
            select(AuditEvent.action).where(AuditEvent.action == "device.agent_restarted")
        ).all()


def test_unchanged_checkin_writes_nothing_to_the_database(app, make_agent):
    agent = make_agent()
    sessions = [session("1", "alice")]
    agent.checkin(sessions)
    agent.checkin(sessions)  # warm the settings cache
    writes = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert agent.checkin(sessions).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert writes == []
    with app.app_context():
        assert redis_store.client.hget(LAST_SEEN_KEY, str(agent.device_id)) is not None


def test_checkin_queries_do_not_grow_with_fleet_size(app, make_agent):
    agents = [make_agent() for _ in range(3)]
    for a in agents:
        a.checkin([session()])
        a.checkin([session()])

    def queries_for(agent):
        statements = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            agent.checkin([session()])
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    small = queries_for(agents[0])
    for _ in range(20):
        make_agent().checkin([session()])
    assert queries_for(agents[1]) == small
    assert small <= 3


def test_worker_job_persists_last_seen_in_batches(app, make_agent):
    agents = [make_agent() for _ in range(3)]
    for a in agents:
        a.checkin()
        a.checkin()
    with app.app_context():
        db.session.execute(db.update(Device).values(last_checkin_at=None))
        db.session.commit()
        assert flush_last_seen() == 3
        assert db.session.query(Device).filter(Device.last_checkin_at.is_(None)).count() == 0
        assert flush_last_seen() == 0  # nothing new buffered


def test_bad_and_missing_device_tokens_are_401(app, client, make_agent):
    for headers in ({}, {"Authorization": "Bearer dev_nope"}, {"Authorization": "Token x"}):
        response = client.post("/api/agent/v1/checkin", json={}, headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "invalid_device_token"


def test_malformed_checkin_names_the_field(app, make_agent):
    agent = make_agent()
    cases = [
        ({"sessions": [session(state="asleep")]}, "sessions[0].state"),
        ({"sessions": "none"}, "sessions"),
        ({"agent_version": "v1"}, "agent_version"),
        ({"agent_instance_id": ""}, "agent_instance_id"),
        ({"sessions": [{"session_key": "1"}]}, "sessions[0].username"),
    ]
    for overrides, field in cases:
        response = agent.checkin(**overrides)
        assert response.status_code == 400, overrides
        assert response.get_json()["error"]["field"] == field
    for raw in ("not json", "[1,2]", "null", '{"agent_version": 5}'):
        response = agent.client.post(
            "/api/agent/v1/checkin",
            data=raw,
            headers={**agent.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 400, raw


def test_oversized_body_is_413_json(app, make_agent):
    agent = make_agent()
    big = [session(str(i), "u" * 200) for i in range(6000)]
    response = agent.checkin(big)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_concurrent_checkins_of_one_device_do_not_fail(app, make_agent):
    agent = make_agent()
    results = []

    def run(i):
        results.append(
            agent.client.post(
                "/api/agent/v1/checkin",
                headers=agent.headers,
                json={
                    "agent_version": "24.10.1",
                    "agent_instance_id": agent.instance_id,
                    "os_name": "Windows 11",
                    "os_version": "23H2",
                    "sessions": [session(str(i))],
                },
            ).status_code
        )

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 4
    time.sleep(0)
