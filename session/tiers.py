"""The session store's tiers behind one interface, and a fail-safe wrapper.

A tier stores whole sessions by call id: ``get``, ``put``, ``delete`` and ``health``. L0 is
this process's cache (cachetools), L1 is Redis; L2, the durable snapshot, is provided by
the call log (``records.calllog.SnapshotTier``). Writes are monotonic in every tier: a
session never replaces a newer one of the same call (``put`` answers ``STALE``), so a late
or repeated delivery of an old turn cannot roll a call back. ``FailSafe`` turns a tier's
failures into "not found" / ``FAILED``, logged once per outage, so the next tier serves.
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

#: What ``put`` answers: stored, or not stored because the tier holds a newer turn of the call, or failed.
STORED, STALE, FAILED = "stored", "stale", "failed"

#: Redis compare-and-set: the value is "<seq>|<json>"; write only when the stored turn is not newer.
_CAS = """
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, '|', 1, true)
  if sep and tonumber(string.sub(current, 1, sep - 1)) > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[3])
return 1
"""


class Tier(Protocol):
    """One place sessions are kept."""

    name: str

    def get(self, call_sid: str) -> dict[str, Any] | None:
        """The stored session, or None."""

    def put(self, session: Mapping[str, Any]) -> str:
        """Store a session unless the tier holds a newer turn of the call: STORED or STALE (raises on failure)."""

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

    def put(self, session: Mapping[str, Any]) -> str:
        """Keep a session unless this process holds a newer turn of the call."""
        with self._lock:
            cached = self._cache.get(session["call_sid"])
            if cached is not None and cached["seq"] > session["seq"]:
                return STALE
            self._cache[session["call_sid"]] = session
        return STORED

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
        self._cas = redis.script(_CAS)

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
            return json.loads(raw.split(b"|", 1)[1] if isinstance(raw, bytes) else raw.split("|", 1)[1])
        except (ValueError, IndexError):
            log.error("call %s: unreadable session in Redis, ignored", call_sid)
            return None

    def put(self, session: Mapping[str, Any]) -> str:
        """Store the session unless Redis holds a newer turn of the call (one round trip; raises on Redis errors)."""
        done = self._cas(keys=[self.key(session["call_sid"])],
                         args=[int(session["seq"]), json.dumps(session, separators=(",", ":")), self.ttl])
        return STORED if done else STALE

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

    def put(self, session: Mapping[str, Any]) -> str:
        """STORED, STALE (the tier holds a newer turn), or FAILED."""
        try:
            stored = self.tier.put(session)
        except Exception as exc:  # noqa: BLE001
            self._failed("write", exc)
            return FAILED
        self._ok()
        return stored

    def delete(self, call_sid: str) -> None:
        """Forget a session if the tier answers."""
        try:
            self.tier.delete(call_sid)
        except Exception as exc:  # noqa: BLE001
            self._failed("delete", exc)

    def health(self) -> str:
        """The tier's own health report."""
        return self.tier.health()


__all__ = ["Tier", "MemoryTier", "RedisTier", "FailSafe", "STORED", "STALE", "FAILED"]
