"""Workers killed at the worst moment: while signing, during a grace expiry, in the middle
of a sweep (and restarted at once). To be sure a worker is caught in the act, the test holds
the organization's audit chain head (every change of an assistance appends to that chain),
waits until the worker has claimed its rows and blocks on it, then SIGKILLs the worker."""

from __future__ import annotations

import signal
from datetime import timedelta

import psycopg
import pytest
import requests
from sqlalchemy import text, update

from app.assistance import files
from tests.faults.conftest import account, record, settle
from tests.faults.harness import wait_until

pytestmark = pytest.mark.heavy


def _servers(world, n):
    return [world.servers[f"SRV-{i}"] for i in range(n)]


def _start_ready(world, devices) -> list[int]:
    ids = []
    for device_id in devices:
        response = world.start_ra(device_id)
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


class ChainHead:
    """The organization's audit chain head, locked from outside the portal."""

    def __init__(self, world) -> None:
        self.world = world
        self.conn = psycopg.connect(world.env["DATABASE_URL"].replace("+psycopg", ""))
        self.conn.execute(
            "SELECT * FROM audit_chain_heads WHERE chain = %s FOR UPDATE", (f"org:{world.org_id}",)
        )

    def workers_waiting(self) -> int:
        with self.world.app.app_context():
            from app.extensions import db

            count = db.session.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'portal-worker' AND wait_event_type = 'Lock'"
                )
            ).scalar()
            db.session.rollback()
            return count

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def _end_all(world, ids):
    for assistance_id in ids:
        assert world.end(assistance_id).status_code == 200


def _torn_down(state, _signed):
    return state in ("expired", "cancelled", "interrupted")


def _confirmed(world, ids) -> bool:
    return wait_until(lambda: all(world.get(i)["teardown"] == "confirmed" for i in ids), 60, 0.5)


def test_a_worker_killed_while_signing_loses_no_file(cluster):
    world = cluster
    first, second = world.workers
    first.signal(signal.SIGSTOP)
    second.signal(signal.SIGSTOP)
    ids = _start_ready(world, _servers(world, 5))
    assert settle(world, ids, lambda state, _: state == "ready"), world.logs()
    head = ChainHead(world)
    first.signal(signal.SIGCONT)
    try:
        assert wait_until(lambda: head.workers_waiting() >= 1, 30), world.logs()
        first.kill()  # it holds the rows it claimed, mid-signing
    finally:
        head.release()
    second.signal(signal.SIGCONT)
    world.workers[0] = world.start_worker(0)
    assert settle(world, ids, lambda state, signed: state == "ready" and signed), world.logs()
    _end_all(world, ids)
    assert settle(world, ids, _torn_down)
    assert _confirmed(world, ids)
    counts = account(world, ids, lambda a: a.state == "cancelled" and a.teardown == "confirmed")
    record("worker SIGKILLed while signing (restarted)", counts)
    assert counts["lost"] == counts["duplicated"] == 0 and counts["correct"] == len(ids), counts


def _connect_and_drop(world, assistance_id):
    """The operator reveals, downloads, connects with the RA client and disconnects."""
    base, headers = world.url(0), world.headers
    secret = requests.post(
        f"{base}/api/v1/assistances/{assistance_id}/reveal", headers=headers, timeout=10
    ).json()
    content = requests.get(
        f"{base}/api/v1/assistances/{assistance_id}/activation-file", headers=headers, timeout=10
    ).content
    token = files.extract_token(content)
    connected = requests.post(
        f"{base}/api/relay/v1/connect",
        json={"activation": token, "password": secret["password"]},
        timeout=10,
    )
    assert connected.status_code == 200, connected.text
    dropped = requests.post(
        f"{base}/api/relay/v1/disconnect",
        json={"connection_id": connected.json()["connection_id"]},
        timeout=10,
    )
    assert dropped.status_code == 200, dropped.text


def test_a_worker_killed_during_a_grace_expiry_expires_each_once(cluster):
    world = cluster
    first, second = world.workers
    ids = _start_ready(world, _servers(world, 4))
    assert settle(world, ids, lambda state, signed: state == "ready" and signed), world.logs()
    second.signal(signal.SIGSTOP)
    head = None
    try:
        for assistance_id in ids:
            _connect_and_drop(world, assistance_id)
        head = ChainHead(world)
        # The grace windows (3 s) close; the first worker's sweep claims them and waits.
        assert wait_until(lambda: head.workers_waiting() >= 1, 30), world.logs()
        first.kill()
    finally:
        if head is not None:
            head.release()
        second.signal(signal.SIGCONT)
    assert settle(world, ids, lambda state, _: state == "expired"), world.logs()
    assert _confirmed(world, ids)
    counts = account(
        world,
        ids,
        lambda a: a.end_reason == "grace period over" and a.teardown == "confirmed",
    )
    record("worker SIGKILLed during grace expiry (not restarted)", counts)
    assert counts["lost"] == counts["duplicated"] == 0 and counts["correct"] == len(ids), counts


def test_the_only_worker_killed_mid_sweep_and_restarted_at_once_keeps_sweeping(cluster):
    """Periodic work has no owner to lose: the restarted worker (the only one running)
    claims the next sweep itself, within one interval."""
    from app.extensions import db
    from app.models import Assistance, utcnow

    world = cluster
    first, second = world.workers
    ids = _start_ready(world, _servers(world, 4))
    assert settle(world, ids, lambda state, signed: state == "ready" and signed), world.logs()
    second.signal(signal.SIGSTOP)
    head = ChainHead(world)
    try:
        with world.app.app_context():
            db.session.execute(
                update(Assistance)
                .where(Assistance.id.in_(ids))
                .values(ready_until=utcnow() + timedelta(seconds=1))
            )
            db.session.commit()
        assert wait_until(lambda: head.workers_waiting() >= 1, 30), world.logs()
        first.kill()
        world.workers[0] = world.start_worker(0)
    finally:
        head.release()
    try:
        assert settle(world, ids, lambda state, _: state == "expired"), world.logs()
        assert _confirmed(world, ids)
    finally:
        second.signal(signal.SIGCONT)
    counts = account(
        world,
        ids,
        lambda a: a.end_reason.startswith("never connected") and a.teardown == "confirmed",
    )
    record("only worker SIGKILLed mid-sweep, restarted at once", counts)
    assert counts["lost"] == counts["duplicated"] == 0 and counts["correct"] == len(ids), counts


def test_two_sweepers_at_the_same_due_moment_end_each_assistance_once(cluster):
    from app.extensions import db
    from app.models import Assistance, utcnow

    world = cluster
    ids = _start_ready(world, _servers(world, 8))
    assert settle(world, ids, lambda state, signed: state == "ready" and signed), world.logs()
    with world.app.app_context():
        moment = utcnow() + timedelta(seconds=2)
        db.session.execute(
            update(Assistance).where(Assistance.id.in_(ids)).values(ready_until=moment)
        )
        db.session.commit()
    assert settle(world, ids, lambda state, _: state == "expired"), world.logs()
    assert _confirmed(world, ids)
    counts = account(world, ids, lambda a: a.teardown == "confirmed")
    record("two sweepers, one due moment (8 TTL expiries)", counts)
    assert counts["lost"] == counts["duplicated"] == 0 and counts["correct"] == len(ids), counts
