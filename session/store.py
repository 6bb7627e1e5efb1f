"""The hybrid session store: L0 in-process cache -> L1 Redis -> L2 document store -> fresh.

A session is a plain JSON-shaped dict (see ``new_session``). Its ``seq`` is the last turn
this call has processed; the Gather action URL carries the next one, so a worker can
tell a stale L0 copy (another worker moved the call on) from a fresh one.

Writes: L0 and Redis on every save; the document store on the first turn, every third
turn, when an entity is collected, when a transfer starts and when the call ends, and on
*every* save while Redis is missing or failing (otherwise a worker with a cold L0 would
load a session two turns old).

The call log lives in the document store: one ``calls`` document per call (header,
session snapshot, tags, entities, outcome; written with the session snapshot, so on the
same schedule) and one ``turns`` document per turn, keyed by
call and sequence number so a replayed turn is never recorded twice.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable, Mapping

from cachetools import TTLCache
from pymongo.errors import DuplicateKeyError, PyMongoError

log = logging.getLogger(__name__)

SESSION_TTL_S = 3600
#: How many past replies a session keeps for replayed deliveries (older ones come from the call log).
KEEP_REPLIES = 2
KEEP_TOKENS = 8


def new_session(call_sid: str, *, company_id: str | None, caller: str, called: str,
                policy: Mapping[str, Any] | None, now: float) -> dict[str, Any]:
    """A fresh session for a call that has not been seen before."""
    return {
        "call_sid": call_sid, "company_id": company_id, "from": caller, "to": called,
        "policy": dict(policy) if policy else None,
        "seq": -1,            # last processed turn; the greeting is turn 0
        "turn_count": 0,      # caller turns answered
        "silence": 0,         # consecutive silent turns
        "state": "active",    # active | transfer | ended
        "caller_type": "unknown", "spam_flags": [], "tags": [],
        "collected": {}, "transfer_target": None,
        "replies": {}, "tokens": {},
        "created_at": now, "updated_at": now,
    }


def turn_id(call_sid: str, seq: int) -> str:
    """The call log key of one turn."""
    return f"{call_sid}:{seq:05d}"


class _TierLog:
    """Log a backend failure once per outage, and its recovery once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.down = False

    def failed(self, what: str, exc: BaseException) -> None:
        if not self.down:
            log.warning("%s unavailable (%s): %s; the next tier serves", self.name, what, exc)
            self.down = True

    def ok(self) -> None:
        if self.down:
            log.warning("%s is back", self.name)
            self.down = False


class SessionStore:
    """Sessions and the call log over L0 (cachetools), L1 (redis-py, optional) and L2 (pymongo-style)."""

    def __init__(self, db: Any, redis: Any | None = None, *, clock: Callable[[], float] = time.time,
                 l0_size: int = 10_000, l0_ttl: float = SESSION_TTL_S, redis_ttl: int = SESSION_TTL_S) -> None:
        self.db = db
        self.redis = redis
        self.clock = clock
        self.calls = db["calls"]
        self.turns = db["turns"]
        self.l0: TTLCache = TTLCache(maxsize=l0_size, ttl=l0_ttl, timer=time.monotonic)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe
        self.redis_ttl = redis_ttl
        self.hits = {"l0": 0, "redis": 0, "docstore": 0, "fresh": 0, "stale": 0}
        self._redis_log = _TierLog("Redis")
        self._db_log = _TierLog("document store")

    # -- reads

    def load(self, call_sid: str, need_seq: int = -1) -> tuple[dict[str, Any] | None, str]:
        """The freshest session with ``seq >= need_seq`` from the first tier that has it.

        Returns (session, tier). A session older than ``need_seq`` found in every tier is
        still returned (tier suffixed ``-stale``) rather than losing the call.
        """
        best: dict[str, Any] | None = None
        with self._lock:
            cached = self.l0.get(call_sid)
        if cached is not None:
            if cached["seq"] >= need_seq:
                self.hits["l0"] += 1
                return dict(cached), "l0"
            best = cached
            self.hits["stale"] += 1
        found = self._redis_get(call_sid)
        if found is not None:
            if found["seq"] >= need_seq:
                self.hits["redis"] += 1
                self._l0_put(found)
                return dict(found), "redis"
            best = found if best is None or found["seq"] > best["seq"] else best
        found = self._db_get(call_sid)
        if found is not None:
            if found["seq"] >= need_seq:
                self.hits["docstore"] += 1
                self._l0_put(found)
                self._redis_set(found)
                return dict(found), "docstore"
            best = found if best is None or found["seq"] > best["seq"] else best
        if best is not None:
            log.warning("call %s: no tier has turn %d yet (best %d); going on with it", call_sid,
                        need_seq, best["seq"])
            return dict(best), "stale"
        self.hits["fresh"] += 1
        return None, "fresh"

    def latest(self, call_sid: str) -> dict[str, Any] | None:
        """The newest copy of a session in any tier (no turn number to go by, e.g. the status callback).

        Another worker may have moved the call on, so this worker's L0 alone is not trusted.
        """
        with self._lock:
            cached = self.l0.get(call_sid)
        found = [s for s in (cached, self._redis_get(call_sid), self._db_get(call_sid)) if s is not None]
        return dict(max(found, key=lambda s: s.get("seq", -1))) if found else None

    def _l0_put(self, session: dict[str, Any]) -> None:
        with self._lock:
            self.l0[session["call_sid"]] = session

    def _redis_get(self, call_sid: str) -> dict[str, Any] | None:
        if self.redis is None:
            return None
        try:
            raw = self.redis.get(f"session:{call_sid}")
        except Exception as exc:  # noqa: BLE001 - any Redis failure: the next tier serves
            self._redis_log.failed("read", exc)
            return None
        self._redis_log.ok()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            log.error("call %s: unreadable session in Redis, ignored", call_sid)
            return None

    def _redis_set(self, session: dict[str, Any]) -> bool:
        if self.redis is None:
            return False
        try:
            self.redis.set(f"session:{session['call_sid']}", json.dumps(session, separators=(",", ":")),
                           ex=self.redis_ttl)
        except Exception as exc:  # noqa: BLE001
            self._redis_log.failed("write", exc)
            return False
        self._redis_log.ok()
        return True

    def _db_get(self, call_sid: str) -> dict[str, Any] | None:
        try:
            doc = self.calls.find_one({"_id": call_sid}, {"session": 1})
        except PyMongoError as exc:
            self._db_log.failed("read", exc)
            return None
        self._db_log.ok()
        return (doc or {}).get("session")

    # -- writes

    def save(self, session: dict[str, Any], *, persist: bool = False) -> dict[str, bool]:
        """Save after a turn: L0 and Redis now; the document store when ``persist`` or Redis failed."""
        session["updated_at"] = self.clock()
        self._l0_put(session)
        redis_ok = self._redis_set(session)
        persisted = False
        if persist or not redis_ok:
            persisted = self.persist(session)
        return {"redis": redis_ok, "docstore": persisted}

    def persist(self, session: dict[str, Any]) -> bool:
        """Write the session snapshot onto its call log (never over a newer one)."""
        sid, seq = session["call_sid"], session["seq"]
        fields = {"session": session, "collected": session.get("collected", {}),
                  "turn_count": session.get("turn_count", 0), "tags": session.get("tags", [])}
        try:
            res = self.calls.update_one({"_id": sid, "session.seq": {"$lte": seq}}, {"$set": fields})
            if res.matched_count == 0:
                res = self.calls.update_one({"_id": sid, "session": {"$exists": False}}, {"$set": fields})
            if res.matched_count == 0 and self.calls.find_one({"_id": sid}, {"_id": 1}) is None:
                self.calls.update_one({"_id": sid}, {"$set": fields, "$setOnInsert": self._header(session)},
                                      upsert=True)
        except PyMongoError as exc:
            self._db_log.failed("write", exc)
            return False
        self._db_log.ok()
        return True

    @staticmethod
    def _header(session: Mapping[str, Any]) -> dict[str, Any]:
        return {"company_id": session.get("company_id"), "from": session.get("from"),
                "to": session.get("to"), "started_at": session.get("created_at"), "status": "in-progress",
                "tags": []}

    def start_call(self, session: dict[str, Any], *, snapshot: bool = False, **header: Any) -> bool:
        """Create the call log document, with the session snapshot when asked (a replayed start changes nothing)."""
        doc = {"_id": session["call_sid"], **self._header(session), **header}
        if snapshot:
            doc.update(session=session, collected=session.get("collected", {}),
                       turn_count=session.get("turn_count", 0), tags=session.get("tags", []))
        try:
            self.calls.insert_one(doc)
        except DuplicateKeyError:
            return False
        except PyMongoError as exc:
            self._db_log.failed("write", exc)
            return False
        self._db_log.ok()
        return True

    def record_turn(self, record: dict[str, Any]) -> bool:
        """Append one turn to the call log; False when this turn was already recorded."""
        sid, seq = record["call_sid"], record["seq"]
        doc = {"_id": turn_id(sid, seq), **record}
        try:
            self.turns.insert_one(doc)
        except DuplicateKeyError:
            return False
        except PyMongoError as exc:
            self._db_log.failed("write", exc)
            return False
        return True

    def update_call(self, call_sid: str, update: Mapping[str, Any]) -> bool:
        """Apply an update to the call log header (tags, outcome ...)."""
        try:
            self.calls.update_one({"_id": call_sid}, dict(update))
        except PyMongoError as exc:
            self._db_log.failed("write", exc)
            return False
        return True

    def recorded_reply(self, call_sid: str, seq: int) -> str | None:
        """The TwiML answered for a turn, from the call log (for replays older than the session keeps)."""
        try:
            doc = self.turns.find_one({"_id": turn_id(call_sid, seq)}, {"twiml": 1})
        except PyMongoError as exc:
            self._db_log.failed("read", exc)
            return None
        return (doc or {}).get("twiml")

    def finalize(self, call_sid: str, *, status: str, duration: int | None, ended_at: float) -> bool:
        """The call ended (status callback): final snapshot on the call log, caches dropped."""
        session = self.latest(call_sid)
        fields: dict[str, Any] = {"status": status, "ended_at": ended_at}
        if duration is not None:
            fields["duration_s"] = duration
        try:
            self.calls.update_one({"_id": call_sid}, {"$set": fields})
        except PyMongoError as exc:
            self._db_log.failed("write", exc)
            return False
        if session is not None:
            session["state"] = "ended"
            session["updated_at"] = self.clock()
            if not self.persist(session):
                return False
        with self._lock:
            self.l0.pop(call_sid, None)
        if self.redis is not None:
            try:
                self.redis.delete(f"session:{call_sid}")
            except Exception as exc:  # noqa: BLE001
                self._redis_log.failed("delete", exc)
        return True

    # -- health

    def backends(self) -> dict[str, Any]:
        """Which backends answer now (for /readyz)."""
        out: dict[str, Any] = {}
        if self.redis is None:
            out["redis"] = "not configured"
        else:
            try:
                self.redis.ping()
                out["redis"] = "up"
            except Exception as exc:  # noqa: BLE001
                out["redis"] = f"down: {exc.__class__.__name__}"
        try:
            self.db.command("ping")
            out["docstore"] = "up"
        except Exception as exc:  # noqa: BLE001
            out["docstore"] = f"down: {exc.__class__.__name__}"
        return out


def remember(mapping: Mapping[str, Any], key: str, value: Any, keep: int) -> dict[str, Any]:
    """A copy of a small bounded mapping with one more entry (oldest dropped)."""
    out = {k: v for k, v in mapping.items() if k != key}
    out[key] = value
    while len(out) > keep:
        out.pop(next(iter(out)))
    return out


__all__ = ["SessionStore", "new_session", "turn_id", "remember", "KEEP_REPLIES", "KEEP_TOKENS"]
