"""Circuit breakers and guarded backends: a dead or hung Redis or document store costs a turn
at most a few short timeouts, and nothing at all once its breaker is open.

``Breaker``: closed -> (``threshold`` failures in a row) -> open for ``cooldown`` seconds ->
half-open (one trial call) -> closed on success, open again on failure.

``GuardedRedis`` and ``GuardedDatabase`` wrap redis-py and pymongo-style databases so every
call goes through the backend's breaker; when it is open they fail at once with the
backend's own error class (``redis.ConnectionError`` / ``PyMongoError``), so callers keep
their ordinary error handling.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

import redis
from pymongo.errors import (AutoReconnect, ConnectionFailure, ExecutionTimeout, NetworkTimeout, PyMongoError,
                            ServerSelectionTimeoutError, WTimeoutError)

from records.docstore import StoreUnavailable

log = logging.getLogger(__name__)


class BreakerOpen(PyMongoError):
    """The backend's breaker is open: the call was not attempted."""


class RedisBreakerOpen(redis.ConnectionError):
    """Redis's breaker is open: the command was not sent."""


class Breaker:
    """One backend's circuit breaker (thread-safe)."""

    def __init__(self, name: str, *, threshold: int = 3, cooldown: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trial = False
        self.opens = 0
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """closed, open or half-open."""
        with self._lock:
            if self.opened_at is None:
                return "closed"
            return "half-open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        """Whether a call may go to the backend now (one trial call when the cooldown is over)."""
        with self._lock:
            if self.opened_at is None:
                return True
            if self.clock() - self.opened_at >= self.cooldown and not self.trial:
                self.trial = True
                return True
            return False

    def success(self) -> None:
        """The backend answered."""
        with self._lock:
            if self.opened_at is not None:
                log.warning("%s is back: breaker closed", self.name)
            self.failures = 0
            self.opened_at = None
            self.trial = False

    def failure(self, exc: BaseException) -> None:
        """The backend failed (a connection problem or a timeout, not a logical error)."""
        with self._lock:
            self.failures += 1
            if self.trial:  # the half-open trial failed: stay open for another cooldown
                self.opened_at = self.clock()
                self.trial = False
            elif self.opened_at is None and self.failures >= self.threshold:
                log.error("%s failing (%s): breaker open for %.1fs", self.name, exc, self.cooldown)
                self.opens += 1
                self.opened_at = self.clock()


MONGO_FAILURES = (ConnectionFailure, ServerSelectionTimeoutError, NetworkTimeout, AutoReconnect, ExecutionTimeout,
                  WTimeoutError, StoreUnavailable)
REDIS_FAILURES = (redis.ConnectionError, redis.TimeoutError, OSError)


class _Guarded:
    def __init__(self, breaker: Breaker, failures: tuple[type[BaseException], ...],
                 open_error: Callable[[str], BaseException]) -> None:
        self._breaker = breaker
        self._failures = failures
        self._open_error = open_error

    @property
    def breaker(self) -> Breaker:
        """This backend's breaker."""
        return self._breaker

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._breaker.allow():
            raise self._open_error(f"{self._breaker.name} unavailable (breaker open)")
        try:
            result = fn(*args, **kwargs)
        except self._failures as exc:
            if isinstance(exc, (BreakerOpen, RedisBreakerOpen)):
                raise
            self._breaker.failure(exc)
            raise
        self._breaker.success()
        return result


class GuardedRedis(_Guarded):
    """redis-py behind a breaker: the commands the app uses."""

    def __init__(self, client: Any, breaker: Breaker) -> None:
        super().__init__(breaker, REDIS_FAILURES, RedisBreakerOpen)
        self.client = client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not callable(attr) or name.startswith("_") or name in ("pubsub", "pipeline"):
            return attr
        return lambda *a, **k: self._call(attr, *a, **k)


class GuardedCollection(_Guarded):
    """A pymongo-style collection behind its database's breaker."""

    def __init__(self, collection: Any, breaker: Breaker) -> None:
        super().__init__(breaker, MONGO_FAILURES, BreakerOpen)
        self.collection = collection
        self.name = collection.name

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.collection, name)
        if not callable(attr) or name.startswith("_"):
            return attr
        if name == "find":
            return lambda *a, **k: self._call(lambda: list(attr(*a, **k)))
        return lambda *a, **k: self._call(attr, *a, **k)


class GuardedDatabase(_Guarded):
    """A pymongo-style database whose collections share one breaker."""

    def __init__(self, db: Any, breaker: Breaker) -> None:
        super().__init__(breaker, MONGO_FAILURES, BreakerOpen)
        self.db = db
        self._collections: dict[str, GuardedCollection] = {}

    def __getitem__(self, name: str) -> GuardedCollection:
        coll = self._collections.get(name)
        if coll is None:
            coll = self._collections[name] = GuardedCollection(self.db[name], self._breaker)
        return coll

    def command(self, *args: Any, **kwargs: Any) -> Any:
        """Run a database command (``ping``) through the breaker."""
        return self._call(self.db.command, *args, **kwargs)


__all__ = ["Breaker", "BreakerOpen", "RedisBreakerOpen", "GuardedRedis", "GuardedDatabase", "GuardedCollection"]
