"""Fixed-window failure counters in Redis, for sign-in (and later relay passwords).

Redis being unreachable is reported as `ThrottleUnavailable`: we refuse to authenticate
rather than run without brute-force protection.
"""

from __future__ import annotations

import hashlib

from redis.exceptions import RedisError

from app.extensions import redis_store


class ThrottleUnavailable(RuntimeError):
    """The throttle store (Redis) cannot be reached."""


def _key(scope: str, subject: str) -> str:
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"throttle:{scope}:{digest}"


def retry_after(scope: str, subject: str, limit: int) -> int:
    """Seconds until `subject` may try again, or 0 when it is under `limit` failures."""
    key = _key(scope, subject)
    try:
        pipe = redis_store.client.pipeline()
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = pipe.execute()
    except RedisError as exc:
        raise ThrottleUnavailable(str(exc)) from exc
    if count is not None and int(count) >= limit:
        return max(int(ttl), 1)
    return 0


def register_failure(scope: str, subject: str, window_s: int) -> int:
    """Count one failure in the current window; return the count."""
    key = _key(scope, subject)
    try:
        pipe = redis_store.client.pipeline()
        pipe.set(key, 0, ex=window_s, nx=True)
        pipe.incr(key)
        _, count = pipe.execute()
    except RedisError as exc:
        raise ThrottleUnavailable(str(exc)) from exc
    return int(count)


def reset(scope: str, subject: str) -> None:
    try:
        redis_store.client.delete(_key(scope, subject))
    except RedisError as exc:
        raise ThrottleUnavailable(str(exc)) from exc
