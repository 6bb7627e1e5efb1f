"""Circuit breakers: a dead or hung backend costs a turn at most a few short timeouts, and
nothing at all once its breaker is open.

``Breaker``: closed -> (``threshold`` failures in a row) -> open for ``cooldown`` seconds ->
half-open (one trial call) -> closed on success, open again on failure. ``Guard`` runs calls
through a breaker and, while it is open, fails at once with the backend's own error class, so
callers keep their ordinary error handling.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

log = logging.getLogger(__name__)


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


class Guard:
    """Runs a backend's calls through its breaker.

    ``failures`` are the exception classes that count against the backend; ``open_error``
    builds the exception raised without calling it while the breaker is open (it must be one
    of the backend's own error classes, and is never counted as a new failure).
    """

    def __init__(self, breaker: Breaker, failures: tuple[type[BaseException], ...],
                 open_error: type[BaseException]) -> None:
        self.breaker = breaker
        self.failures = failures
        self.open_error = open_error

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn`` unless the breaker is open; record its success or failure."""
        if not self.breaker.allow():
            raise self.open_error(f"{self.breaker.name} unavailable (breaker open)")
        try:
            result = fn(*args, **kwargs)
        except self.failures as exc:
            if not isinstance(exc, self.open_error):
                self.breaker.failure(exc)
            raise
        self.breaker.success()
        return result


__all__ = ["Breaker", "Guard"]
