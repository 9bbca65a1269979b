"""Parked agents against the production web server (gunicorn, gevent workers), over real
HTTP: a parked poll costs no database or Redis connection, hundreds of them do not starve
a check-in, and an order made through one web process wakes a poll parked on another."""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import time
from urllib.parse import urlsplit

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from app.extensions import db, redis_store
from app.fleet.enrollment import token_hash
from app.fleet.orders import create_order
from app.models import Device
from tests import factories
from tests.assistance.conftest import world  # noqa: F401 (fixture)
from tests.e2e.conftest import wait_for

PARKED = 300
CHECKIN = {
    "agent_version": "24.10.1",
    "agent_instance_id": "instance-1",
    "os_name": "Windows 11",
    "os_version": "23H2",
    "sessions": [],
}


@pytest.fixture
def parked_fleet(app):
    """Devices with known tokens (as enrolled agents have)."""
    with app.app_context():
        org = factories.create_org("Fleet")
        group_id = factories.group_of(org).id
        tokens = {}
        for n in range(PARKED + 1):
            raw = f"dev_{secrets.token_urlsafe(24)}"
            device = Device(
                organization_id=org.id,
                reporting_group_id=group_id,
                hardware_id=f"hw-{n}",
                hostname=f"PC-{n:04d}",
                os_name="Windows 11",
                os_version="23H2",
                agent_version="24.10.1",
                agent_instance_id="instance-1",
                token_hash=token_hash(raw),
            )
            db.session.add(device)
            db.session.flush()
            tokens[device.id] = raw
        db.session.commit()
        return tokens


def _metrics(url: str) -> dict[str, float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.labels:
                values[sample.name] = sample.value
    return values


def _server_redis_clients(app, server_proc) -> dict[str, int]:
    """The web server's Redis connections by kind (the hub's subscription, pooled command
    connections), from Redis itself. Only this server's processes count: a server of an
    earlier test still closing, or any other client of the same Redis, is left out."""
    root = psutil.Process(server_proc.pid)
    pids = {str(p.pid) for p in [root, *root.children(recursive=True)]}
    with app.app_context():
        clients = redis_store.client.client_list()
    counts = {"hub": 0, "web": 0}
    for client in clients:
        kind, _, pid = client.get("name", "").removeprefix("portal-").rpartition("-")
        if kind in counts and pid in pids:
            counts[kind] += 1
    return counts


class Poller(threading.Thread):
    """One agent parked in `GET /orders?wait=…` on its own keep-alive connection."""

    def __init__(self, url: str, token: str, wait: int = 25) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.token, self.wait = token, wait
        self.status: int | None = None
        self.orders: list = []
        self.elapsed = 0.0

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.wait + 20)
        started = time.monotonic()
        try:
            conn.request(
                "GET",
                f"/api/agent/v1/orders?wait={self.wait}",
                headers={"Authorization": f"Bearer {self.token}"},
            )
            response = conn.getresponse()
            self.status = response.status
            self.orders = json.loads(response.read()).get("orders", [])
        except OSError:
            self.status = -1
        finally:
            self.elapsed = time.monotonic() - started
            conn.close()


def _park(url: str, tokens: list[str]) -> list[Poller]:
    pollers = [Poller(url, token) for token in tokens]
    for poller in pollers:
        poller.start()
    assert wait_for(lambda: _metrics(url).get("portal_agent_polls_parked") == len(tokens), 60), (
        _metrics(url).get("portal_agent_polls_parked")
    )
    return pollers


def _release(app, device_ids, pollers) -> None:
    """Give every parked device an order: each poll returns with its own, at once."""
    with app.app_context():
        for device_id in device_ids:
            create_order(db.session.get(Device, device_id), "ra.end", {"assistance_id": device_id})
        db.session.commit()
    for poller in pollers:
        poller.join(timeout=30)


def test_parked_polls_hold_no_database_or_redis_connection_of_their_own(
    app, server, processes, parked_fleet
):
    url = server(workers=1, WEB_GRACEFUL_TIMEOUT_SECONDS=1)
    server_proc = processes.procs[-1]
    ids = sorted(parked_fleet)[:PARKED]
    pollers = _park(url, [parked_fleet[i] for i in ids])
    values = _metrics(url)
    assert values["portal_db_connections_in_use"] == 0
    # One subscription per process, and a bounded pool for commands, whatever the number
    # of parked polls.
    clients = _server_redis_clients(app, server_proc)
    assert clients["hub"] == 1
    assert clients["web"] <= app.config["REDIS_MAX_CONNECTIONS"] < PARKED
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            from sqlalchemy import text

            web = db.session.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'portal-web'"
                )
            ).scalar()
            assert web <= app.config["DB_POOL_SIZE"] + app.config["DB_MAX_OVERFLOW"]

    _release(app, ids, pollers)
    assert all(p.status == 200 for p in pollers), {p.status for p in pollers}
    assert sorted(p.orders[0]["payload"]["assistance_id"] for p in pollers) == ids
    assert max(p.elapsed for p in pollers) < 25  # woken, not timed out


def test_hundreds_of_parked_polls_do_not_starve_a_check_in(app, server, parked_fleet):
    url = server(workers=1, WEB_GRACEFUL_TIMEOUT_SECONDS=1)
    ids = sorted(parked_fleet)
    parked, other = ids[:PARKED], ids[PARKED]
    pollers = _park(url, [parked_fleet[i] for i in parked])
    took = []
    for _ in range(20):
        started = time.monotonic()
        response = requests.post(
            f"{url}/api/agent/v1/checkin",
            json=CHECKIN,
            headers={"Authorization": f"Bearer {parked_fleet[other]}"},
            timeout=10,
        )
        took.append(time.monotonic() - started)
        assert response.status_code == 200
    # Answered while every parked poll still waits (each waits 25 s).
    assert all(p.is_alive() for p in pollers)
    assert max(took) < 5, took
    _release(app, parked, pollers)


def test_an_order_made_through_one_web_process_wakes_a_poll_parked_on_another(
    app,
    server,
    world,  # noqa: F811
):
    with app.app_context():
        raw = f"dev_{secrets.token_urlsafe(24)}"
        db.session.get(Device, world["laptop"]).token_hash = token_hash(raw)
        db.session.commit()
    operators_node = server(workers=1, WEB_GRACEFUL_TIMEOUT_SECONDS=1)
    agents_node = server(workers=1, WEB_GRACEFUL_TIMEOUT_SECONDS=1)
    poller = Poller(agents_node, raw)
    poller.start()
    assert wait_for(lambda: _metrics(agents_node).get("portal_agent_polls_parked") == 1, 30)
    started = time.monotonic()
    response = requests.post(
        f"{operators_node}/api/v1/assistances",
        json={"device_id": world["laptop"], "type": "interactive"},
        headers=world["tokens"]["operator"],
        timeout=10,
    )
    assert response.status_code == 202, response.text
    poller.join(timeout=30)
    assert poller.status == 200
    assert [o["type"] for o in poller.orders] == ["ra.interactive.start"]
    assert poller.orders[0]["payload"]["assistance_id"] == response.json()["id"]
    assert time.monotonic() - started < 10  # woken, not at the end of its 25 s wait


def test_an_order_is_not_handed_to_a_poll_whose_agent_hung_up(app, server, parked_fleet):
    """An agent that crashed or restarted leaves its poll parked on the server: a new order
    must wait for the agent's next poll instead of vanishing into the dead connection."""
    import socket

    url = server(workers=1, WEB_GRACEFUL_TIMEOUT_SECONDS=1)
    device_id = sorted(parked_fleet)[0]
    token = parked_fleet[device_id]
    parts = urlsplit(url)
    dead = socket.create_connection((parts.hostname, parts.port))
    dead.sendall(
        f"GET /api/agent/v1/orders?wait=25 HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    assert wait_for(lambda: _metrics(url).get("portal_agent_polls_parked") == 1, 30)
    dead.close()  # the agent is gone; its poll is still parked
    with app.app_context():
        order_id = create_order(
            db.session.get(Device, device_id), "ra.end", {"assistance_id": 1}
        ).id
        db.session.commit()
    assert wait_for(lambda: _metrics(url).get("portal_agent_polls_parked") == 0, 30)
    fresh = Poller(url, token, wait=2)
    fresh.run()
    assert fresh.status == 200 and [o["id"] for o in fresh.orders] == [order_id]
