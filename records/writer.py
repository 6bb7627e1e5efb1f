"""The durable write path: a write goes to the document store, or, if the store fails it in any
way (whatever the exception's class), into the local outbox, to be replayed in order when
the store is back.

A write is plain data, so it can wait in the outbox: ``insert`` (a document keyed by ``_id``)
or ``update`` (a filter, an update document, and whether to upsert). Every write the
product queues is idempotent (inserts keyed by ``_id``, ``$set``, updates guarded by a
turn number), so a write replayed twice after a crash still lands exactly once. A queued
write the store keeps refusing for what it is (not for being down) is set aside after
``MAX_ATTEMPTS`` when the store answers but refuses it (kept aside, logged), so one bad write
cannot hold up the rest.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from typing import Any, Mapping

from pymongo.errors import DuplicateKeyError

from infra.observe import NullObserver, Observer

from .backend import MONGO_FAILURES, BreakerOpen, atomic
from .outbox import Outbox

log = logging.getLogger(__name__)

#: What ``write`` reports (``SKIPPED``: a write of a group not made because the first was a duplicate).
WRITTEN, DUPLICATE, QUEUED, LOST, SKIPPED = "written", "duplicate", "queued", "lost", "skipped"
#: Replays of one queued write the store refuses (not a store failure) before it is set aside.
MAX_ATTEMPTS = 3
#: Failures that say the store is down or failing, not that the write is wrong: the queue waits.
TRANSIENT = (*MONGO_FAILURES, BreakerOpen, sqlite3.Error, OSError)


def insert(collection: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A write that inserts one document (a duplicate ``_id`` means it landed before)."""
    return {"op": "insert", "coll": collection, "doc": dict(doc)}


def update(collection: str, flt: Mapping[str, Any], change: Mapping[str, Any], *, upsert: bool = False
           ) -> dict[str, Any]:
    """A write that updates the first document matching ``flt``."""
    return {"op": "update", "coll": collection, "filter": dict(flt), "update": dict(change), "upsert": upsert}


class DurableWriter:
    """Writes to the document store, or queues in the outbox; drains the outbox in order."""

    def __init__(self, db: Any, outbox: Outbox | None, *, flush_interval: float = 1.0,
                 observer: Observer | None = None) -> None:
        self.db = db
        self.outbox = outbox
        self.flush_interval = flush_interval
        self.observer = observer or NullObserver()
        self._flush_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._flusher_pid = 0
        self._down = False
        self._attempts: dict[int, int] = {}

    def _apply(self, w: Mapping[str, Any]) -> None:
        """Perform one write (raises PyMongoError; a duplicate insert raises DuplicateKeyError)."""
        coll = self.db[w["coll"]]
        if w["op"] == "insert":
            coll.insert_one(w["doc"])
        elif w["op"] == "update":
            coll.update_one(w["filter"], w["update"], upsert=bool(w.get("upsert")))
        else:
            raise ValueError(f"unknown write {w['op']!r}")

    def write(self, w: Mapping[str, Any], *, key: str | None = None) -> str:
        """written | duplicate | queued | lost. Queued writes keep their order behind older queued ones.

        ``key`` (the call a write belongs to) is kept beside a queued write for the logs.
        """
        if self._behind_queue():
            return self._queue([w], key)[0]
        try:
            self._apply(w)
        except DuplicateKeyError:
            return DUPLICATE
        except Exception as exc:  # noqa: BLE001 - any failure of the store: the write waits in the outbox
            return self._queue([w], key, failed=exc)[0]
        self._ok()
        return WRITTEN

    def write_all(self, writes: list[Mapping[str, Any]], *, key: str | None = None) -> list[str]:
        """Several writes as one durable step, in order: one transaction where the store can group writes
        (the embedded store), else one after another. A duplicate first write means the group landed
        before: the rest are SKIPPED. If the store fails the group, the whole group waits in the outbox.
        Returns each write's outcome."""
        if not writes:
            return []
        group = atomic(self.db) if len(writes) > 1 else None
        if group is None:
            first = self.write(writes[0], key=key)
            if first == DUPLICATE:
                return [first] + [SKIPPED] * (len(writes) - 1)
            return [first] + [self.write(w, key=key) for w in writes[1:]]
        if self._behind_queue():
            return self._queue(writes, key)
        outcomes: list[str] = []
        try:
            with group:
                for w in writes:
                    try:
                        self._apply(w)
                    except DuplicateKeyError:  # only this statement is undone; the transaction goes on
                        outcomes.append(DUPLICATE)
                        if len(outcomes) == 1:
                            outcomes += [SKIPPED] * (len(writes) - 1)
                            break
                        continue
                    outcomes.append(WRITTEN)
        except Exception as exc:  # noqa: BLE001 - any failure of the store: nothing of the group landed
            return self._queue(writes, key, failed=exc)
        self._ok()
        return outcomes

    def _behind_queue(self) -> bool:
        """Whether writes still wait in the outbox after a flush (a new write then queues behind them)."""
        if self.outbox is None or not self.outbox.pending_hint:
            return False
        self.flush()
        return self.outbox.pending_hint

    def _queue(self, writes: list[Mapping[str, Any]], key: str | None, *, failed: BaseException | None = None
               ) -> list[str]:
        """Queue writes in the outbox, in order (``failed``: the store just failed them); each QUEUED or LOST."""
        if failed is not None:
            self._failed(failed)
        if self.outbox is None:
            return [LOST] * len(writes)
        queued = [QUEUED if self.outbox.add(w, key) else LOST for w in writes]
        if failed is not None:
            self.start()
        return queued

    def _failed(self, exc: BaseException) -> None:
        if not self._down:
            log.warning("document store failed a write (%s: %s): writes go to the outbox until it is back",
                        exc.__class__.__name__, exc)
            self._down = True
        self.observer.fallback("docstore")

    def _ok(self) -> None:
        if self._down:
            log.warning("document store takes writes again")
            self._down = False

    def flush(self, limit: int = 500) -> int:
        """Replay queued writes in order while the store takes them; returns how many landed."""
        if self.outbox is None or not self._flush_lock.acquire(blocking=False):
            return 0
        landed = 0
        try:
            for rid, w in self.outbox.rows(limit):
                try:
                    self._apply(w)
                except DuplicateKeyError:
                    pass  # it landed before (a replay after a crash): exactly once
                except Exception as exc:  # noqa: BLE001
                    if not self._refused_for_good(rid, exc):
                        break  # the store is still failing: keep the order, try again later
                    continue
                self.outbox.done(rid)
                landed += 1
            if landed and self.outbox.count() == 0:
                log.warning("document store is back: %d queued writes written", landed)
                self._ok()
        except Exception as exc:  # noqa: BLE001 - the outbox file itself failing must not break a turn
            log.error("outbox flush failed: %s", exc)
        finally:
            self._flush_lock.release()
        return landed

    def _refused_for_good(self, rid: int, exc: BaseException) -> bool:
        """Whether a queued write is refused for what it is, not because the store is down (then, after
        MAX_ATTEMPTS, it is set aside)."""
        if isinstance(exc, TRANSIENT):
            return False
        self._attempts[rid] = self._attempts.get(rid, 0) + 1
        if self._attempts[rid] < MAX_ATTEMPTS:
            return False
        log.critical("the store keeps refusing a queued write (%s: %s); set aside in the outbox's refused table",
                     exc.__class__.__name__, exc)
        self.outbox.refuse(rid, f"{exc.__class__.__name__}: {exc}")
        self._attempts.pop(rid, None)
        return True

    def pending(self) -> int:
        """How many writes wait in the outbox (-1 if it cannot be read)."""
        return self.outbox.count() if self.outbox is not None else 0

    def start(self) -> None:
        """Start the daemon thread that drains the outbox even when nothing else writes (once per process)."""
        if self.outbox is None:
            return
        if self._flusher is not None and self._flusher.is_alive() and self._flusher_pid == os.getpid():
            return

        def run() -> None:
            while True:
                time.sleep(self.flush_interval)
                if self.outbox is not None and self.outbox.pending_hint:
                    self.flush()

        self._flusher = threading.Thread(target=run, name="outbox-flush", daemon=True)
        self._flusher_pid = os.getpid()
        self._flusher.start()


__all__ = ["DurableWriter", "insert", "update", "WRITTEN", "DUPLICATE", "QUEUED", "LOST", "SKIPPED"]
