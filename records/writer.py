"""The durable write path: a write goes to the document store, or, if the store fails it in any
way (whatever the exception's class), into the local outbox, to be replayed in order when
the store is back.

A turn's writes can also be *deferred*: made durable by one append to this process's journal
(``journal.Journal``) and written to the store by a background thread just after the caller is
answered, in one transaction with whatever else waits. A write made at once first waits for this
process's deferred writes to land, so the store sees one process's writes in the order they were made.

A write is plain data, so it can wait in the outbox: ``insert`` (a document keyed by ``_id``)
or ``update`` (a filter, an update document, and whether to upsert). Every write the
product queues is idempotent (inserts keyed by ``_id``, ``$set``, updates guarded by a
turn number), so a write replayed twice after a crash still lands exactly once. A queued
write the store keeps refusing for what it is (not for being down) is set aside after
``MAX_ATTEMPTS`` when the store answers but refuses it (kept aside, logged), so one bad write
cannot hold up the rest.
"""

from __future__ import annotations

import atexit
import logging
import os
import sqlite3
import threading
import time
import weakref
from typing import Any, Mapping

from pymongo.errors import DuplicateKeyError

from infra.observe import NullObserver, Observer

from .backend import MONGO_FAILURES, BreakerOpen, atomic
from .journal import Journal
from .outbox import Outbox

log = logging.getLogger(__name__)

#: What ``write`` reports (``SKIPPED``: a write of a group not made because the first was a duplicate).
WRITTEN, DUPLICATE, QUEUED, LOST, SKIPPED = "written", "duplicate", "queued", "lost", "skipped"
#: Replays of one queued write the store refuses (not a store failure) before it is set aside.
MAX_ATTEMPTS = 3
#: Failures that say the store is down or failing, not that the write is wrong: the queue waits.
TRANSIENT = (*MONGO_FAILURES, BreakerOpen, sqlite3.Error, OSError)
#: Deferred groups written in one transaction; how often the journal thread looks for dead processes' journals.
JOURNAL_BATCH = 100
ORPHAN_SWEEP_S = 5.0
#: The journal thread's longest sleep when nobody wakes it (a request's end wakes it at once).
JOURNAL_IDLE_S = 0.2

_JOURNALLED: "weakref.WeakSet[DurableWriter]" = weakref.WeakSet()


def land_deferred() -> None:
    """Every writer of this process lands its deferred writes now (tools and tests that read the store
    directly right after a turn)."""
    for writer in list(_JOURNALLED):
        writer.flush_journal()


@atexit.register
def _land_journals() -> None:
    """At exit, what this process deferred goes to the store (what cannot stays in its journal file, replayed
    by the next process)."""
    for writer in list(_JOURNALLED):
        writer.close()


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
                 observer: Observer | None = None, journal: Journal | None = None) -> None:
        self.db = db
        self.outbox = outbox
        self.journal = journal
        self._journal_lock = threading.Lock()  # one landing of deferred writes at a time
        self._wake = threading.Event()
        self._journal_thread: threading.Thread | None = None
        self._journal_pid = 0
        self.before_landing: Any = lambda: None  # tests only: a crash point once a turn is answered, before it lands
        if journal is not None:
            _JOURNALLED.add(self)
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
        self._after_deferred()
        return self._write(w, key)

    def _write(self, w: Mapping[str, Any], key: str | None) -> str:
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
        self._after_deferred()
        return self._write_all(writes, key)

    def _write_all(self, writes: list[Mapping[str, Any]], key: str | None) -> list[str]:
        if not writes:
            return []
        group = atomic(self.db) if len(writes) > 1 else None
        if group is None:
            first = self._write(writes[0], key)
            if first == DUPLICATE:
                return [first] + [SKIPPED] * (len(writes) - 1)
            return [first] + [self._write(w, key) for w in writes[1:]]
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

    # -- deferred writes (the turn journal)

    def defer(self, writes: list[Mapping[str, Any]], *, key: str | None = None) -> list[str]:
        """Several writes made durable now by one journal append and written to the store in the background,
        as one group (QUEUED each); without a journal, or if the append fails, written at once (``write_all``).
        Call ``wake`` once the caller has been answered."""
        if self.journal is None or not self.journal.append(writes, key):
            return self.write_all(writes, key=key)
        self._start_journal()
        return [QUEUED] * len(writes)

    def wake(self) -> None:
        """Land deferred writes now (the journal thread does it; a no-op when none wait)."""
        if self.journal is not None and self.journal.pending():
            self._wake.set()

    def settle(self) -> None:
        """Before a read that must see every answered turn: this process's deferred writes landed, and the
        journals of processes that died replayed."""
        if self.journal is None:
            return
        self._after_deferred()
        self.recover()

    def recover(self) -> int:
        """Replay the journals dead processes left (in order, each file whole); returns the groups landed."""
        if self.journal is None:
            return 0
        landed = 0
        for path, groups, token in self.journal.orphans():
            if not self._land(groups):
                self.journal.release(token)
                break
            self.journal.replayed(path, token)
            log.warning("replayed %d turn writes a stopped process left in %s", len(groups), path)
            landed += len(groups)
        return landed

    def flush_journal(self) -> int:
        """Land this process's deferred writes now (after any landing already under way); returns the groups."""
        if self.journal is None:
            return 0
        with self._journal_lock:
            groups, token = self.journal.take()
            if not groups:
                return 0
            self.before_landing()
            if self._land(groups):
                self.journal.landed(token)
            else:  # neither the store nor the outbox took them: they stay in the journal and wait
                self.journal.put_back(groups)
            return len(groups)

    def close(self) -> None:
        """Land what waits and remove this process's journal file (at exit)."""
        if self.journal is None:
            return
        try:
            self.flush_journal()
        except Exception as exc:  # noqa: BLE001 - the file stays and is replayed by the next process
            log.error("deferred writes not landed at exit (kept in the journal): %s", exc)
            return
        self.journal.close()

    def deferred_waiting(self) -> bool:
        """Whether deferred writes of this process wait or are being landed now."""
        return self.journal is not None and bool(self.journal.pending() or self._journal_lock.locked())

    def _after_deferred(self) -> None:
        """A write made at once lands after this process's deferred ones (same order as they were made)."""
        if self.deferred_waiting():
            self.flush_journal()

    def _land(self, groups: list[tuple[list[dict[str, Any]], str | None]]) -> bool:
        """Write deferred groups in order: in transactions of up to JOURNAL_BATCH groups where the store can
        group writes, else one group after another; a group whose first write is a duplicate landed before
        (the rest of it is skipped). If the store fails, the groups go to the outbox. False when a write was
        lost even to the outbox."""
        for start in range(0, len(groups), JOURNAL_BATCH):
            chunk = groups[start:start + JOURNAL_BATCH]
            transaction = atomic(self.db)
            if transaction is None or self._behind_queue():
                if any(LOST in self._write_all(w, k) for w, k in chunk):
                    return False
                continue
            try:
                with transaction:
                    for writes, _ in chunk:
                        for i, w in enumerate(writes):
                            try:
                                self._apply(w)
                            except DuplicateKeyError:  # only this statement is undone
                                if i == 0:
                                    break
            except Exception as exc:  # noqa: BLE001 - any failure of the store: the chunk waits in the outbox
                self._failed(exc)
                if any(LOST in self._queue(w, k) for w, k in chunk):
                    return False
                self.start()
                continue
            self._ok()
        return True

    def _start_journal(self) -> None:
        """Start this process's journal thread (once per process)."""
        if self._journal_pid == os.getpid() and self._journal_thread is not None:
            return
        with self._journal_lock:
            if self._journal_pid == os.getpid() and self._journal_thread is not None:
                return
            self._journal_thread = threading.Thread(target=self._journal_loop, name="journal-flush", daemon=True)
            self._journal_pid = os.getpid()
            self._journal_thread.start()

    def _journal_loop(self) -> None:
        swept = time.monotonic()
        while True:
            self._wake.wait(JOURNAL_IDLE_S)
            self._wake.clear()
            try:
                self.flush_journal()
                if time.monotonic() - swept >= ORPHAN_SWEEP_S:
                    swept = time.monotonic()
                    self.recover()
            except Exception as exc:  # noqa: BLE001 - the writes stay in the journal; the next round retries
                log.error("landing deferred turn writes failed: %s", exc)

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


__all__ = ["DurableWriter", "land_deferred", "insert", "update", "WRITTEN", "DUPLICATE", "QUEUED", "LOST", "SKIPPED"]
