"""Remote assistance: time from "start" to "credentials ready", and signing throughput.

    .venv/bin/python bench/assistance.py                 # 1,000 assistances
    .venv/bin/python bench/assistance.py --count 200 --sign 2000

Production style on this machine's PostgreSQL and Redis (the `bench` database, reset):
gunicorn serves the portal (gunicorn.conf.py), one `worker.py` signs, and the reference
agent (`app.agent_sim`, responding without delay) plays 20 FlexxAgents. For each
assistance the bench, as an operator with an API token, POSTs /api/v1/assistances
(unattended) and polls GET /api/v1/assistances/<id> until the state is `ready` with the
activation file signed; then ends it. Prints p50/p99 of start → ready and how many never
became ready (within 30 s).

Signing throughput is measured twice: the signing function alone in this process (files
per second, CPU bound), and one real worker process (`worker.py`: RQ plus its sweeper)
signing N due files through the queue, from the request to the last file stored.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from datetime import timedelta

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.checkin import prepare  # noqa: E402
from bench.common import ensure_database, free_port, pct, start_gunicorn  # noqa: E402

AGENTS = 20


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--sign", type=int, default=5000, help="files for the signing runs")
    args = parser.parse_args()

    db_url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
    )
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    ensure_database(db_url)
    keys_dir = f"/tmp/bench-keys-{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "PORTAL_ENV": "production",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_hex(32),
        "SESSION_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
        "SIGNING_KEYS_DIR": keys_dir,
        "AGENT_CHECKIN_INTERVAL_SECONDS": "30",
    }
    os.environ.update(
        {
            k: env[k]
            for k in (
                "PORTAL_ENV",
                "DATABASE_URL",
                "REDIS_URL",
                "SECRET_KEY",
                "LOG_LEVEL",
                "SIGNING_KEYS_DIR",
            )
        }
    )

    from app import create_app
    from app.agent_settings.service import SettingChange, apply_changes
    from app.extensions import db
    from app.fleet.enrollment import create_enrollment_token
    from app.models import Organization, Product, ReportingGroup
    from app.people import api_tokens
    from app.people.organizations import builtin_role
    from app.people.users import add_membership, create_user

    app = create_app()
    org_id, group_id = prepare(app)
    with app.app_context():
        org = db.session.get(Organization, org_id)
        product = db.session.query(Product).filter_by(organization_id=org_id).one()
        apply_changes(product, [SettingChange("remote_assistance.types", ["unattended"])])
        group = db.session.get(ReportingGroup, group_id)
        _, enrollment = create_enrollment_token(group, "bench")
        user = create_user("bench-operator@example.com", secrets.token_urlsafe(16))
        add_membership(user, org, builtin_role(org_id, "operator"))
        _, token = api_tokens.create_token(user, org_id, "bench")
        db.session.commit()

    # The portal URL is the `iss` of every file: it must be the server's real address.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env["PORTAL_URL"] = url
    procs = []
    try:
        procs.append(start_gunicorn(env, port=port)[0])
        procs.append(
            subprocess.Popen(
                [sys.executable, "worker.py"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        fleet = [
            {"hostname": f"SRV-{i:02d}", "os_name": "Windows Server 2022", "kind": "server"}
            for i in range(AGENTS)
        ]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "app.agent_sim", "--url", url, "--poll-wait", "20"],
                cwd=ROOT,
                env={**env, "AGENT_ENROLLMENT_TOKEN": enrollment, "SIM_FLEET": json.dumps(fleet)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        deadline = time.monotonic() + 60
        devices = []
        while time.monotonic() < deadline and len(devices) < AGENTS:
            try:
                page = http.get(f"{url}/api/v1/devices", params={"online": "yes"}, timeout=5)
                devices = [d["id"] for d in page.json()["items"]]
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(0.5)
        if len(devices) < AGENTS:
            raise SystemExit(f"only {len(devices)} simulated agents came online")
        time.sleep(3)  # every agent is now waiting in a long poll

        latencies, failures, never_ready = [], 0, 0
        for n in range(args.count):
            device_id = devices[n % AGENTS]
            started = time.perf_counter()
            response = http.post(
                f"{url}/api/v1/assistances",
                timeout=10,
                json={"device_id": device_id, "type": "unattended"},
            )
            if response.status_code != 202:
                failures += 1
                continue
            assistance_id = response.json()["id"]
            while True:
                body = http.get(f"{url}/api/v1/assistances/{assistance_id}", timeout=10).json()
                if body["state"] == "ready" and body["file_ready"]:
                    latencies.append(time.perf_counter() - started)
                    break
                if body["state"] not in ("requested", "ready"):
                    failures += 1
                    break
                if time.perf_counter() - started > 30:
                    never_ready += 1
                    break
                time.sleep(0.005)
            http.post(f"{url}/api/v1/assistances/{assistance_id}/end", timeout=10)
        latencies.sort()
        print(
            f"start → credentials ready (unattended, responsive agent, {args.count} starts): "
            f"p50 {pct(latencies, 50) * 1000:.0f} ms, p99 {pct(latencies, 99) * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms; never ready: {never_ready}; "
            f"refused or failed: {failures}"
        )
        for proc in procs[1:]:  # the worker and the agents: the signing run has its own
            proc.terminate()
            proc.wait(timeout=30)
        print(signing_rates(app, org_id, group_id, args.sign, env))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


def _ready_assistances(org_id: int, group_id: int, count: int) -> list[int]:
    """`count` ready assistances without their file, each on its own scratch device."""
    from sqlalchemy import insert, select

    from app.extensions import db
    from app.models import Assistance, Device, User, utcnow

    operator_id = db.session.execute(select(User.id).limit(1)).scalar_one()
    start = db.session.execute(select(Device.id).order_by(Device.id.desc()).limit(1)).scalar()
    db.session.execute(
        insert(Device),
        [
            {
                "organization_id": org_id,
                "reporting_group_id": group_id,
                "hardware_id": f"sign-bench-{start}-{n}",
                "hostname": f"SIGN-{n:05d}",
                "os_name": "Windows 11",
                "agent_version": "24.10.1",
            }
            for n in range(count)
        ],
    )
    devices = db.session.execute(
        select(Device.id).where(Device.hardware_id.like(f"sign-bench-{start}-%"))
    ).scalars()
    now = utcnow()
    db.session.execute(
        insert(Assistance),
        [
            {
                "organization_id": org_id,
                "device_id": device_id,
                "operator_id": operator_id,
                "requested_type": "unattended",
                "type": "unattended",
                "state": "ready",
                "sid": "123456789",
                "file_kind": "exe",
                "ready_at": now,
                "ready_until": now + timedelta(hours=1),
            }
            for device_id in devices
        ],
    )
    db.session.commit()
    return list(
        db.session.execute(
            select(Assistance.id).where(
                Assistance.state == "ready", Assistance.activation_file.is_(None)
            )
        ).scalars()
    )


def _unsigned(ids) -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Assistance

    left = db.session.execute(
        select(func.count()).where(Assistance.id.in_(ids), Assistance.activation_file.is_(None))
    ).scalar()
    db.session.rollback()
    return left


def signing_rates(app, org_id: int, group_id: int, count: int, env: dict) -> str:
    from sqlalchemy import update

    from app.assistance.signing import request_signing, sign_due
    from app.extensions import db
    from app.models import Assistance

    app.config["PROCESS_ROLE"] = "worker"
    with app.app_context():
        ids = _ready_assistances(org_id, group_id, count)
        started = time.perf_counter()
        while sign_due():
            pass
        in_process = len(ids) / (time.perf_counter() - started)

    worker = subprocess.Popen(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env={**env, "ASSISTANCE_SWEEP_INTERVAL_SECONDS": "3600"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with app.app_context():
            time.sleep(5)  # the worker is up and idle (its first sweep found nothing due)
            db.session.execute(
                update(Assistance).where(Assistance.id.in_(ids)).values(activation_file=None)
            )
            db.session.commit()
            started = time.perf_counter()
            request_signing()
            db.session.commit()  # the request goes out after commit, as in the portal
            while _unsigned(ids):
                time.sleep(0.01)
            via_queue = len(ids) / (time.perf_counter() - started)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return (
        f"activation files signed per second: {in_process:.0f} (signing function alone, "
        f"one process, {len(ids)} files); {via_queue:.0f} through the real queue (one "
        f"worker process = one core: request after commit → RQ → batch job → {len(ids)} "
        "files stored)"
    )


if __name__ == "__main__":
    sys.exit(main())
