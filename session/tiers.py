"""The session store's tiers behind one interface, and a fail-safe wrapper.

A tier stores whole sessions by call id: ``get``, ``put``, ``delete`` and ``health``. L0 is
this process's cache (cachetools), L1 is Redis; L2, the durable snapshot, is provided by
the call log (``records.calllog.SnapshotTier``). ``FailSafe`` turns a tier's failures into
"not found" / "not written", logged once per outage, so the next tier serves.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable, Mapping, Protocol

from cachetools import TTLCache

from .model import SESSION_TTL_S

log = logging.getLogger(__name__)


class Tier(Protocol):
    """One place sessions are kept."""

    name: str

    def get(self, call_sid: str) -> dict[str, Any] | None:
        """The stored session, or None."""

    def put(self, session: Mapping[str, Any]) -> bool:
        """Store a session; False when it was not stored."""

    def delete(self, call_sid: str) -> None:
        """Forget a session."""

    def health(self) -> str:
        """"up", "down: <reason>" or "not configured"."""


class MemoryTier:
    """L0: this process's cache (thread-safe; entries expire after an hour)."""

    name = "l0"

    def __init__(self, *, size: int = 10_000, ttl: float = SESSION_TTL_S) -> None:
        self._cache: TTLCache = TTLCache(maxsize=size, ttl=ttl, timer=time.monotonic)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def get(self, call_sid: str) -> dict[str, Any] | None:
        """This process's copy (shared: callers copy before changing it)."""
        with self._lock:
            return self._cache.get(call_sid)

    def put(self, session: Mapping[str, Any]) -> bool:
        """Keep a session."""
        with self._lock:
            self._cache[session["call_sid"]] = session
        return True

    def delete(self, call_sid: str) -> None:
        """Forget a session."""
        with self._lock:
            self._cache.pop(call_sid, None)

    def health(self) -> str:
        """Always up."""
        return "up"

    def __contains__(self, call_sid: object) -> bool:
        with self._lock:
            return call_sid in self._cache


class RedisTier:
    """L1: Redis, shared by every worker and machine; sessions expire after an hour."""

    name = "redis"

    def __init__(self, redis: Any, *, ttl: int = SESSION_TTL_S) -> None:
        self.redis = redis
        self.ttl = ttl

    @staticmethod
    def key(call_sid: str) -> str:
        """The Redis key of a call's session."""
        return f"session:{call_sid}"

    def get(self, call_sid: str) -> dict[str, Any] | None:
        """The session in Redis (raises on Redis errors; an unreadable value counts as none)."""
        raw = self.redis.get(self.key(call_sid))
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            log.error("call %s: unreadable session in Redis, ignored", call_sid)
            return None

    def put(self, session: Mapping[str, Any]) -> bool:
        """Store the session (raises on Redis errors)."""
        self.redis.set(self.key(session["call_sid"]), json.dumps(session, separators=(",", ":")), ex=self.ttl)
        return True

    def delete(self, call_sid: str) -> None:
        """Forget a session (raises on Redis errors)."""
        self.redis.delete(self.key(call_sid))

    def health(self) -> str:
        """Whether Redis answers a PING."""
        try:
            self.redis.ping()
            return "up"
        except Exception as exc:  # noqa: BLE001
            return f"down: {exc.__class__.__name__}"


class FailSafe:
    """A tier whose failures read as "not there" and "not written", logged once per outage."""

    def __init__(self, tier: Any, *, on_result: Callable[[bool], None] | None = None,
                 on_fallback: Callable[[str], None] | None = None) -> None:
        self.tier = tier
        self.name = tier.name
        self.on_result = on_result or (lambda ok: None)
        self.on_fallback = on_fallback or (lambda name: None)
        self.down = False

    def _failed(self, what: str, exc: BaseException) -> None:
        if not self.down:
            log.warning("%s unavailable (%s): %s; the next tier serves", self.name, what, exc)
            self.down = True
        self.on_fallback(self.name)
        self.on_result(False)

    def _ok(self) -> None:
        if self.down:
            log.warning("%s is back", self.name)
            self.down = False
        self.on_result(True)

    def get(self, call_sid: str) -> dict[str, Any] | None:
        """The tier's session, or None if it has none or fails."""
        try:
            found = self.tier.get(call_sid)
        except Exception as exc:  # noqa: BLE001 - any backend failure: the next tier serves
            self._failed("read", exc)
            return None
        self._ok()
        return found

    def put(self, session: Mapping[str, Any]) -> bool:
        """Whether the tier stored the session."""
        try:
            stored = self.tier.put(session)
        except Exception as exc:  # noqa: BLE001
            self._failed("write", exc)
            return False
        self._ok()
        return bool(stored)

    def delete(self, call_sid: str) -> None:
        """Forget a session if the tier answers."""
        try:
            self.tier.delete(call_sid)
        except Exception as exc:  # noqa: BLE001
            self._failed("delete", exc)

    def health(self) -> str:
        """The tier's own health report."""
        return self.tier.health()


__all__ = ["Tier", "MemoryTier", "RedisTier", "FailSafe"]
