"""The document store the settings name (MongoDB through pymongo, or the embedded store), behind a breaker."""

from __future__ import annotations

import logging
from typing import Any, Iterator

from pymongo.errors import (AutoReconnect, ConnectionFailure, ExecutionTimeout, NetworkTimeout, PyMongoError,
                            ServerSelectionTimeoutError, WTimeoutError)

from infra.breaker import Breaker, Guard

from .docstore import EmbeddedDatabase, StoreUnavailable

log = logging.getLogger(__name__)

#: Short timeouts everywhere: Twilio waits at most 15 s for a whole webhook.
MONGO_TIMEOUT_MS = 500
DB_NAME = "voiceagent"
#: How long a write waits for another process's SQLite lock before it counts as a failure.
EMBEDDED_BUSY_TIMEOUT_S = 0.5
MONGO_FAILURES = (ConnectionFailure, ServerSelectionTimeoutError, NetworkTimeout, AutoReconnect, ExecutionTimeout,
                  WTimeoutError, StoreUnavailable)


class BreakerOpen(PyMongoError):
    """The document store's breaker is open: the call was not attempted."""


def open_docstore(mongodb_uri: str, data_dir: str) -> Any:
    """The app's database: pymongo's for ``MONGODB_URI``, else the embedded store in ``data_dir``."""
    if mongodb_uri:
        from pymongo import MongoClient

        client = MongoClient(mongodb_uri, serverSelectionTimeoutMS=MONGO_TIMEOUT_MS,
                             connectTimeoutMS=MONGO_TIMEOUT_MS, socketTimeoutMS=2 * MONGO_TIMEOUT_MS,
                             connect=False, tz_aware=False)
        try:
            return client.get_default_database()
        except Exception:  # noqa: BLE001 - a URI without a database name
            return client[DB_NAME]
    from .docstore import EmbeddedClient

    return EmbeddedClient(data_dir, timeout_s=EMBEDDED_BUSY_TIMEOUT_S)[DB_NAME]


class GuardedCursor:
    """A cursor whose query runs through the breaker when iteration starts."""

    def __init__(self, cursor: Any, guard: Guard) -> None:
        self._cursor = cursor
        self._guard = guard

    def sort(self, *args: Any, **kwargs: Any) -> "GuardedCursor":
        """As pymongo's ``Cursor.sort``."""
        self._cursor = self._cursor.sort(*args, **kwargs)
        return self

    def skip(self, n: int) -> "GuardedCursor":
        """As pymongo's ``Cursor.skip``."""
        self._cursor = self._cursor.skip(n)
        return self

    def limit(self, n: int) -> "GuardedCursor":
        """As pymongo's ``Cursor.limit``."""
        self._cursor = self._cursor.limit(n)
        return self

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._guard.call(list, self._cursor))


class GuardedCollection:
    """A pymongo-style collection behind its database's breaker."""

    def __init__(self, collection: Any, guard: Guard) -> None:
        self.collection = collection
        self.name = collection.name
        self._guard = guard

    def find(self, *args: Any, **kwargs: Any) -> GuardedCursor:
        """As pymongo's ``find``; the query runs (through the breaker) when iterated."""
        return GuardedCursor(self.collection.find(*args, **kwargs), self._guard)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.collection, name)
        if not callable(attr) or name.startswith("_"):
            return attr
        return lambda *a, **k: self._guard.call(attr, *a, **k)


class GuardedDatabase:
    """A pymongo-style database whose collections share one breaker."""

    def __init__(self, db: Any, breaker: Breaker) -> None:
        self.db = db
        self.guard = Guard(breaker, MONGO_FAILURES, BreakerOpen)
        self._collections: dict[str, GuardedCollection] = {}

    @property
    def breaker(self) -> Breaker:
        """The document store's breaker."""
        return self.guard.breaker

    def __getitem__(self, name: str) -> GuardedCollection:
        coll = self._collections.get(name)
        if coll is None:
            coll = self._collections[name] = GuardedCollection(self.db[name], self.guard)
        return coll

    def command(self, *args: Any, **kwargs: Any) -> Any:
        """Run a database command (``ping``) through the breaker."""
        return self.guard.call(self.db.command, *args, **kwargs)

    def atomic(self) -> "GuardedAtomic | None":
        """One transaction for several writes, begun and committed through the breaker; None when the store
        cannot group writes (MongoDB without a replica set)."""
        return GuardedAtomic(self.db.atomic(), self.guard) if isinstance(self.db, EmbeddedDatabase) else None


class GuardedAtomic:
    """The embedded store's transaction context, its BEGIN and COMMIT counted by the breaker."""

    def __init__(self, inner: Any, guard: Guard) -> None:
        self.inner = inner
        self.guard = guard

    def __enter__(self) -> "GuardedAtomic":
        self.guard.call(self.inner.__enter__)
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        if kind is None:
            self.guard.call(self.inner.__exit__, None, None, None)
            return False
        self.inner.__exit__(kind, exc, tb)
        return False


def atomic(db: Any) -> Any | None:
    """A transaction context for several writes to ``db``, or None when it cannot group them."""
    if isinstance(db, GuardedDatabase):
        return db.atomic()
    return db.atomic() if isinstance(db, EmbeddedDatabase) else None


def guarded_docstore(mongodb_uri: str, data_dir: str, *, cooldown: float = 2.0) -> GuardedDatabase:
    """The settings' document store behind its breaker."""
    return GuardedDatabase(open_docstore(mongodb_uri, data_dir), Breaker("document store", cooldown=cooldown))


__all__ = ["open_docstore", "guarded_docstore", "atomic", "GuardedDatabase", "GuardedCollection", "BreakerOpen"]
