"""Fixtures of the fault matrix, its accounting, and the table printed at the end of the run.

Every scenario counts the assistances it started and classifies each once everything has
had time to settle: correct (what should have happened did), lost (a file never signed,
an unattended service never ordered away, or an assistance left live past its deadline),
duplicated (signed twice, stopped twice, ended twice). The suite asserts 0 lost and 0
duplicated; the table goes to the end of pytest's output.
"""

from __future__ import annotations

import itertools
import json
import secrets
import tempfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.faults.harness import Cluster, PrivatePostgres, PrivateRedis, free_port, wait_until

pytestmark = pytest.mark.heavy

SERVERS = 8
LAPTOPS = 4
# Short lifecycle settings, shared by every process of a scenario.
SETTINGS = {
    "ASSISTANCE_SWEEP_INTERVAL_SECONDS": "1",
    "ORDER_SWEEP_INTERVAL_SECONDS": "1",
    "LAST_SEEN_FLUSH_INTERVAL_SECONDS": "1",
    "AGENT_CHECKIN_INTERVAL_SECONDS": "3",
    "RA_GRACE_SECONDS": "3",
    "RA_READY_TTL_SECONDS": "60",
    "RA_AGENT_TIMEOUT_SECONDS": "20",
    "RA_CONSENT_TIMEOUT_SECONDS": "10",
    "WEB_CONCURRENCY": "1",
    "WEB_GRACEFUL_TIMEOUT_SECONDS": "1",
    "DB_POOL_TIMEOUT_SECONDS": "5",
    "LOG_LEVEL": "INFO",
}
TERMINAL_EVENTS = (
    "assistance.expired",
    "assistance.ended",
    "assistance.revoked",
    "assistance.failed",
    "assistance.interrupted",
    "assistance.locked",
)
MATRIX: list[tuple[str, dict]] = []
_n = itertools.count(1)


@pytest.fixture(scope="session")
def private_services():
    base = tempfile.mkdtemp(prefix="portal-faults-")
    pg, redis = PrivatePostgres(base), PrivateRedis(base)
    yield pg, redis
    redis.close()
    pg.close()


@pytest.fixture
def cluster(private_services, tmp_path, services):
    pg, redis = private_services
    if not pg.running():
        pg.start()
    if not redis.running():
        redis.start()
    redis.client().flushall()
    name = f"faults_{next(_n)}"
    pg.admin(f"CREATE DATABASE {name}")
    port = str(free_port())
    env_settings = {
        **SETTINGS,
        "DATABASE_URL": pg.url(name),
        "REDIS_URL": redis.url,
        "PORTAL_ENV": "test",
        "PORTAL_URL": f"http://127.0.0.1:{port}",
        "PORTAL_PORT": port,
        "SECRET_KEY": secrets.token_hex(32),
        "SIGNING_KEYS_DIR": str(tmp_path / "keys"),
        "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    import os

    env = {**os.environ, **env_settings}
    from app import create_app

    app = create_app(
        "test",
        SQLALCHEMY_DATABASE_URI=env["DATABASE_URL"],
        REDIS_URL=env["REDIS_URL"],
        PORTAL_URL=env["PORTAL_URL"],
        SECRET_KEY=env["SECRET_KEY"],
    )
    world = Cluster(app=app, pg=pg, redis=redis, env=env, tmp=str(tmp_path))
    _seed(world)
    world.workers = [world.start_worker(0), world.start_worker(1)]
    world.web = [world.start_web(0), world.start_web(1)]
    world.start_agents()
    assert wait_until(lambda: _all_online(world), 60), world.logs()
    yield world
    world.stop()
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()
    if not pg.running():
        pg.start()
    pg.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _seed(world: Cluster) -> None:
    from flask_migrate import upgrade

    from app.agent_settings.service import SettingChange, apply_changes
    from app.extensions import db
    from app.fleet.enrollment import token_hash
    from app.models import Device, DeviceSession
    from app.people import api_tokens
    from tests import factories

    with world.app.app_context():
        upgrade()
        org = factories.create_org("Acme")
        group = factories.group_of(org)
        apply_changes(
            factories.product_of(org),
            [SettingChange("remote_assistance.types", ["interactive", "unattended"])],
        )
        for n in range(SERVERS + LAPTOPS):
            laptop = n >= SERVERS
            raw = f"dev_{secrets.token_urlsafe(24)}"
            name = f"LAPTOP-{n}" if laptop else f"SRV-{n}"
            device = Device(
                organization_id=org.id,
                reporting_group_id=group.id,
                hardware_id=f"hw-{name}",
                hostname=name,
                os_name="Windows 11" if laptop else "Windows Server 2022",
                os_version="23H2",
                agent_version="24.10.1",
                kind="physical" if laptop else "server",
                token_hash=token_hash(raw),
            )
            db.session.add(device)
            db.session.flush()
            sessions = []
            if laptop:
                session = {
                    "session_key": "1",
                    "username": f"user{n}",
                    "state": "active",
                    "kind": "console",
                }
                sessions.append(session)
                db.session.add(
                    DeviceSession(organization_id=org.id, device_id=device.id, **session)
                )
            world.servers[name] = device.id
            world.fleet.append(
                {
                    "hostname": name,
                    "device_token": raw,
                    "os_name": device.os_name,
                    "kind": device.kind,
                    "sessions": sessions,
                }
            )
        operator = factories.create_member(org, "operator", email="op@acme.example")
        _, world.token = api_tokens.create_token(operator, org.id, "faults")
        db.session.commit()
        world.org_id = org.id


def _all_online(world: Cluster) -> bool:
    import requests

    page = requests.get(
        f"{world.url(0)}/api/v1/devices",
        params={"online": "yes"},
        headers=world.headers,
        timeout=5,
    ).json()
    return page["total"] == SERVERS + LAPTOPS


def settle(world: Cluster, ids: list[int], done, timeout: float = 60.0) -> bool:
    """Wait until `done(state, file_ready)` holds for every assistance."""
    from app.extensions import db
    from app.models import Assistance

    def settled():
        with world.app.app_context():
            rows = db.session.execute(
                select(Assistance.state, Assistance.activation_file.is_not(None)).where(
                    Assistance.id.in_(ids)
                )
            ).all()
            db.session.rollback()
        return len(rows) == len(ids) and all(done(state, signed) for state, signed in rows)

    return wait_until(settled, timeout, 0.3)


def account(world: Cluster, ids: list[int], correct) -> dict[str, int]:
    """Classify each assistance: correct / lost / duplicated (see the module docstring)."""
    from app.extensions import db
    from app.models import AgentOrder, Assistance, AuditEvent, utcnow

    counts = {"started": len(ids), "correct": 0, "lost": 0, "duplicated": 0}
    problems = {}
    with world.app.app_context():
        now = utcnow()
        slack = timedelta(seconds=5)
        for assistance in db.session.execute(
            select(Assistance).where(Assistance.id.in_(ids))
        ).scalars():
            aid = str(assistance.id)
            events = dict(
                db.session.execute(
                    select(AuditEvent.action, func.count())
                    .where(AuditEvent.target_type == "Assistance", AuditEvent.target_id == aid)
                    .group_by(AuditEvent.action)
                ).all()
            )
            orders = (
                db.session.execute(
                    select(AgentOrder).where(AgentOrder.device_id == assistance.device_id)
                )
                .scalars()
                .all()
            )
            mine = [o for o in orders if (o.payload or {}).get("assistance_id") == assistance.id]
            stops = [o for o in mine if o.type == "ra.unattended.stop"]
            start = next((o for o in mine if o.id == assistance.start_order_id), None)
            duplicated = (
                events.get("assistance.file_signed", 0) > 1
                or len(stops) > 1
                or sum(events.get(e, 0) for e in TERMINAL_EVENTS) > 1
            )
            lost = None
            if assistance.state in ("ready", "connected", "disconnected"):
                if assistance.activation_file is None and assistance.ready_at < now - slack:
                    lost = "ready without a file"
                if assistance.state == "ready" and assistance.ready_until < now - slack:
                    lost = "ready past its time to live"
                if assistance.state == "disconnected" and assistance.grace_until < now - slack:
                    lost = "grace over, still live"
            elif assistance.state in ("requested", "awaiting_consent"):
                deadline = start and (start.answer_by or start.pickup_by)
                if deadline is None or deadline < now - slack:
                    lost = "start never answered nor failed"
            elif (
                assistance.type == "unattended"
                and start is not None
                and start.status == "succeeded"
                and not stops
            ):
                lost = "service started, never ordered away"
            if duplicated:
                counts["duplicated"] += 1
                problems[assistance.id] = ("duplicated", events, len(stops))
            elif lost:
                counts["lost"] += 1
                problems[assistance.id] = (lost, assistance.state)
            elif correct(assistance):
                counts["correct"] += 1
            else:
                problems[assistance.id] = ("unexpected", assistance.state, assistance.end_reason)
        db.session.rollback()
    counts["problems"] = problems
    return counts


def record(name: str, counts: dict) -> None:
    MATRIX.append((name, counts))


def pytest_terminal_summary(terminalreporter):
    if not MATRIX:
        return
    write = terminalreporter.write_line
    write("")
    write("fault matrix (assistances):")
    write(f"{'scenario':<58}{'started':>8}{'correct':>8}{'lost':>6}{'dup':>5}")
    for name, c in MATRIX:
        write(f"{name:<58}{c['started']:>8}{c['correct']:>8}{c['lost']:>6}{c['duplicated']:>5}")
    for name, c in MATRIX:
        if c.get("problems"):
            write(f"  {name}: {json.dumps(c['problems'], default=str)[:2000]}")
