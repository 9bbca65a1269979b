"""The reference FlexxAgent: simulated agents speaking the real agent API over HTTP.

    python -m app.agent_sim --url http://127.0.0.1:5000 --count 5 --os "Windows 11"
    python -m app.agent_sim --url http://127.0.0.1:5000 --fleet fleet.json

The enrollment token comes from the environment (`AGENT_ENROLLMENT_TOKEN`), never from the
command line, where other users of the machine could read it. A fleet file (or the
`SIM_FLEET` variable) is a JSON list of profiles; each may name its own token with
`enrollment_token` (taken from the file/variable) or inherit the environment's.

Each agent enrolls, checks in every interval with its user sessions, long-polls for orders
and answers them: consent for interactive assistance as configured, a session ID for
unattended, `service_removed` for stop orders; after an optional delay, with an optional
failure rate, and restarting (new instance id) every `restart_every` seconds if asked.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

log = logging.getLogger("agent_sim")


@dataclass
class AgentProfile:
    hostname: str
    hardware_id: str = ""
    os_name: str = "Windows 11"
    os_version: str = "23H2"
    agent_version: str = "24.10.1"
    environment: str = "prod"
    kind: str = "physical"
    sessions: list[dict[str, str]] = field(default_factory=list)
    consent: str = "granted"  # granted | denied | timeout
    response_delay: float = 0.0
    restart_every: float = 0.0
    fail_rate: float = 0.0
    enrollment_token: str = ""

    def __post_init__(self) -> None:
        self.hardware_id = self.hardware_id or f"sim-{self.hostname.lower()}"
        if self.consent not in ("granted", "denied", "timeout"):
            raise ValueError(f"{self.hostname}: consent is granted, denied or timeout")


SESSION_FIELD = re.compile(r"^sessions\[(\d+)\]")


def unreportable_session(response: requests.Response, count: int) -> int | None:
    """The index of the session a check-in was refused for (a 400 naming
    `sessions[i]…`), or None."""
    if response.status_code != 400:
        return None
    try:
        field = response.json()["error"].get("field") or ""
    except (ValueError, KeyError, AttributeError):
        return None
    match = SESSION_FIELD.match(field)
    if match is None or int(match.group(1)) >= count:
        return None
    return int(match.group(1))


class SimulatedAgent(threading.Thread):
    def __init__(
        self, url: str, profile: AgentProfile, stop: threading.Event, poll_wait: float = 20.0
    ) -> None:
        super().__init__(name=f"agent-{profile.hostname}", daemon=True)
        self.url = url.rstrip("/") + "/api/agent/v1"
        self.profile = profile
        self.stop_event = stop
        self.poll_wait = poll_wait
        self.http = requests.Session()
        self.instance_id = uuid.uuid4().hex
        self.started_at = time.monotonic()
        self.token: str | None = None
        self.interval = 60.0
        self.next_checkin = 0.0
        self.answered = 0

    # --- protocol ----------------------------------------------------------------
    def enroll(self) -> None:
        p = self.profile
        while not self.stop_event.is_set():
            try:
                response = self.http.post(
                    f"{self.url}/enroll",
                    timeout=10,
                    json={
                        "enrollment_token": p.enrollment_token,
                        "hardware_id": p.hardware_id,
                        "hostname": p.hostname,
                        "os_name": p.os_name,
                        "os_version": p.os_version,
                        "agent_version": p.agent_version,
                        "environment": p.environment,
                        "device_kind": p.kind,
                    },
                )
            except requests.RequestException as exc:
                log.info("%s: portal not reachable yet (%s)", p.hostname, type(exc).__name__)
                self.stop_event.wait(1)
                continue
            if response.status_code != 201:
                raise RuntimeError(f"{p.hostname}: enrollment refused: {response.text[:200]}")
            body = response.json()
            self.token = body["device_token"]
            self.interval = float(body["checkin_interval_s"])
            log.info("%s: enrolled as device %s", p.hostname, body["device_id"])
            return

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def checkin(self) -> list[dict[str, Any]]:
        p = self.profile
        if p.restart_every and time.monotonic() - self.started_at >= p.restart_every:
            self.instance_id = uuid.uuid4().hex
            self.started_at = time.monotonic()
            log.info("%s: agent restarted", p.hostname)
        sessions = list(p.sessions)
        while True:
            response = self.http.post(
                f"{self.url}/checkin",
                headers=self.headers,
                timeout=10,
                json={
                    "agent_version": p.agent_version,
                    "agent_instance_id": self.instance_id,
                    "os_name": p.os_name,
                    "os_version": p.os_version,
                    "sessions": sessions,
                },
            )
            refused = unreportable_session(response, len(sessions))
            if refused is None:
                break
            # One session the portal cannot store (a NUL byte in a user name…) must not
            # cost the device its check-ins: report the others, say which one was left out.
            log.warning(
                "%s: the portal refused session %s (%s); reporting the others",
                p.hostname,
                sessions[refused].get("session_key"),
                response.json()["error"]["message"],
            )
            del sessions[refused]
        response.raise_for_status()
        body = response.json()
        self.interval = float(body["checkin_interval_s"])
        self.next_checkin = time.monotonic() + self.interval
        return body["orders"]

    def poll(self) -> list[dict[str, Any]]:
        wait = max(0.0, min(self.poll_wait, self.next_checkin - time.monotonic()))
        response = self.http.get(
            f"{self.url}/orders",
            params={"wait": f"{wait:.1f}"},
            headers=self.headers,
            timeout=wait + 10,
        )
        if response.status_code == 503:
            self.stop_event.wait(float(response.headers.get("Retry-After", 5)))
            return []
        response.raise_for_status()
        return response.json()["orders"]

    def answer(self, order: dict[str, Any]) -> None:
        p = self.profile
        if p.response_delay:
            self.stop_event.wait(p.response_delay)
        status, result, error = "succeeded", self.result_for(order), None
        if result is None:
            status, result, error = "failed", {}, f"unsupported order type {order['type']}"
        elif p.fail_rate and random.random() < p.fail_rate:
            status, result, error = "failed", {}, "simulated failure"
        body = {"status": status, "result": result}
        if error:
            body["error"] = error
        self.http.post(
            f"{self.url}/orders/{order['id']}/result", headers=self.headers, json=body, timeout=10
        )
        self.answered += 1
        log.info("%s: answered %s #%s: %s", p.hostname, order["type"], order["id"], status)

    def result_for(self, order: dict[str, Any]) -> dict[str, Any] | None:
        kind = order["type"]
        if kind == "ra.interactive.start":
            return {"consent": self.profile.consent}
        if kind == "ra.unattended.start":
            # The password in the payload is used by the service and then forgotten.
            return {"session_id": f"{secrets.randbelow(900_000_000) + 100_000_000}"}
        if kind == "ra.unattended.stop":
            return {"service_removed": True}
        if kind == "ra.end":
            return {"ended": True}
        if kind == "tools.launch":
            return {"launched": order["payload"].get("tool")}
        return None

    def run(self) -> None:
        try:
            self.enroll()
            while not self.stop_event.is_set():
                orders = self.checkin() if time.monotonic() >= self.next_checkin else self.poll()
                for order in orders:
                    self.answer(order)
        except (requests.RequestException, RuntimeError) as exc:
            if not self.stop_event.is_set():
                log.error("%s stopped: %s", self.profile.hostname, exc)


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
    missing = [p.hostname for p in profiles if not p.enrollment_token]
    if missing:
        raise SystemExit(
            "no enrollment token: set AGENT_ENROLLMENT_TOKEN (or give each "
            f"profile one); missing for {', '.join(missing[:5])}"
        )
    return profiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.agent_sim",
        description=__doc__,
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s agent-sim %(message)s")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    agents = [
        SimulatedAgent(args.url, p, stop, args.poll_wait) for p in load_profiles(args, os.environ)
    ]
    for agent in agents:
        agent.start()
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    stop.set()
    for agent in agents:
        agent.join(timeout=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
