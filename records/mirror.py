"""Redis as a cache of the document store's companies and artifacts (never the source of truth)."""

from __future__ import annotations

import json
import time
from typing import Any


class Mirror:
    """JSON values in Redis, read and written without ever raising (Redis is only a cache here)."""

    def __init__(self, redis: Any | None) -> None:
        self.redis = redis
        self._written: dict[str, float] = {}

    def get(self, key: str) -> Any:
        """The cached value, or None (missing, unreadable, or Redis down)."""
        if self.redis is None:
            return None
        try:
            raw = self.redis.get(key)
            return json.loads(raw) if raw else None
        except Exception:  # noqa: BLE001 - Redis down or a bad value: as if missing
            return None

    def put(self, key: str, value: Any, *, refresh_after: float = 0.0) -> None:
        """Cache a value (at most once per ``refresh_after`` seconds per key)."""
        if self.redis is None:
            return
        now = time.monotonic()
        if refresh_after and now - self._written.get(key, -1e9) < refresh_after:
            return
        self._written[key] = now
        try:
            self.redis.set(key, json.dumps(value, separators=(",", ":"), default=str))
        except Exception:  # noqa: BLE001
            pass

    def stale(self, key: str) -> None:
        """Write this key again on its next ``put``."""
        self._written.pop(key, None)


__all__ = ["Mirror"]
