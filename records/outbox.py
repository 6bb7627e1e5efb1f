"""A durable outbox for writes the document store could not take.

Kept in its own SQLite file on local disk (not in the document store, which is what
failed). Writes are appended in order; ``DurableWriter.flush`` replays them in that order
once the store answers again and deletes each one only after it succeeded.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from typing import Any, Iterator, Mapping

log = logging.getLogger(__name__)


class Outbox:
    """Append-only queue of pending writes (multi-process safe: SQLite, one transaction per write)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self.pending_hint = True  # unknown until first checked: another process may have left rows
        self._adds = 0  # writes queued by this process (a count read before one of them must not clear the hint)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # the only copy of these writes: fsync them
        conn.execute("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                     "call_sid TEXT, op TEXT NOT NULL)")
        # Writes the store answered but refused for good (kept for staff, out of the queue's way).
        conn.execute("CREATE TABLE IF NOT EXISTS refused (id INTEGER PRIMARY KEY, call_sid TEXT, op TEXT NOT NULL, "
                     "error TEXT, at REAL)")
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def add(self, write: Mapping[str, Any], key: str | None = None) -> bool:
        """Queue one write durably; False only if even the local disk refused it."""
        try:
            self._conn().execute("INSERT INTO outbox (call_sid, op) VALUES (?, ?)",
                                 (key, json.dumps(write, separators=(",", ":"))))
        except (sqlite3.Error, OSError, TypeError, ValueError) as exc:
            log.critical("%s: write could not be queued either (%s): %s", key or "write", exc, write.get("op"))
            return False
        self._adds += 1
        self.pending_hint = True
        return True

    def rows(self, limit: int = 500) -> Iterator[tuple[int, dict[str, Any]]]:
        """The oldest pending writes, in order."""
        for rid, op in self._conn().execute("SELECT id, op FROM outbox ORDER BY id LIMIT ?", (limit,)).fetchall():
            yield rid, json.loads(op)

    def done(self, rid: int) -> None:
        """Forget a write that reached the document store."""
        self._conn().execute("DELETE FROM outbox WHERE id = ?", (rid,))

    def refuse(self, rid: int, error: str) -> None:
        """Move a write the store refuses for good out of the queue (kept in ``refused``), in one transaction."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT OR REPLACE INTO refused (id, call_sid, op, error, at) SELECT id, call_sid, op, ?, "
                         "strftime('%s','now') FROM outbox WHERE id = ?", (error[:1000], rid))
            conn.execute("DELETE FROM outbox WHERE id = ?", (rid,))
            conn.execute("COMMIT")
        except sqlite3.Error:
            conn.execute("ROLLBACK")
            raise

    def refused(self) -> int:
        """How many writes the store refused for good."""
        try:
            return self._conn().execute("SELECT COUNT(*) FROM refused").fetchone()[0]
        except sqlite3.Error:
            return -1

    def count(self) -> int:
        """How many writes are waiting."""
        adds = self._adds
        try:
            n = self._conn().execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        except sqlite3.Error:
            return -1
        # (A write queued by another thread after the count was read keeps the hint up: clearing it then would leave
        # that write waiting until the next failure, since the flusher only runs while the hint is up.)
        self.pending_hint = n > 0 or self._adds != adds
        return n


__all__ = ["Outbox"]
