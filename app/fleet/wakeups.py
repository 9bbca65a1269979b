"""Long-poll wake-ups: one Redis subscription per process, fanned out in-process.

An order committed on any node is announced on one channel (`agents:wake`, the device id
as message). Each web process holds one subscription, read by one background thread (a
greenlet under gunicorn's gevent worker), and wakes the polls parked in that process for
that device. A parked poll costs a registration and an Event: no thread, no database
connection, no Redis connection of its own; Redis connections per node are bounded by the
process count.

Wake-ups are hints; the database says what is pending. A missed message delays an order to
the end of its poll (at most 30 s), never loses it. When the subscription is lost, every
parked poll is released at once (it answers 503 with a spread Retry-After, without touching
the database): no poll sits out its wait deaf to new orders. When the subscription comes
back after a Redis outage, the hub asks the database which of its parked devices have
pending orders and wakes exactly those.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

log = logging.getLogger(__name__)

CHANNEL = "agents:wake"
# A wake-up that arrived this recently still counts for a poll that registers just after
# it (the poll checked the database before the order was committed).
RECENT_SECONDS = 60.0
RECONNECT_SECONDS = (0.5, 1, 2, 5)


def publish(client: Redis, device_id: int) -> None:
    """Announce that `device_id` has a new order (after its transaction committed)."""
    client.publish(CHANNEL, str(device_id))


class Waiter:
    """One parked poll: an Event set when its device is woken."""

    __slots__ = ("device_id", "event")

    def __init__(self, device_id: int) -> None:
        self.device_id = device_id
        self.event = threading.Event()

    def wait(self, timeout: float) -> bool:
        woken = self.event.wait(timeout)
        self.event.clear()
        return woken


class WakeupHub:
    """The process's subscription and the polls parked in it."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._waiters: dict[int, set[Waiter]] = defaultdict(set)
        self._recent: dict[int, float] = {}
        self._connected = threading.Event()
        self._connected_since = 0.0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="wakeup-hub", daemon=True)
        self._thread.start()

    # --- polls ---------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def park(self, device_id: int) -> Waiter:
        waiter = Waiter(device_id)
        with self._lock:
            self._waiters[device_id].add(waiter)
        return waiter

    def leave(self, waiter: Waiter) -> None:
        with self._lock:
            waiters = self._waiters.get(waiter.device_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[waiter.device_id]

    def may_have_missed(self, device_id: int, since: float) -> bool:
        """Could an order for `device_id` committed after `since` (monotonic) have been
        announced before its poll parked? Then the poll must look in the database."""
        with self._lock:
            recent = self._recent.get(device_id, 0.0)
        return recent >= since or self._connected_since >= since or not self.connected

    @property
    def parked(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiters.values())

    # --- the subscription -------------------------------------------------------------
    def _release_all(self) -> None:
        """The subscription is lost (`connected` is already clear): end every parked poll,
        since none of them can be woken any more."""
        with self._lock:
            waiters = [w for ws in self._waiters.values() for w in ws]
        for waiter in waiters:
            waiter.event.set()

    def _wake(self, device_id: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent[device_id] = now
            waiters = list(self._waiters.get(device_id, ()))
            if len(self._recent) > 10_000:
                horizon = now - RECENT_SECONDS
                self._recent = {d: t for d, t in self._recent.items() if t >= horizon}
        for waiter in waiters:
            waiter.event.set()

    def _catch_up(self) -> None:
        """After a (re)connection: wake the parked devices that have pending orders."""
        from app.extensions import db
        from app.models import AgentOrder

        with self._lock:
            parked = list(self._waiters)
        if not parked:
            return
        try:
            with self.app.app_context():
                for start in range(0, len(parked), 1000):
                    chunk = parked[start : start + 1000]
                    pending = db.session.execute(
                        select(AgentOrder.device_id)
                        .where(AgentOrder.device_id.in_(chunk), AgentOrder.status == "pending")
                        .distinct()
                    ).scalars()
                    for device_id in pending:
                        self._wake(device_id)
                db.session.remove()
        except Exception as exc:  # the database may be down too: polls time out normally
            log.warning("wake-up catch-up failed: %s", type(exc).__name__)

    def _run(self) -> None:
        from app.extensions import redis_store, tcp_options

        attempt = 0
        while not self._stopping:
            try:
                url = redis_store.url_for(self.app)
                client = Redis.from_url(
                    url,
                    socket_connect_timeout=2,
                    health_check_interval=15,
                    **tcp_options(url),
                    client_name=f"portal-hub-{os.getpid()}",
                )
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                self._connected_since = time.monotonic()
                self._connected.set()
                if attempt:
                    log.info("wake-up subscription restored")
                attempt = 0
                self._catch_up()
                while not self._stopping:
                    message = pubsub.get_message(timeout=5.0)
                    if message is None:
                        pubsub.check_health()
                        continue
                    try:
                        self._wake(int(message["data"]))
                    except (TypeError, ValueError):
                        continue
            except (RedisError, OSError) as exc:
                if self._connected.is_set() or attempt == 0:
                    log.warning("wake-up subscription lost: %s", type(exc).__name__)
                self._connected.clear()
                self._release_all()
                time.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
                attempt += 1


_hubs: dict[tuple[int, int], WakeupHub] = {}
_hubs_lock = threading.Lock()


def hub_for(app: Flask) -> WakeupHub:
    """This process's hub for `app`, started on first use (after any fork)."""
    key = (id(app), os.getpid())
    hub = _hubs.get(key)
    if hub is None:
        with _hubs_lock:
            hub = _hubs.get(key)
            if hub is None:
                hub = _hubs[key] = WakeupHub(app)
    return hub
