"""Failed attempts per client, limited (pure Python, per process): a brute-force guard for sign-in."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from cachetools import TTLCache


class FailureLimit:
    """At most ``limit`` failures per ``window_s`` seconds per key (a client address); then refused until
    the oldest failure leaves the window. A success does not clear earlier failures (a guesser who
    also holds one good token gains nothing). Memory is bounded: at most ``max_keys`` clients tracked."""

    def __init__(self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._fails: TTLCache[str, deque[float]] = TTLCache(maxsize=max_keys, ttl=window_s, timer=clock)
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` may try again (0: it may now)."""
        if self.limit <= 0:
            return 0
        with self._lock:
            fails = self._fails.get(key)
            if not fails:
                return 0
            now = self.clock()
            while fails and now - fails[0] >= self.window_s:
                fails.popleft()
            if len(fails) < self.limit:
                return 0
            return max(1, int(fails[0] + self.window_s - now + 0.999))

    def failed(self, key: str) -> None:
        """Count one failure of ``key``."""
        with self._lock:
            fails = self._fails.get(key) or deque(maxlen=max(1, self.limit))
            fails.append(self.clock())
            self._fails[key] = fails  # refreshes its time to live


__all__ = ["FailureLimit"]
