"""`python -m app.agent_sim`: run a fleet of simulated agents (see `app.agent_sim`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from dataclasses import asdict

import aiohttp

from app import agent_sim
from app.agent_sim.agent import AgentProfile, FleetStats, SimulatedAgent

log = logging.getLogger("agent_sim")


def load_profiles(args, env) -> list[AgentProfile]:
    default_token = env.get("AGENT_ENROLLMENT_TOKEN", "")
    if args.fleet or env.get("SIM_FLEET"):
        if args.fleet:
            with open(args.fleet) as fh:
                raw = json.load(fh)
        else:
            raw = json.loads(env["SIM_FLEET"])
        profiles = [AgentProfile(**{"enrollment_token": default_token, **p}) for p in raw]
    else:
        sessions = [
            {
                "session_key": str(i + 1),
                "username": f"user{i + 1}",
                "state": "active",
                "kind": "console" if i == 0 else "rdp",
            }
            for i in range(args.sessions)
        ]
        profiles = [
            AgentProfile(
                hostname=f"{args.prefix}-{n:04d}",
                os_name=args.os,
                agent_version=args.version,
                kind=args.kind,
                environment=args.environment,
                sessions=sessions,
                consent=args.consent,
                response_delay=args.delay,
                restart_every=args.restart_every,
                fail_rate=args.fail_rate,
                enrollment_token=default_token,
            )
            for n in range(1, args.count + 1)
        ]
    missing = [p.hostname for p in profiles if not (p.enrollment_token or p.device_token)]
    if missing:
        raise SystemExit(
            "no enrollment token: set AGENT_ENROLLMENT_TOKEN (or give each "
            f"profile one); missing for {', '.join(missing[:5])}"
        )
    return profiles


async def run_fleet(args, profiles: list[AgentProfile]) -> FleetStats:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stats = FleetStats(agents=len(profiles))
    # SIGUSR1: start counting afresh (a benchmark's measurement window starts once every
    # agent is parked; what happened while they connected is reported apart).
    ramp_stats: list[FleetStats] = []

    def reset_counters() -> None:
        ramp_stats.append(FleetStats(**asdict(stats)))
        for name in (
            "enrolled",
            "checkins",
            "checkin_errors",
            "polls",
            "polls_with_orders",
            "polls_returned_early",
            "polls_refused",
            "poll_errors",
            "orders_answered",
        ):
            setattr(stats, name, 0)

    loop.add_signal_handler(signal.SIGUSR1, reset_counters)
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:
        agents = [SimulatedAgent(http, args.url, p, stop, stats, args.poll_wait) for p in profiles]
        tasks = []
        for n, agent in enumerate(agents):
            tasks.append(asyncio.create_task(agent.run()))
            if args.ramp and n % args.ramp == args.ramp - 1:
                await asyncio.sleep(1.0)  # start `ramp` agents per second
        if args.duration:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=args.duration)
            stop.set()
        else:
            await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if ramp_stats:
        stats.before_reset = {k: v for k, v in asdict(ramp_stats[0]).items() if v is not None}
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.agent_sim",
        description=agent_sim.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--fleet", help="JSON file with a list of agent profiles")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--prefix", default="SIM")
    parser.add_argument("--os", default="Windows 11")
    parser.add_argument("--version", default="24.10.1")
    parser.add_argument("--kind", default="physical")
    parser.add_argument("--environment", default="prod")
    parser.add_argument("--sessions", type=int, default=1, help="active user sessions")
    parser.add_argument("--consent", default="granted", choices=["granted", "denied", "timeout"])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering")
    parser.add_argument("--restart-every", type=float, default=0.0)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--duration", type=float, default=0.0, help="stop after N seconds")
    parser.add_argument("--poll-wait", type=float, default=20.0)
    parser.add_argument("--ramp", type=int, default=0, help="agents started per second")
    parser.add_argument("--report", help="write the fleet's counters (JSON) here on exit")
    parser.add_argument("--log-level", default=os.environ.get("AGENT_SIM_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s agent-sim %(message)s")
    profiles = load_profiles(args, os.environ)
    stats = asyncio.run(run_fleet(args, profiles))
    if args.report:
        with open(args.report, "w") as fh:
            json.dump(asdict(stats), fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
