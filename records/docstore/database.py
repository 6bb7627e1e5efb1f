"""The embedded store's client and databases: a directory of SQLite files, one a database, with each thread's
connection (a new one after a fork), each collection's table made on first use, and the indexed fields
learned from ``sqlite_master``."""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

from pymongo.errors import OperationFailure

from .collection import EmbeddedCollection
from .errors import StoreUnavailable
from .sql import parse_index_name


class EmbeddedClient:
    """A pymongo-``MongoClient``-like object whose databases live in one directory."""

    def __init__(self, directory: str, *, timeout_s: float = 2.0) -> None:
        self.directory = directory
        self.timeout_s = timeout_s
        self._dbs: dict[str, EmbeddedDatabase] = {}

    def __getitem__(self, name: str) -> EmbeddedDatabase:
        if name not in self._dbs:
            self._dbs[name] = EmbeddedDatabase(self, name)
        return self._dbs[name]

    get_database = __getitem__

    def close(self) -> None:
        """Close this process's connections."""
        for db in self._dbs.values():
            db.close()


class EmbeddedDatabase:
    """One SQLite file; collections are tables of (id, doc) created on first use."""

    def __init__(self, client: EmbeddedClient, name: str) -> None:
        self.client = client
        self.name = name
        self.path = os.path.join(client.directory, f"{name}.sqlite3")
        self._local = threading.local()
        self._tables: set[str] = set()
        self._leading: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (a new one after a fork: SQLite handles must not cross it)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            os.makedirs(self.client.directory, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.client.timeout_s, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"embedded store {self.path}: {exc}") from exc
        self._local.conn, self._local.pid = conn, os.getpid()
        if self._local.__dict__.get("tables_pid") != os.getpid():
            self._tables = set()
            self._local.tables_pid = os.getpid()
        return conn

    def discard(self, conn: sqlite3.Connection) -> None:
        """Forget a broken connection (the next call opens a new one)."""
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        try:
            conn.close()
        except sqlite3.Error:
            pass

    def rollback(self, conn: sqlite3.Connection) -> None:
        """Roll back if a transaction is still open; a connection stuck in one is dropped."""
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        if conn.in_transaction:
            self.discard(conn)

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __getitem__(self, name: str) -> EmbeddedCollection:
        return EmbeddedCollection(self, name)

    def atomic(self) -> "Atomic":
        """A context in which this thread's writes form one transaction: all land, or none."""
        return Atomic(self)

    get_collection = __getitem__

    def command(self, name: str, *args: Any, **kw: Any) -> dict[str, Any]:
        """Only ``ping`` (used by readiness checks)."""
        if name != "ping":
            raise OperationFailure(f"command {name} is not supported by the embedded store")
        try:
            self.connection().execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc
        return {"ok": 1.0}

    def ensure_table(self, table: str) -> None:
        """Create a collection's table once per process, and learn the indexes already on disk."""
        if table in self._tables:
            return
        with self._lock:
            try:
                conn = self.connection()
                conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (id TEXT PRIMARY KEY, doc TEXT NOT NULL)')
                self.load_indexes(conn)
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"embedded store {self.path}: {exc}") from exc
            self._tables.add(table)

    def load_indexes(self, conn: sqlite3.Connection) -> None:
        """Read which fields lead an index from sqlite_master (at first use, and after index changes)."""
        leading: dict[str, set[str]] = {}
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'"):
            parsed = parse_index_name(name)
            if parsed:
                leading.setdefault(parsed[0], set()).add(parsed[1][0][0])
        self._leading = {table: frozenset(fields) for table, fields in leading.items()}

    def leading_fields(self, table: str) -> frozenset[str]:
        """The fields that lead an index of the table (so SQLite can find their arrays quickly)."""
        return self._leading.get(table, frozenset())


class Atomic:
    """One write transaction over several collection calls (taken at once, as every write is); calls
    inside it join it. A failed statement (a duplicate key) undoes only itself; an exception leaving the
    context, or a failed COMMIT, undoes everything."""

    def __init__(self, db: EmbeddedDatabase) -> None:
        self.db = db
        self.conn: sqlite3.Connection | None = None
        self.own = False

    def __enter__(self) -> "Atomic":
        conn = self.db.connection()
        self.own = not conn.in_transaction
        if self.own:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"embedded store {self.db.path} busy: {exc}") from exc
        self.conn = conn
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        if not self.own or self.conn is None:
            return False
        if kind is None:
            try:
                self.conn.execute("COMMIT")
                return False
            except sqlite3.Error as error:
                self.db.rollback(self.conn)
                raise StoreUnavailable(f"embedded store {self.db.path}: {error}") from error
        self.db.rollback(self.conn)
        return False
