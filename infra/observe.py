"""What the lower layers report as they work, and who listens (monitoring implements it)."""

from __future__ import annotations

from typing import Any, Mapping, Protocol


class Observer(Protocol):
    """Receives events from stores and the conversation; implementations never raise."""

    def turn(self, record: Mapping[str, Any]) -> None:
        """A turn was answered and recorded."""

    def compiled(self, ok: bool, seconds: float | None) -> None:
        """A cheat-sheet compile finished (or a draft was refused by validation)."""

    def redis_call(self, ok: bool) -> None:
        """One Redis session call and whether it worked."""

    def fallback(self, backend: str) -> None:
        """A backend failed and a lower tier served."""


class NullObserver:
    """An observer that listens to nothing (tests, tools)."""

    def turn(self, record: Mapping[str, Any]) -> None:
        """Ignore a turn."""

    def compiled(self, ok: bool, seconds: float | None) -> None:
        """Ignore a compile."""

    def redis_call(self, ok: bool) -> None:
        """Ignore a Redis call."""

    def fallback(self, backend: str) -> None:
        """Ignore a fallback."""


__all__ = ["Observer", "NullObserver"]
