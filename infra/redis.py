"""The Redis client: short timeouts, every command through a breaker."""

from __future__ import annotations

from typing import Any, Callable

import redis

from .breaker import Breaker, Guard

#: Short timeouts: Twilio waits at most 15 s for a whole webhook.
REDIS_TIMEOUT_S = 0.25
REDIS_FAILURES = (redis.ConnectionError, redis.TimeoutError, OSError)


class RedisBreakerOpen(redis.ConnectionError):
    """Redis's breaker is open: the command was not sent."""


class GuardedRedis:
    """redis-py behind a breaker: every command, and pipelines as one call."""

    def __init__(self, client: Any, breaker: Breaker) -> None:
        self.client = client
        self.guard = Guard(breaker, REDIS_FAILURES, RedisBreakerOpen)

    @property
    def breaker(self) -> Breaker:
        """Redis's breaker."""
        return self.guard.breaker

    def pipelined(self, build: Callable[[Any], None], *, transaction: bool = False) -> list[Any]:
        """Queue commands with ``build(pipe)`` and send them in one round trip, through the breaker."""
        def run() -> list[Any]:
            pipe = self.client.pipeline(transaction=transaction)
            build(pipe)
            return pipe.execute()
        return self.guard.call(run)

    def script(self, lua: str) -> Callable[..., Any]:
        """A Lua script (sent once, then run by its SHA), called through the breaker: ``run(keys=[], args=[])``."""
        registered = self.client.register_script(lua)
        return lambda *a, **k: self.guard.call(registered, *a, **k)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not callable(attr) or name.startswith("_") or name in ("pubsub", "pipeline"):
            return attr
        return lambda *a, **k: self.guard.call(attr, *a, **k)


def open_redis(redis_url: str, *, cooldown: float = 2.0) -> GuardedRedis | None:
    """A guarded redis-py client with short timeouts, or None when ``REDIS_URL`` is unset (L1 skipped)."""
    if not redis_url:
        return None
    client = redis.Redis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT_S,
                                  socket_connect_timeout=REDIS_TIMEOUT_S, retry_on_timeout=False,
                                  health_check_interval=0)
    return GuardedRedis(client, Breaker("Redis", cooldown=cooldown))


__all__ = ["GuardedRedis", "RedisBreakerOpen", "open_redis", "REDIS_TIMEOUT_S"]
