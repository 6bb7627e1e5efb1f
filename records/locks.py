"""Expiring locks in the document store (one compile per company at a time, one demo seed)."""

from __future__ import annotations

import time
from typing import Any, Callable

from pymongo.errors import DuplicateKeyError

COMPILE_LOCK_TTL_S = 60.0


class Locks:
    """Named locks with an owner and an expiry; a lock left by a crashed process expires."""

    def __init__(self, db: Any, *, clock: Callable[[], float] = time.time) -> None:
        self.locks = db["locks"]
        self.clock = clock

    def acquire(self, name: str, owner: str, ttl: float = COMPILE_LOCK_TTL_S) -> bool:
        """Take the lock unless someone else holds it and it has not expired."""
        now = self.clock()
        try:
            self.locks.insert_one({"_id": name, "owner": owner, "expires": now + ttl})
            return True
        except DuplicateKeyError:
            taken = self.locks.find_one_and_update({"_id": name, "expires": {"$lt": now}},
                                                   {"$set": {"owner": owner, "expires": now + ttl}})
            return taken is not None

    def release(self, name: str, owner: str) -> None:
        """Release a lock this owner holds."""
        self.locks.delete_one({"_id": name, "owner": owner})


__all__ = ["Locks", "COMPILE_LOCK_TTL_S"]
