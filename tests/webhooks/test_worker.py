"""Webhooks through real `python worker.py` processes, real Redis and the real database: the
worker retries with backoff and delivers in order; a worker killed in the middle of a
delivery (and Redis losing its queued jobs) loses nothing: another worker delivers it all."""

from __future__ import annotations

import itertools
import signal

import pytest

from app.extensions import redis_store
from tests.e2e.conftest import wait_for
from tests.webhooks.helpers import deliveries, endpoint, events


@pytest.fixture
def worker(app, processes):
    """start(**env) runs a worker sharing this process's database, Redis and SECRET_KEY
    (which seals the endpoints' secrets). Killed at the end: what is tested here is that
    nothing depends on a worker ending well (and a graceful stop takes seconds)."""
    started = []

    def start(**env):
        proc = processes.start(
            ["worker.py"],
            env={"SECRET_KEY": app.config["SECRET_KEY"], "LOG_LEVEL": "INFO", **env},
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_a_worker_retries_with_backoff_until_2xx_and_delivers_in_order(
    app,
    acme,
    receiver,
    worker,
    processes,
):
    org_id, _ = acme
    r = receiver(failures=3)
    hook, secret = endpoint(app, org_id, r.url, ["role.*"])
    events(app, org_id, "role.created", "role.updated", "role.deleted")
    worker(WEBHOOK_BACKOFF_BASE_SECONDS=1, WEBHOOK_SWEEP_INTERVAL_SECONDS=1)
    assert wait_for(lambda: len(r.delivered()) == 3, timeout=60), processes.output()[-3000:]

    got = [(x.status, x.payload["type"]) for x in r.received]
    assert got == [(500, "role.created")] * 3 + [
        (204, "role.created"),
        (204, "role.updated"),
        (204, "role.deleted"),
    ]
    gaps = [b.at - a.at for a, b in itertools.pairwise(r.received[:4])]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9 and gaps[2] >= 3.9, gaps  # 1 s, 2 s, 4 s
    assert all(x.signature_ok(secret) for x in r.received)
    assert [d.attempts for d in deliveries(app, hook)] == [4, 1, 1]


@pytest.mark.heavy
def test_nothing_is_lost_when_a_worker_is_killed_mid_delivery(
    app,
    acme,
    receiver,
    worker,
    processes,
):
    org_id, _ = acme
    r = receiver(delay=4)  # slow enough to kill the worker while it waits for the answer
    hook, secret = endpoint(app, org_id, r.url, ["role.*"])
    events(app, org_id, *[f"role.event_{n}" for n in range(3)])
    settings = {"WEBHOOK_TIMEOUT_SECONDS": 6, "WEBHOOK_SWEEP_INTERVAL_SECONDS": 1}
    first = worker(**settings)
    assert wait_for(lambda: len(r.received) == 1, timeout=60), processes.output()[-3000:]
    first.send_signal(signal.SIGKILL)  # mid-delivery: the request is in flight
    first.wait(10)
    with app.app_context():
        redis_store.client.flushdb()  # and Redis lost every queued job
    events(app, org_id, *[f"role.event_{n}" for n in range(3, 5)])
    r.delay = 0
    worker(**settings)
    # The dead worker's lease lapses (2 * timeout + 10 s), then the sweep wakes the endpoint.
    assert wait_for(
        lambda: all(d.state == "delivered" for d in deliveries(app, hook)), timeout=90
    ), processes.output()[-3000:]

    types = [x.payload["type"] for x in r.received]
    expected = [f"role.event_{n}" for n in range(5)]
    # At least once: the request in flight when the worker died is sent again (same id).
    assert types == expected[:1] + expected, types
    assert r.received[0].headers["X-Portal-Delivery"] == r.received[1].headers["X-Portal-Delivery"]
    assert all(x.signature_ok(secret) for x in r.received)
