"""What the lower layers report as they work, and who listens (monitoring implements it)."""

from __future__ import annotations

import logging
from typing import Any, Mapping, Protocol

log = logging.getLogger(__name__)


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

    def arm_error(self, arm: str, kind: str, *, turn: bool = False) -> None:
        """An error of a rollout arm became known after its turn was counted (``turn``: a turn that has no
        record of its own, such as one the webhook's fallback answered)."""

    def rolled_back(self, figures: Mapping[str, Any]) -> None:
        """A rollout was rolled back (``figures["by"]``: ``auto`` for a regression, else who did it)."""


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

    def arm_error(self, arm: str, kind: str, *, turn: bool = False) -> None:
        """Ignore a late error."""

    def rolled_back(self, figures: Mapping[str, Any]) -> None:
        """Ignore a rollback."""


class Observers:
    """Tells several observers everything (the app's fan-out); one observer failing never reaches the others."""

    def __init__(self, *observers: Observer) -> None:
        self.observers = tuple(observers)

    def turn(self, record: Mapping[str, Any]) -> None:
        """Tell each observer about a turn."""
        for o in self.observers:
            _safely(o.turn, record)

    def compiled(self, ok: bool, seconds: float | None) -> None:
        """Tell each observer about a compile."""
        for o in self.observers:
            _safely(o.compiled, ok, seconds)

    def redis_call(self, ok: bool) -> None:
        """Tell each observer about a Redis call."""
        for o in self.observers:
            _safely(o.redis_call, ok)

    def fallback(self, backend: str) -> None:
        """Tell each observer about a fallback."""
        for o in self.observers:
            _safely(o.fallback, backend)

    def arm_error(self, arm: str, kind: str, *, turn: bool = False) -> None:
        """Tell each observer about an arm's error known after its turn."""
        for o in self.observers:
            _safely(lambda o=o: o.arm_error(arm, kind, turn=turn))

    def rolled_back(self, figures: Mapping[str, Any]) -> None:
        """Tell each observer about a rollback."""
        for o in self.observers:
            _safely(o.rolled_back, figures)


def _safely(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - observers must never break the work they watch
        log.error("observer %s failed: %s", getattr(fn, "__qualname__", fn), exc)


__all__ = ["Observer", "NullObserver", "Observers"]
