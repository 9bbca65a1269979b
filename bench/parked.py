"""The parked-fleet scenario of bench/checkin.py: N FlexxAgents (the reference agent,
`python -m app.agent_sim`, asyncio, 5,000 per process) parked in
`GET /orders?wait=25`, re-polling as soon as a poll returns, while other agents check in at
a fixed rate and the bench times long-poll wake-ups.

Reported per N: polls held by the server, polls returned early / refused / failed (from
the agents' own counters), check-in p50/p99 during it, wake-up p50/p99, the server's Redis
connections and the node's resident memory.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import requests

from bench.common import ROOT, node_memory_mb, pct

PER_PROCESS = 5000
POLL_WAIT = 25


def server_metrics(host: str, token: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    for attempt in range(5):
        try:
            text = requests.get(
                f"http://{host}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30
            ).text
            break
        except requests.RequestException:
            if attempt == 4:
                raise
            time.sleep(2)
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.labels:
                values[sample.name] = sample.value
    return values


def redis_clients(redis_url: str) -> dict[str, int]:
    import redis

    counts = {"hub": 0, "web": 0, "other": 0}
    for client in redis.Redis.from_url(redis_url).client_list():
        kind = client.get("name", "").removeprefix("portal-").rpartition("-")[0]
        counts[kind if kind in counts else "other"] += 1
    return counts


def _profile(proc: int, n: int, token: str) -> dict:
    """A pre-enrolled agent that kept running: its facts are the ones on record, so its
    check-ins change nothing."""
    from bench.checkin import CHECKIN, INSTANCE

    return {
        "hostname": f"P{proc}-{n:05d}",
        "device_token": token,
        "instance_id": INSTANCE,
        "sessions": CHECKIN["sessions"],
        "os_name": CHECKIN["os_name"],
        "os_version": CHECKIN["os_version"],
        "agent_version": CHECKIN["agent_version"],
    }


def start_fleet(host: str, tokens: list[str], env: dict, ramp: int, workdir: str):
    """Agent processes for `tokens` (pre-enrolled devices); returns (procs, report paths)."""
    procs, reports = [], []
    for n, start in enumerate(range(0, len(tokens), PER_PROCESS)):
        chunk = tokens[start : start + PER_PROCESS]
        fleet_path = os.path.join(workdir, f"fleet-{n}.json")
        with open(os.open(fleet_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
            json.dump(
                [{"hostname": f"P{n}-{i:05d}", "device_token": t} for i, t in enumerate(chunk)], fh
            )
        report = os.path.join(workdir, f"report-{n}.json")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.agent_sim",
                    "--url",
                    f"http://{host}",
                    "--fleet",
                    fleet_path,
                    "--poll-wait",
                    str(POLL_WAIT),
                    "--ramp",
                    str(max(1, ramp // max(1, -(-len(tokens) // PER_PROCESS)))),
                    "--report",
                    report,
                    "--log-level",
                    os.environ.get("BENCH_AGENT_LOG_LEVEL", "ERROR"),
                ],
                cwd=ROOT,
                env=env,
            )
        )
        reports.append(report)
    return procs, reports


def start_measuring(procs) -> None:
    """Every agent is parked: the agents' counters start afresh (SIGUSR1)."""
    for proc in procs:
        proc.send_signal(signal.SIGUSR1)


def stop_fleet(procs, reports) -> dict[str, int]:
    """Stop the agents; their counters since `start_measuring`, and before it under
    `connecting`."""
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    totals: dict = {"connecting": {}}
    for proc, report in zip(procs, reports, strict=True):
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        with open(report) as fh:
            data = json.load(fh)
        for key, value in (data.pop("before_reset") or {}).items():
            totals["connecting"][key] = totals["connecting"].get(key, 0) + value
        for key, value in data.items():
            totals[key] = totals.get(key, 0) + value
    return totals


def _checkin_load(host: str, tokens: list[str], rate: float, duration: float, out) -> None:
    """Open-loop check-ins at `rate` per second from their own process."""
    import aiohttp

    from bench.checkin import CHECKIN

    async def run():
        latencies, errors = [], 0
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def one(token):
                nonlocal errors
                started = time.perf_counter()
                try:
                    async with http.post(
                        f"http://{host}/api/agent/v1/checkin",
                        json=CHECKIN,
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=aiohttp.ClientTimeout(total=30),
                    ) as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

            tasks, start = [], time.perf_counter()
            n = 0
            while (now := time.perf_counter()) - start < duration:
                due = start + n / rate
                if due > now:
                    await asyncio.sleep(due - now)
                tasks.append(asyncio.create_task(one(random.choice(tokens))))
                n += 1
            await asyncio.gather(*tasks)
        return latencies, errors

    out.put(asyncio.run(run()))


def checkin_during(host: str, tokens: list[str], rate: float, duration: float) -> dict:
    queue = mp.Queue()
    proc = mp.Process(target=_checkin_load, args=(host, tokens, rate, duration, queue))
    proc.start()
    latencies, errors = queue.get()
    proc.join()
    latencies.sort()
    return {
        "n": len(latencies),
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "errors": errors,
    }


def run(app, host: str, server, env: dict, sizes: list[int], args) -> list[dict]:
    """Every parked-fleet size in turn; returns one result row per size."""
    from bench.checkin import device_token

    rows = []
    other = [device_token(i) for i in range(60_000, 70_000)]
    for size in sizes:
        tokens = [device_token(i) for i in range(size)]
        with tempfile.TemporaryDirectory(prefix="bench-parked-") as workdir:
            procs, reports = start_fleet(host, tokens, env, args.ramp, workdir)
            try:
                rows.append(_measure(app, host, server, env, size, args, procs, reports, other))
            finally:
                for proc in procs:
                    if proc.poll() is None:
                        proc.kill()
    return rows


def _measure(app, host, server, env, size, args, procs, reports, other) -> dict:
    from bench.checkin import wake_latency

    deadline = time.monotonic() + size / args.ramp + 120
    held = 0
    while time.monotonic() < deadline:
        held = server_metrics(host, env["METRICS_TOKEN"]).get("portal_agent_polls_parked", 0)
        if held >= size:
            break
        time.sleep(1)
    start_measuring(procs)
    time.sleep(POLL_WAIT + 5)  # a full re-poll cycle before measuring
    checkins = checkin_during(host, other, args.parked_checkin_rate, args.parked_seconds)
    wake = wake_latency(app, host, args.wake_samples, pollers=10, first=90_000)
    metrics = server_metrics(host, env["METRICS_TOKEN"])
    return {
        "size": size,
        "held": metrics.get("portal_agent_polls_parked", 0),
        "held_at_start": held,
        "checkin": checkins,
        "wake": wake,
        "redis": redis_clients(env["REDIS_URL"]),
        "memory_mb": node_memory_mb(server),
        "db_in_use": metrics.get("portal_db_connections_in_use", 0),
        "agents": stop_fleet(procs, reports),
    }


def print_rows(rows: list[dict], rate: float) -> None:
    print(
        f"\nparked agents (GET /orders?wait={POLL_WAIT}, re-polling at once), with check-ins of "
        f"other agents at {rate:.0f}/s:"
    )
    print(
        f"{'parked':>8}{'held':>8}{'early':>7}{'refused':>8}{'failed':>7}"
        f"{'ci p50':>8}{'ci p99':>8}{'ci err':>7}{'wake p50':>9}{'wake p99':>9}"
        f"{'redis':>6}{'RSS MB':>8}"
    )
    for r in rows:
        a, c, w = r["agents"], r["checkin"], r["wake"]
        print(
            f"{r['size']:>8,}{r['held']:>8,.0f}{a.get('polls_returned_early', 0):>7}"
            f"{a.get('polls_refused', 0):>8}{a.get('poll_errors', 0):>7}"
            f"{c['p50'] * 1000:>8.1f}{c['p99'] * 1000:>8.1f}{c['errors']:>7}"
            f"{w['p50'] * 1000:>9.1f}{w['p99'] * 1000:>9.1f}"
            f"{r['redis']['hub'] + r['redis']['web']:>6}{r['memory_mb']:>8.0f}"
        )
    print(
        "  (ci = check-in latency in ms; early/refused/failed = parked polls the server ended "
        "before their wait, refused, or dropped, counted from the moment every agent was "
        "parked; redis = the web node's Redis connections)"
    )
    for r in rows:
        c = r["agents"].get("connecting", {})
        print(
            f"  while {r['size']:,} agents connected (ramp): check-ins {c.get('checkins', 0):,}, "
            f"refused {c.get('checkin_errors', 0)}, polls refused {c.get('polls_refused', 0)}, "
            f"failed requests {c.get('poll_errors', 0)}"
        )
