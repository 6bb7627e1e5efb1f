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
import os
import threading
import time
from typing import Any, Callable, Mapping

from cachetools import TTLCache
from pymongo.errors import DuplicateKeyError, PyMongoError

from records.outbox import Outbox

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
        "collected": {}, "transfer": None,
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
                 l0_size: int = 10_000, l0_ttl: float = SESSION_TTL_S, redis_ttl: int = SESSION_TTL_S,
                 outbox: Outbox | None = None, flush_interval: float = 1.0,
                 on_fallback: Callable[[str], None] | None = None,
                 on_redis: Callable[[bool], None] | None = None) -> None:
        self.db = db
        self.on_redis = on_redis or (lambda ok: None)
        self.on_fallback = on_fallback or (lambda backend: None)
        self.outbox = outbox
        self.flush_interval = flush_interval
        self._flush_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._flusher_pid = 0
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
            self.on_fallback("redis")
            self.on_redis(False)
            return None
        self._redis_log.ok()
        self.on_redis(True)
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
            self.on_fallback("redis")
            self.on_redis(False)
            return False
        self._redis_log.ok()
        self.on_redis(True)
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
        """Write the session snapshot onto its call log (never over a newer one); queued if the store is down."""
        return self._write("persist", session["call_sid"], {"session": session}) != "lost"

    def _persist_now(self, session: Mapping[str, Any]) -> None:
        sid, seq = session["call_sid"], session["seq"]
        fields = {"session": session, "collected": session.get("collected", {}),
                  "turn_count": session.get("turn_count", 0), "tags": session.get("tags", [])}
        res = self.calls.update_one({"_id": sid, "session.seq": {"$lte": seq}}, {"$set": fields})
        if res.matched_count == 0:
            res = self.calls.update_one({"_id": sid, "session": {"$exists": False}}, {"$set": fields})
        if res.matched_count == 0 and self.calls.find_one({"_id": sid}, {"_id": 1}) is None:
            self.calls.update_one({"_id": sid}, {"$set": fields, "$setOnInsert": self._header(session)},
                                  upsert=True)

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
        return self._write("insert", session["call_sid"], {"coll": "calls", "doc": doc}) in ("written", "queued")

    def record_turn(self, record: dict[str, Any]) -> bool:
        """Append one turn to the call log; False when this turn was already recorded."""
        doc = {"_id": turn_id(record["call_sid"], record["seq"]), **record}
        return self._write("insert", record["call_sid"], {"coll": "turns", "doc": doc}) in ("written", "queued")

    def insert(self, collection: str, doc: dict[str, Any], *, call_sid: str | None = None) -> bool:
        """Insert a document keyed by ``_id`` (messages, alerts ...); queued if the store is down."""
        return self._write("insert", call_sid, {"coll": collection, "doc": doc}) in ("written", "queued")

    def update_call(self, call_sid: str, update: Mapping[str, Any]) -> bool:
        """Apply an update to the call log header (tags, outcome ...); queued if the store is down."""
        return self._write("update", call_sid, {"update": dict(update)}) != "lost"

    # -- the write path: straight to the document store, or into the durable outbox

    def _apply(self, kind: str, call_sid: str | None, p: Mapping[str, Any]) -> None:
        """Perform one write (raises PyMongoError; a duplicate insert raises DuplicateKeyError)."""
        if kind == "insert":
            self.db[p["coll"]].insert_one(p["doc"])
        elif kind == "persist":
            self._persist_now(p["session"])
        elif kind == "update":
            self.calls.update_one({"_id": call_sid}, p["update"])
        elif kind == "finalize":
            self.calls.update_one({"_id": call_sid}, {"$set": p["fields"]})
            if p.get("session"):
                self._persist_now(p["session"])
        else:
            raise ValueError(f"unknown write {kind}")

    def _write(self, kind: str, call_sid: str | None, payload: dict[str, Any]) -> str:
        """written | duplicate | queued | lost. Queued writes keep their order behind older queued ones."""
        if self.outbox is not None and self.outbox.pending_hint:
            self.flush_outbox()
            if self.outbox.pending_hint:
                return "queued" if self.outbox.add(kind, call_sid, payload) else "lost"
        try:
            self._apply(kind, call_sid, payload)
        except DuplicateKeyError:
            return "duplicate"
        except PyMongoError as exc:
            self._db_log.failed("write", exc)
            self.on_fallback("docstore")
            if self.outbox is None:
                return "lost"
            queued = self.outbox.add(kind, call_sid, payload)
            self._start_flusher()
            return "queued" if queued else "lost"
        self._db_log.ok()
        return "written"

    def flush_outbox(self, limit: int = 500) -> int:
        """Replay queued writes in order while the store takes them; returns how many landed."""
        if self.outbox is None or not self._flush_lock.acquire(blocking=False):
            return 0
        landed = 0
        try:
            for rid, op in self.outbox.rows(limit):
                kind = op.pop("kind")
                try:
                    self._apply(kind, op.pop("sid", None), op)
                except DuplicateKeyError:
                    pass  # it landed before (a replay after a crash): exactly once
                except PyMongoError:
                    break
                self.outbox.done(rid)
                landed += 1
            if self.outbox.count() == 0 and landed:
                log.warning("document store is back: %d queued call-log writes written", landed)
                self._db_log.ok()
        except Exception as exc:  # noqa: BLE001 - the outbox file itself failing must not break a turn
            log.error("outbox flush failed: %s", exc)
        finally:
            self._flush_lock.release()
        return landed

    def _start_flusher(self) -> None:
        """A daemon thread that drains the outbox even when no call is writing."""
        if self._flusher is not None and self._flusher.is_alive() and self._flusher_pid == os.getpid():
            return

        def run() -> None:
            while True:
                time.sleep(self.flush_interval)
                if self.outbox is not None and self.outbox.pending_hint:
                    self.flush_outbox()

        self._flusher = threading.Thread(target=run, name="outbox-flush", daemon=True)
        self._flusher_pid = os.getpid()
        self._flusher.start()

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
        if session is not None:
            session["state"] = "ended"
            session["updated_at"] = self.clock()
        if self._write("finalize", call_sid, {"fields": fields, "session": session}) == "lost":
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
