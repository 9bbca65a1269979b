"""The reference agent driving a real server process over HTTP."""

import json

from app.extensions import db
from app.fleet.enrollment import create_enrollment_token
from app.fleet.orders import create_order
from app.models import AgentOrder, Device, DeviceSession
from tests import factories
from tests.e2e.conftest import wait_for


def test_simulated_fleet_enrolls_checks_in_and_answers_orders(app, server, processes):
    with app.app_context():
        org = factories.create_org("Acme")
        _, raw = create_enrollment_token(factories.group_of(org), "sim")
        db.session.commit()
    url = server(AGENT_CHECKIN_INTERVAL_SECONDS=1)
    fleet = [
        {
            "hostname": "LAPTOP-1",
            "sessions": [
                {"session_key": "1", "username": "alice", "state": "active", "kind": "console"},
                # A name the portal cannot store: refused by name, the rest still reported.
                {"session_key": "2", "username": "bad\u0000name", "state": "active", "kind": "rdp"},
            ],
        },
        {"hostname": "SRV-1", "os_name": "Windows Server 2022", "kind": "server"},
        {"hostname": "RESTARTER", "restart_every": 1.5},
    ]
    sim = processes.start(
        ["-m", "app.agent_sim", "--url", url, "--poll-wait", "2"],
        env={"AGENT_ENROLLMENT_TOKEN": raw, "SIM_FLEET": json.dumps(fleet)},
    )

    def devices():
        with app.app_context():
            return {d.hostname: d for d in db.session.query(Device).all()}

    def alice_reported():
        with app.app_context():
            return db.session.query(DeviceSession).filter_by(username="alice").count() == 1

    assert wait_for(lambda: len(devices()) == 3), sim.poll()
    assert wait_for(alice_reported)
    with app.app_context():
        laptop = db.session.query(Device).filter_by(hostname="LAPTOP-1").one()
        order_id = create_order(laptop, "ra.unattended.stop", {"assistance_id": 7}).id
        db.session.commit()

    def answered():
        with app.app_context():
            return db.session.get(AgentOrder, order_id).status == "succeeded"

    assert wait_for(answered, timeout=20)
    with app.app_context():
        assert db.session.get(AgentOrder, order_id).result == {"service_removed": True}
    assert wait_for(lambda: devices()["RESTARTER"].agent_restarted_at is not None, timeout=20)
    assert sim.poll() is None  # still running: nothing crashed
