"""One simulated FlexxAgent (see `app.agent_sim`): enrolls, checks in, long-polls and
answers orders over the real agent API; and the fleet's counters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

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
    device_token: str = ""
    # An already running agent's instance id (benchmarks); a new one otherwise.
    instance_id: str = ""

    def __post_init__(self) -> None:
        self.hardware_id = self.hardware_id or f"sim-{self.hostname.lower()}"
        if self.consent not in ("granted", "denied", "timeout"):
            raise ValueError(f"{self.hostname}: consent is granted, denied or timeout")


@dataclass
class FleetStats:
    """What the fleet did, for `--report` (benchmarks read it)."""

    agents: int = 0
    enrolled: int = 0
    checkins: int = 0
    checkin_errors: int = 0
    polls: int = 0
    polls_with_orders: int = 0
    # 200 with no order well before its wait was over: a poll dropped by the server.
    polls_returned_early: int = 0
    # 503 (wake-ups unavailable) or any other refusal of a poll.
    polls_refused: int = 0
    poll_errors: int = 0
    orders_answered: int = 0
    parked_now: int = 0
    parked_max: int = 0
    # The counters when SIGUSR1 reset them (the connecting phase), if it did.
    before_reset: dict | None = None


SESSION_FIELD = re.compile(r"^sessions\[(\d+)\]")


def unreportable_session(status: int, answer: Any, count: int) -> int | None:
    """The index of the session a check-in was refused for (a 400 naming
    `sessions[i]…`), or None."""
    if status != 400 or not isinstance(answer, dict):
        return None
    field = (answer.get("error") or {}).get("field") or ""
    match = SESSION_FIELD.match(str(field))
    if match is None or int(match.group(1)) >= count:
        return None
    return int(match.group(1))


class SimulatedAgent:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        profile: AgentProfile,
        stop: asyncio.Event,
        stats: FleetStats,
        poll_wait: float = 20.0,
    ) -> None:
        self.http = http
        self.url = url.rstrip("/") + "/api/agent/v1"
        self.profile = profile
        self.stop = stop
        self.stats = stats
        self.poll_wait = poll_wait
        self.instance_id = profile.instance_id or uuid.uuid4().hex
        self.started_at = time.monotonic()
        self.token: str | None = profile.device_token or None
        self.interval = 60.0
        self.next_checkin = 0.0

    async def sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)

    # --- protocol ----------------------------------------------------------------
    async def enroll(self) -> None:
        p = self.profile
        body = {
            "enrollment_token": p.enrollment_token,
            "hardware_id": p.hardware_id,
            "hostname": p.hostname,
            "os_name": p.os_name,
            "os_version": p.os_version,
            "agent_version": p.agent_version,
            "environment": p.environment,
            "device_kind": p.kind,
        }
        while not self.stop.is_set():
            try:
                async with self.http.post(f"{self.url}/enroll", json=body, timeout=_t(10)) as r:
                    status, answer = r.status, await r.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.debug("%s: portal not reachable yet (%s)", p.hostname, type(exc).__name__)
                await self.sleep(1)
                continue
            if status != 201:
                raise RuntimeError(f"{p.hostname}: enrollment refused: {str(answer)[:200]}")
            self.token = answer["device_token"]
            self.interval = float(answer["checkin_interval_s"])
            self.stats.enrolled += 1
            log.info("%s: enrolled as device %s", p.hostname, answer["device_id"])
            return

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def checkin(self) -> list[dict[str, Any]]:
        p = self.profile
        if p.restart_every and time.monotonic() - self.started_at >= p.restart_every:
            self.instance_id = uuid.uuid4().hex
            self.started_at = time.monotonic()
            log.info("%s: agent restarted", p.hostname)
        sessions = list(p.sessions)
        while True:
            body = {
                "agent_version": p.agent_version,
                "agent_instance_id": self.instance_id,
                "os_name": p.os_name,
                "os_version": p.os_version,
                "sessions": sessions,
            }
            async with self.http.post(
                f"{self.url}/checkin", json=body, headers=self.headers, timeout=_t(30)
            ) as response:
                status = response.status
                answer = await response.json(content_type=None) if status in (200, 400) else None
            refused = unreportable_session(status, answer, len(sessions))
            if refused is None:
                break
            # One session the portal cannot store (a NUL byte in a user name…) must not
            # cost the device its check-ins: report the others, say which one was left out.
            log.warning(
                "%s: the portal refused session %s (%s); reporting the others",
                p.hostname,
                sessions[refused].get("session_key"),
                answer["error"].get("message"),
            )
            del sessions[refused]
        if status != 200:
            self.stats.checkin_errors += 1
            self.next_checkin = time.monotonic() + min(self.interval, 5.0)
            return []
        self.stats.checkins += 1
        self.interval = float(answer["checkin_interval_s"])
        self.next_checkin = time.monotonic() + self.interval
        return answer["orders"]

    async def poll(self) -> list[dict[str, Any]]:
        wait = max(0.0, min(self.poll_wait, self.next_checkin - time.monotonic()))
        self.stats.polls += 1
        self.stats.parked_now += 1
        self.stats.parked_max = max(self.stats.parked_max, self.stats.parked_now)
        started = time.monotonic()
        try:
            async with self.http.get(
                f"{self.url}/orders",
                params={"wait": f"{wait:.1f}"},
                headers=self.headers,
                timeout=_t(wait + 30),
            ) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After", "5")
                answer = await response.json(content_type=None) if status == 200 else {}
        finally:
            self.stats.parked_now -= 1
        if status != 200:
            self.stats.polls_refused += 1
            # Wait as told, but keep checking in on time (check-ins need no wake-ups).
            pause = float(retry_after) if retry_after.isdigit() else 5.0
            await self.sleep(min(pause, max(0.0, self.next_checkin - time.monotonic())))
            return []
        orders = answer.get("orders", [])
        if orders:
            self.stats.polls_with_orders += 1
        elif time.monotonic() - started < wait - 1.0:
            self.stats.polls_returned_early += 1
        return orders

    async def answer(self, order: dict[str, Any]) -> None:
        p = self.profile
        if p.response_delay:
            await self.sleep(p.response_delay)
        status, result, error = "succeeded", self.result_for(order), None
        if result is None:
            status, result, error = "failed", {}, f"unsupported order type {order['type']}"
        elif p.fail_rate and random.random() < p.fail_rate:
            status, result, error = "failed", {}, "simulated failure"
        body = {"status": status, "result": result}
        if error:
            body["error"] = error
        async with self.http.post(
            f"{self.url}/orders/{order['id']}/result",
            headers=self.headers,
            json=body,
            timeout=_t(30),
        ) as response:
            await response.read()
        self.stats.orders_answered += 1
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

    async def run(self) -> None:
        try:
            if self.token is None:
                await self.enroll()
            while not self.stop.is_set():
                try:
                    if time.monotonic() >= self.next_checkin:
                        orders = await self.checkin()
                    else:
                        orders = await self.poll()
                    for order in orders:
                        await self.answer(order)
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    if self.stop.is_set():
                        return
                    self.stats.poll_errors += 1
                    log.debug("%s: %s; retrying", self.profile.hostname, type(exc).__name__)
                    await self.sleep(1 + random.random())
        except RuntimeError as exc:
            log.error("%s stopped: %s", self.profile.hostname, exc)


def _t(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=seconds)
