"""Catalog changes, seen by every process within ``POLL_S``: caches are dropped when what they hold changes.

A write to a company or a template notes ``(kind, key)`` in ``catalog_changes`` under the
next number of a counter in the document store, and mirrors that number in Redis. Each
process, at most every ``POLL_S`` and only when it is about to use a cache, reads the
number (one Redis GET, else one store read); when it moved, it reads the changes since the
last number it saw and drops exactly those entries. So a company, template or policy stays
cached however far apart a call's turns are, and a change still reaches every worker
within a second. A backstop expiry in each cache covers a change whose note was lost.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from pymongo import ReturnDocument

log = logging.getLogger(__name__)

#: How often a process looks for changes (at most; only when it uses a cache).
POLL_S = 0.5
#: How many notes are kept (older ones are trimmed when new ones are written).
KEEP = 10_000
REDIS_KEY = "catalog:seq"
#: How long a poll waits for a note whose number is taken but whose document is not written yet, and how
#: soon it looks again meanwhile.
GAP_S, GAP_POLL_S = 2.0, 0.05


class Changes:
    """The change feed of companies and templates."""

    def __init__(self, db: Any, redis: Any | None = None, *, monotonic: Callable[[], float] = time.monotonic,
                 clock: Callable[[], float] = time.time) -> None:
        self.coll = db["catalog_changes"]
        self.counters = db["counters"]
        self.redis = redis
        self.monotonic = monotonic
        self.clock = clock
        self._listeners: list[Callable[[str, str], None]] = []
        self._seen: int | None = None
        self._ahead: set[int] = set()          # delivered while an earlier note's document was still missing
        self._gap_since: float | None = None
        self._next_poll = 0.0
        self._lock = threading.Lock()
        # Where the feed stands before anything is cached (the start-up warming fills caches in the background):
        # a change noted after this is delivered, however late the first poll comes.
        try:
            self._seen = self._head()
        except Exception as exc:  # noqa: BLE001 - the first poll takes the number instead
            log.debug("catalog changes: no starting number yet: %s", exc)

    def subscribe(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(kind, key)`` for each change another process (or this one) noted."""
        self._listeners.append(listener)

    def note(self, kind: str, key: str) -> None:
        """Say that ``kind`` ``key`` changed (after the change itself was written); never raises."""
        try:
            head = self.counters.find_one_and_update({"_id": "catalog"}, {"$inc": {"seq": 1}}, upsert=True,
                                                     return_document=ReturnDocument.AFTER)["seq"]
            self.coll.insert_one({"_id": head, "kind": kind, "key": key, "at": self.clock()})
            if head % 100 == 0:
                self.coll.delete_many({"_id": {"$lt": head - KEEP}})
        except Exception as exc:  # noqa: BLE001 - other processes catch up through their caches' expiry
            log.warning("change of %s %s not noted (other processes see it when their copy expires): %s",
                        kind, key, exc)
            return
        if self.redis is not None:
            try:
                self.redis.set(REDIS_KEY, head)
            except Exception:  # noqa: BLE001 - the store's counter is read instead
                pass
        with self._lock:
            if self._seen is not None and head == self._seen + 1:
                self._seen = head  # nothing else changed in between: the next poll need not deliver it again
        self._deliver([(kind, key)])

    def poll(self) -> None:
        """Drop what changed since the last look (at most every POLL_S; never raises)."""
        now = self.monotonic()
        if now < self._next_poll or not self._lock.acquire(blocking=False):
            return
        try:
            self._next_poll = now + POLL_S
            head = self._head()
            if head is None:
                return
            if self._seen is None or head < self._seen:
                self._seen = head  # first look (or the store was reset): nothing cached predates it
                return
            if head > self._seen:
                docs = list(self.coll.find({"_id": {"$gt": self._seen, "$lte": head}}, sort=[("_id", 1)]))
                fresh = [d for d in docs if d["_id"] not in self._ahead]
                if len(docs) < head - self._seen and now - (self._gap_since or now) < GAP_S:
                    # A note's number is taken before its document is written: deliver what is there and
                    # look again shortly, so a change whose document lands a moment later is not skipped.
                    self._gap_since = self._gap_since or now
                    self._ahead.update(d["_id"] for d in fresh)
                    self._next_poll = now + GAP_POLL_S
                else:  # all there (or a note was lost, or trimmed: the caches' backstop expiry covers it)
                    self._seen, self._gap_since = head, None
                    self._ahead.clear()
                self._deliver([(d["kind"], d["key"]) for d in fresh])
        except Exception as exc:  # noqa: BLE001 - caches keep what they hold; the backstop expiry still runs
            log.debug("catalog changes not read: %s", exc)
        finally:
            self._lock.release()

    def _head(self) -> int | None:
        if self.redis is not None:
            try:
                raw = self.redis.get(REDIS_KEY)
                if raw is not None:
                    return int(raw)
            except Exception:  # noqa: BLE001 - ask the store
                pass
        doc = self.counters.find_one({"_id": "catalog"})
        return int(doc["seq"]) if doc else 0

    def _deliver(self, changes: list[tuple[str, str]]) -> None:
        for kind, key in changes:
            for listener in self._listeners:
                listener(kind, key)


__all__ = ["Changes", "POLL_S"]
