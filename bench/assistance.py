"""Remote assistance: time from "start" to "credentials ready", and signing throughput.

    .venv/bin/python bench/assistance.py                 # 200 assistances
    .venv/bin/python bench/assistance.py --count 400 --sign 500

Production style on this machine's PostgreSQL and Redis (the `bench` database, reset):
gunicorn serves the portal, one `worker.py` signs, and the reference agent
(`app.agent_sim`, responding without delay) plays 20 FlexxAgents. For each assistance the
bench, as an operator with an API token, POSTs /api/v1/assistances (unattended) and polls
GET /api/v1/assistances/<id> until the state is `ready` with the activation file signed;
then ends it. Prints p50/p99 of start → ready.

Signing throughput is measured twice: the signing function alone in one process (files
per second per worker, CPU bound), and one real RQ worker draining N signing jobs
(which adds the queue and RQ's fork per job).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time

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
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--sign", type=int, default=300, help="files for the signing runs")
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
        # Every simulated agent holds a thread in its long poll: give operators room too.
        procs.append(start_gunicorn(env, 2, 32, port)[0])
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

        latencies, failures = [], 0
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
                    failures += 1
                    break
                time.sleep(0.005)
            http.post(f"{url}/api/v1/assistances/{assistance_id}/end", timeout=10)
        latencies.sort()
        print(
            f"start → credentials ready (unattended, responsive agent, {len(latencies)} "
            f"assistances, {failures} failed): p50 {pct(latencies, 50) * 1000:.0f} ms, "
            f"p99 {pct(latencies, 99) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
        )
        print(signing_rates(app, org_id, group_id, args.sign))
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
    """`count` ready assistances, each on its own scratch device."""
    from app.extensions import db
    from app.models import Assistance, Device, User, utcnow

    operator = db.session.query(User).first()
    ids = []
    for n in range(count):
        device = Device(
            organization_id=org_id,
            reporting_group_id=group_id,
            hardware_id=f"sign-bench-{n}",
            hostname=f"SIGN-{n:04d}",
            os_name="Windows 11",
            agent_version="24.10.1",
        )
        db.session.add(device)
        db.session.flush()
        row = Assistance(
            organization_id=org_id,
            device_id=device.id,
            operator_id=operator.id,
            requested_type="unattended",
            type="unattended",
            state="ready",
            sid="123456789",
            file_kind="exe",
            ready_at=utcnow(),
        )
        db.session.add(row)
        db.session.flush()
        ids.append(row.id)
    db.session.commit()
    return ids


def signing_rates(app, org_id: int, group_id: int, count: int) -> str:
    from rq import Queue
    from sqlalchemy import update

    from app.assistance.signing import sign_activation_file
    from app.extensions import db, redis_store
    from app.models import Assistance

    app.config["PROCESS_ROLE"] = "worker"
    with app.app_context():
        ids = _ready_assistances(org_id, group_id, count)
        started = time.perf_counter()
        for assistance_id in ids:
            sign_activation_file(assistance_id)
        in_process = len(ids) / (time.perf_counter() - started)

        db.session.execute(
            update(Assistance).where(Assistance.id.in_(ids)).values(activation_file=None)
        )
        db.session.commit()
        queue = Queue("signing", connection=redis_store.client)
        started = time.perf_counter()
        for assistance_id in ids:
            queue.enqueue("app.tasks.assistance.sign_activation_file", assistance_id)
        while (
            db.session.query(Assistance)
            .filter(Assistance.id.in_(ids), Assistance.activation_file.is_(None))
            .count()
        ):
            db.session.rollback()
            time.sleep(0.05)
        via_rq = len(ids) / (time.perf_counter() - started)
    return (
        f"activation files signed per second per worker: {in_process:.0f} (signing "
        f"function alone, {len(ids)} files), {via_rq:.0f} (one RQ worker draining "
        f"{len(ids)} jobs)"
    )


if __name__ == "__main__":
    sys.exit(main())
