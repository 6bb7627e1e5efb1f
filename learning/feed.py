"""The feed: turn records reach learning off the caller's path.

``TurnFeed.turn(record)`` is called by the conversation for every recorded turn (through the
app's observer fan-out). It only notes the record with the infrastructure's state at that
moment (three attribute reads) in a bounded buffer; a daemon thread hands the buffer to learning
in batches every ``interval`` seconds. A turn never waits for learning, and a learning failure
never reaches a caller: a batch that fails is kept (bounded) and tried again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from typing import Any, Callable, Mapping, Sequence

from .reasons import DOCSTORE_DEGRADED, OUTBOX_PENDING, REDIS_DEGRADED

log = logging.getLogger(__name__)

#: Turns waiting for the background batch at most (the oldest are dropped past this, and counted).
MAX_BUFFER = 20_000
#: What learning reads of a turn record: only these are kept until the batch (the rest, the TwiML and the session
#: snapshot, is let go with the turn, so waiting turns hold little memory for the garbage collector to walk).
FIELDS = ("_id", "kind", "company_id", "call_sid", "seq", "at", "caller", "tier", "tier3", "scenario", "confidence",
          "action", "base", "base_used", "blocks", "guardrails", "collect")

Batch = Sequence[tuple[Mapping[str, Any], tuple[str, ...]]]


class Infrastructure:
    """Whether Redis or the document store is degraded right now (breakers, the durable writer's outbox)."""

    def __init__(self, db: Any, redis: Any | None, writer: Any) -> None:
        self.db = db
        self.redis = redis
        self.writer = writer

    def degraded(self) -> tuple[str, ...]:
        """The reasons the infrastructure is degraded (empty when healthy); cheap, never raises."""
        out = []
        try:
            if self.redis is not None and self.redis.breaker.state != "closed":
                out.append(REDIS_DEGRADED)
            if self.db.breaker.state != "closed":
                out.append(DOCSTORE_DEGRADED)
            outbox = getattr(self.writer, "outbox", None)
            if outbox is not None and outbox.pending_hint:
                out.append(OUTBOX_PENDING)
        except Exception as exc:  # noqa: BLE001 - a health check must not break a turn
            log.debug("infrastructure check failed: %s", exc)
        return tuple(out)


class TurnFeed:
    """The observer learning listens with: buffers turns, processes them in the background."""

    def __init__(self, process: Callable[[Batch], None], infra: Infrastructure, *, interval: float = 2.0,
                 background: bool = True) -> None:
        self.process = process
        self.infra = infra
        self.interval = interval
        self.background = background
        self.dropped = 0
        self._buffer: deque = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    # -- the observer protocol (called on the caller's path: cheap, never raises)

    def turn(self, record: Mapping[str, Any]) -> None:
        """Note a recorded caller turn for learning."""
        if record.get("kind") != "turn":
            return
        try:
            entry = ({k: record[k] for k in FIELDS if k in record}, self.infra.degraded())
            with self._lock:
                if len(self._buffer) >= MAX_BUFFER:
                    self._buffer.popleft()
                    self.dropped += 1
                self._buffer.append(entry)
            if self.background:
                self._ensure_thread()
        except Exception as exc:  # noqa: BLE001
            log.error("learning feed: turn not noted: %s", exc)

    def compiled(self, ok: bool, seconds: float | None) -> None:
        """Compiles teach learning nothing."""

    def arm_error(self, arm: str, kind: str, *, turn: bool = False) -> None:
        """A rollout arm's errors teach learning nothing (the turns themselves were noted)."""

    def rolled_back(self, figures: Mapping[str, Any]) -> None:
        """Rollbacks teach learning nothing."""

    def redis_call(self, ok: bool) -> None:
        """Redis calls are read from the breaker when a turn is noted."""

    def fallback(self, backend: str) -> None:
        """Backend failures are read from the breakers when a turn is noted."""

    # -- the background side

    def pending(self) -> int:
        """Turns waiting for the next batch."""
        with self._lock:
            return len(self._buffer)

    def drain(self) -> int:
        """Process every buffered turn now (the worker, the CLI, tests and benches); returns how many."""
        with self._lock:
            batch = list(self._buffer)
            self._buffer.clear()
        if not batch:
            return 0
        try:
            self.process(batch)
        except Exception as exc:  # noqa: BLE001 - keep the batch for the next round
            # (at exit there is no next round: a note, not an error)
            log.log(logging.INFO if getattr(exc, "quiet", False) else logging.ERROR,
                    "learning batch of %d turns failed (kept for the next round): %s", len(batch), exc)
            with self._lock:
                room = MAX_BUFFER - len(self._buffer)
                self.dropped += max(0, len(batch) - room)
                self._buffer.extendleft(reversed(batch[-room:] if room > 0 else []))
            return 0
        return len(batch)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._pid = os.getpid()  # one worker per process (gunicorn forks after the app is built)
            self._thread = threading.Thread(target=self._run, name="learning-feed", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.drain()


__all__ = ["TurnFeed", "Infrastructure", "MAX_BUFFER", "FIELDS"]
