"""Redis and PostgreSQL restarted under starts and parked agents, agents restarted, and
concurrent starts on one device. No portal process is restarted in any of them: they must
answer clear 503s during an outage and recover on their own."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.faults.conftest import account, record, settle
from tests.faults.harness import wait_until

pytestmark = pytest.mark.heavy


def _start(world, name, node=0):
    response = world.start_ra(world.servers[name], node=node)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _ready(state, signed):
    return state == "ready" and signed


def _end_and_account(world, ids, scenario):
    for assistance_id in ids:
        assert world.end(assistance_id).status_code == 200
    assert settle(world, ids, lambda state, _: state in ("cancelled", "expired")), world.logs()
    assert wait_until(lambda: all(world.get(i)["teardown"] == "confirmed" for i in ids), 60, 0.5), (
        world.logs()
    )
    counts = account(world, ids, lambda a: a.state == "cancelled" and a.teardown == "confirmed")
    record(scenario, counts)
    assert counts["lost"] == counts["duplicated"] == 0 and counts["correct"] == len(ids), counts
    procs = [*world.web, *world.workers]
    assert all(p.alive() for p in procs), [p.name for p in procs if not p.alive()]


def _device_token(world, name):
    return next(f["device_token"] for f in world.fleet if f["hostname"] == name)


@pytest.mark.parametrize("keep_data", [False, True], ids=["data lost", "data kept"])
def test_redis_restarted_under_starts_and_long_polls(cluster, keep_data):
    world = cluster
    ids = [_start(world, f"SRV-{i}") for i in range(3)]
    assert settle(world, ids, _ready), world.logs()
    parked = {}

    def park():
        began = time.monotonic()
        parked["answer"] = requests.get(
            f"{world.url(0)}/api/agent/v1/orders?wait=25",
            headers={"Authorization": f"Bearer {_device_token(world, 'SRV-6')}"},
            timeout=40,
        )
        parked["seconds"] = time.monotonic() - began

    parker = threading.Thread(target=park)
    parker.start()
    time.sleep(2)  # parked in node 0's hub
    world.redis.stop(keep_data=keep_data)
    try:
        # A poll parked when the subscription is lost cannot be woken any more: it is
        # released at once with a 503, not left to sit out its 25 s deaf to new orders.
        parker.join(timeout=40)
        assert parked["answer"].status_code == 503, parked["answer"].text
        assert int(parked["answer"].headers["Retry-After"]) > 0
        assert parked["seconds"] < 12, parked["seconds"]
        poll = requests.get(
            f"{world.url(1)}/api/agent/v1/orders?wait=5",
            headers={"Authorization": f"Bearer {_device_token(world, 'SRV-7')}"},
            timeout=20,
        )
        assert poll.status_code == 503 and int(poll.headers["Retry-After"]) > 0
        assert poll.json()["error"]["code"] == "service_unavailable"
        # A start during the outage is recorded; the agent gets it at its next check-in
        # and the worker's sweep signs the file, with no Redis at all.
        ids.append(_start(world, "SRV-3", node=1))
        time.sleep(3)
    finally:
        world.redis.start()
    ids += [_start(world, f"SRV-{i}") for i in (4, 5)]
    assert settle(world, ids, _ready, timeout=90), world.logs()
    _end_and_account(world, ids, f"Redis restarted ({'data kept' if keep_data else 'data lost'})")


def test_postgres_restarted_under_load(cluster):
    world = cluster
    ids = [_start(world, f"SRV-{i}") for i in range(3)]
    assert settle(world, ids, _ready), world.logs()
    world.pg.stop()
    try:
        for node in (0, 1):
            answer = requests.get(
                f"{world.url(node)}/api/v1/devices", headers=world.headers, timeout=30
            )
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] and "Traceback" not in answer.text
            assert answer.json()["error"]["code"] == "service_unavailable"
        refused = world.start_ra(world.servers["SRV-3"])
        assert refused.status_code == 503
        time.sleep(3)
    finally:
        world.pg.start()
    assert wait_until(
        lambda: (
            requests.get(
                f"{world.url(0)}/api/v1/devices", headers=world.headers, timeout=10
            ).status_code
            == 200
        ),
        60,
    ), world.logs()
    ids += [_start(world, f"SRV-{i}", node=i % 2) for i in (3, 4, 5)]
    assert settle(world, ids, _ready, timeout=90), world.logs()
    _end_and_account(world, ids, "PostgreSQL restarted under load")


def test_agents_restarted_interrupt_their_assistances_once(cluster):
    world = cluster
    ids = [_start(world, f"SRV-{i}") for i in range(4)]
    assert settle(world, ids, _ready), world.logs()
    world.agents.kill()
    world.start_agents()  # new instance ids: every agent restarted
    assert settle(world, ids, lambda state, _: state == "interrupted"), world.logs()
    assert wait_until(lambda: all(world.get(i)["teardown"] == "confirmed" for i in ids), 60, 0.5), (
        world.logs()
    )
    counts = account(world, ids, lambda a: a.teardown == "confirmed")
    record("agents restarted (4 unattended interrupted)", counts)
    assert counts["lost"] == counts["duplicated"] == 0 and counts["correct"] == len(ids), counts


def test_concurrent_starts_on_one_device_across_two_web_nodes_start_one(cluster):
    world = cluster
    device_id = world.servers["SRV-0"]
    barrier = threading.Barrier(10)
    answers = []

    def start(node):
        barrier.wait()
        answers.append(world.start_ra(device_id, node=node))

    threads = [threading.Thread(target=start, args=(n % 2,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [a.json()["id"] for a in answers if a.status_code == 202]
    refused = [a.json()["error"]["code"] for a in answers if a.status_code != 202]
    assert len(started) == 1, [a.status_code for a in answers]
    assert refused == ["device_busy"] * 9
    assert settle(world, started, _ready), world.logs()
    _end_and_account(world, started, "10 concurrent starts, one device, two nodes")
