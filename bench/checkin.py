"""Agent check-in throughput, long-poll wake-up latency and parked fleets, production style.

    .venv/bin/python bench/checkin.py            # 1,000 and 100,000 devices; 1k/5k/20k parked
    .venv/bin/python bench/checkin.py --devices 1000 --duration 5 --parked 1000

Needs PostgreSQL and Redis (BENCH_DATABASE_URL, default the `bench` database on
127.0.0.1:5432, created if missing; BENCH_REDIS_URL, default redis://127.0.0.1:6379/14).
Starts the README's production server (gunicorn with gunicorn.conf.py: gevent workers)
against them, fills the fleet with COPY, and drives load from separate processes with
keep-alive HTTP connections:

1. the server's ceiling: a trivial JSON endpoint (/api/v1/health);
2. steady-state check-ins (nothing changed, the common case) with 1,000 enrolled devices,
   then with 100,000;
3. long-poll wake-up: pollers wait on /orders?wait=20; the bench creates orders through
   the application and times order commit → response received;
4. parked fleets (bench/parked.py): 1,000, 5,000 and 20,000 reference agents parked in
   /orders?wait=25 while other agents check in and wake-ups are timed again.

Prints requests/s and p50/p99 latency, the ratios check-in/ceiling and 100k/1k, the wake-up
p50/p99, and a row per parked fleet. Load generators and server share the machine: read
ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import multiprocessing as mp
import os
import random
import secrets
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import parked  # noqa: E402
from bench.common import ensure_database, pct, start_gunicorn  # noqa: E402

INSTANCE = "bench-instance"
SESSIONS = [{"session_key": "1", "username": "ACME\\user", "state": "active", "kind": "console"}]
CHECKIN = {
    "agent_version": "24.10.1",
    "agent_instance_id": INSTANCE,
    "os_name": "Windows 11",
    "os_version": "23H2",
    "sessions": SESSIONS,
}


def device_token(i: int) -> str:
    return f"dev_bench{i:08d}"


# --- database --------------------------------------------------------------------------
def prepare(app) -> tuple[int, int]:
    """Fresh schema, one organization with a product and a group; returns their ids."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app.extensions import db, redis_store
    from app.people.organizations import (
        create_organization,
        create_product,
        create_reporting_group,
    )

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        redis_store.client.flushdb()
        org = create_organization("Bench")
        group = create_reporting_group(create_product(org, "Workspaces"), "Fleet")
        db.session.commit()
        return org.id, group.id


def add_devices(app, org_id: int, group_id: int, start: int, stop: int) -> None:
    """Enrolled devices start..stop-1 in their steady state, by COPY."""
    from app.extensions import db
    from app.fleet.checkin import sessions_fingerprint

    class S:
        def __init__(self, d):
            self.__dict__.update(d)

    fingerprint = sessions_fingerprint([S(s) for s in SESSIONS])
    buf = io.StringIO()
    for i in range(start, stop):
        token_hash = hashlib.sha256(device_token(i).encode()).hexdigest()
        buf.write(
            f"{org_id}\t{group_id}\thw-{i}\tPC-{i:06d}\tWindows 11\t23H2\t24.10.1\t"
            f"prod\tphysical\t{INSTANCE}\t{token_hash}\t{fingerprint}\t"
            "2026-01-01 00:00:00\t2026-01-01 00:00:00\n"
        )
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(
                "COPY devices (organization_id, reporting_group_id, hardware_id, hostname, "
                "os_name, os_version, agent_version, environment, kind, agent_instance_id, "
                "token_hash, sessions_hash, created_at, enrolled_at) FROM STDIN"
            ) as copy:
                copy.write(buf.getvalue())
            raw.commit()
            cur.execute("ANALYZE devices")
            raw.commit()
        finally:
            raw.close()


# --- load ------------------------------------------------------------------------------
def _load_worker(
    host: str, kind: str, devices: int, threads: int, warmup: float, duration: float, out
) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start_at = time.monotonic() + warmup
    stop_at = start_at + duration
    body = json.dumps(CHECKIN)

    def run():
        conn = http.client.HTTPConnection(*host.split(":"), timeout=10)
        mine = []
        while True:
            now = time.monotonic()
            if now >= stop_at:
                break
            try:
                if kind == "ceiling":
                    conn.request("GET", "/api/v1/health")
                else:
                    token = device_token(random.randrange(devices))
                    conn.request(
                        "POST",
                        "/api/agent/v1/checkin",
                        body=body,
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Content-Type": "application/json",
                        },
                    )
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(*host.split(":"), timeout=10)
            done = time.monotonic()
            if done >= start_at and done < stop_at:
                if ok:
                    mine.append(done - now)
                else:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((latencies, errors[0]))


def measure(
    host: str, kind: str, devices: int, procs: int, threads: int, warmup: float, duration: float
) -> dict:
    queue = mp.Queue()
    workers = [
        mp.Process(
            target=_load_worker, args=(host, kind, devices, threads, warmup, duration, queue)
        )
        for _ in range(procs)
    ]
    for w in workers:
        w.start()
    latencies, errors = [], 0
    for _ in workers:
        lat, err = queue.get()
        latencies.extend(lat)
        errors += err
    for w in workers:
        w.join()
    latencies.sort()
    return {
        "rps": len(latencies) / duration,
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "errors": errors,
        "n": len(latencies),
    }


# --- long-poll wake-up -------------------------------------------------------------------
def wake_latency(app, host: str, samples: int, pollers: int, first: int = 0) -> dict:
    import requests

    from app.extensions import db
    from app.fleet.orders import create_order
    from app.models import Device

    received: dict[int, float] = {}
    got = threading.Condition()
    stop = threading.Event()

    def poll(i: int):
        session = requests.Session()
        headers = {"Authorization": f"Bearer {device_token(first + i)}"}
        while not stop.is_set():
            try:
                r = session.get(
                    f"http://{host}/api/agent/v1/orders?wait=20", headers=headers, timeout=30
                )
            except requests.RequestException:
                continue
            now = time.perf_counter()
            for order in r.json().get("orders", []):
                with got:
                    received[order["id"]] = now
                    got.notify_all()

    threads = [threading.Thread(target=poll, args=(i,), daemon=True) for i in range(pollers)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # every poller is waiting
    latencies = []
    with app.app_context():
        devices = [db.session.get(Device, first + i + 1) for i in range(pollers)]
        for n in range(samples):
            device = devices[n % pollers]
            order = create_order(device, "ra.end", {"assistance_id": n})
            order_id = order.id
            db.session.commit()  # the wake-up is sent after commit
            committed = time.perf_counter()
            with got:
                got.wait_for(lambda oid=order_id: oid in received, timeout=25)
            if order_id in received:
                latencies.append(received[order_id] - committed)
            time.sleep(0.02)  # let the poller re-arm
            devices = [db.session.get(Device, d.id) for d in devices]
    stop.set()
    latencies.sort()
    return {
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "n": len(latencies),
        "missed": samples - len(latencies),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", default="1000,100000")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--load-procs", type=int, default=2)
    parser.add_argument("--load-threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=None, help="default: WEB_CONCURRENCY")
    parser.add_argument("--wake-samples", type=int, default=200)
    parser.add_argument("--parked", default="1000,5000,20000", help="parked fleet sizes ('' none)")
    parser.add_argument("--parked-checkin-rate", type=float, default=200.0)
    parser.add_argument("--parked-seconds", type=float, default=30.0)
    parser.add_argument("--ramp", type=int, default=250, help="parked agents started per second")
    args = parser.parse_args()
    sizes = [int(s) for s in args.devices.split(",")]

    db_url = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
    )
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    ensure_database(db_url)
    env = {
        **os.environ,
        "PORTAL_ENV": "production",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_hex(32),
        "SESSION_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
        "METRICS_TOKEN": secrets.token_hex(16),
        # Parked agents check in once, then only poll (their check-ins are measured apart).
        "AGENT_CHECKIN_INTERVAL_SECONDS": "3600",
    }
    os.environ.update(
        {k: env[k] for k in ("PORTAL_ENV", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "LOG_LEVEL")}
    )
    from app import create_app

    app = create_app()
    org_id, group_id = prepare(app)
    from app.config import web_server_settings

    workers = args.workers or web_server_settings(env).workers
    parked_sizes = [int(s) for s in args.parked.split(",") if s.strip()]
    print(
        f"machine: {os.cpu_count()} cores; gunicorn {workers} gevent workers; load "
        f"{args.load_procs} processes x {args.load_threads} connections; "
        f"{args.duration:.0f} s per measurement"
    )
    add_devices(app, org_id, group_id, 0, sizes[0])
    server, host = start_gunicorn(env, workers)
    results = {}
    try:

        def run(kind: str, n: int) -> dict:
            return measure(
                host, kind, n, args.load_procs, args.load_threads, args.warmup, args.duration
            )

        results["ceiling"] = run("ceiling", 0)
        have = sizes[0]
        for size in sizes:
            if size > have:
                t = time.monotonic()
                add_devices(app, org_id, group_id, have, size)
                print(f"  (enrolled {size - have:,} more devices in {time.monotonic() - t:.1f} s)")
                have = size
            results[size] = run("checkin", size)
        results["wake"] = wake_latency(app, host, args.wake_samples, pollers=10)
        if parked_sizes:
            if have < 100_000:
                add_devices(app, org_id, group_id, have, 100_000)
                have = 100_000
            results["parked"] = parked.run(app, host, server, env, parked_sizes, args)
    finally:
        server.terminate()  # pollers may still be waiting: do not wait for them
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()

    print(f"\n{'measurement':<32}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    rows = [("ceiling: GET /api/v1/health", results["ceiling"])]
    rows += [(f"check-in, {s:,} devices", results[s]) for s in sizes]
    for label, r in rows:
        print(
            f"{label:<32}{r['rps']:>10.0f}{r['p50'] * 1000:>10.2f}{r['p99'] * 1000:>10.2f}"
            f"{r['errors']:>8}"
        )
    ceiling = results["ceiling"]["rps"]
    for s in sizes:
        print(f"check-in/ceiling at {s:,} devices: {results[s]['rps'] / ceiling:.2f}")
    if len(sizes) > 1:
        print(
            f"{sizes[-1]:,}/{sizes[0]:,} devices check-in throughput ratio: "
            f"{results[sizes[-1]]['rps'] / results[sizes[0]]['rps']:.2f}"
        )
    wake = results["wake"]
    print(
        f"long-poll wake-up (order commit -> agent has it), {wake['n']} samples: "
        f"p50 {wake['p50'] * 1000:.1f} ms, p99 {wake['p99'] * 1000:.1f} ms"
        f"{', missed ' + str(wake['missed']) if wake['missed'] else ''}"
    )
    if parked_sizes:
        parked.print_rows(results["parked"], args.parked_checkin_rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
