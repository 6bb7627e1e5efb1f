"""The readiness report: each package adds its part; a backend reported ``down`` degrades it."""

from __future__ import annotations

from typing import Any, Callable


class Health:
    """Named parts of ``/readyz``, each computed when asked."""

    def __init__(self) -> None:
        self._parts: dict[str, Callable[[], Any]] = {}

    def add(self, name: str, part: Callable[[], Any]) -> None:
        """Add a part (its value is computed on every report)."""
        self._parts[name] = part

    def report(self) -> dict[str, Any]:
        """Every part, and ``status``: ``degraded`` when any backend is down, else ``ok``."""
        out: dict[str, Any] = {name: part() for name, part in self._parts.items()}
        backends = out.get("backends") or {}
        down = [k for k, v in backends.items() if str(v).startswith("down")]
        return {"status": "degraded" if down else "ok", **out}


__all__ = ["Health"]
