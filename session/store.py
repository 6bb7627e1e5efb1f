"""The hybrid session store: L0 (this process) -> L1 (Redis) -> L2 (durable snapshot) -> fresh.

Reads take the first tier whose copy is fresh enough for the turn being answered (its
``seq`` at least the one asked for). Writes go to L0 and Redis on every save, and to L2
when asked (the caller's write schedule) and on *every* save while Redis is missing or
failing: otherwise a worker with a cold L0 would load a session two turns old.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping

from .tiers import FAILED, STALE, STORED, FailSafe, MemoryTier

log = logging.getLogger(__name__)


class Superseded(Exception):
    """A save lost to a newer turn of the same call (nothing was overwritten)."""


class SessionStore:
    """Sessions over L0, an optional L1 and L2, each behind a fail-safe wrapper."""

    def __init__(self, l2: Any, l1: Any | None = None, *, l0: MemoryTier | None = None,
                 clock: Callable[[], float] = time.time, on_redis: Callable[[bool], None] | None = None,
                 on_fallback: Callable[[str], None] | None = None) -> None:
        self.clock = clock
        self.l0 = l0 or MemoryTier()
        self.l1 = FailSafe(l1, on_result=on_redis, on_fallback=on_fallback) if l1 is not None else None
        self.l2 = FailSafe(l2, on_fallback=on_fallback)
        self.hits = {"l0": 0, "redis": 0, "docstore": 0, "fresh": 0, "stale": 0}

    # -- reads

    def load(self, call_sid: str, need_seq: int = -1) -> tuple[dict[str, Any] | None, str]:
        """The freshest session with ``seq >= need_seq`` from the first tier that has it: (session, tier).

        A session older than ``need_seq`` in every tier is still returned (tier ``stale``)
        rather than losing the call; a call no tier knows is (None, "fresh").
        """
        best: dict[str, Any] | None = None
        cached = self.l0.get(call_sid)
        if cached is not None:
            if cached["seq"] >= need_seq:
                self.hits["l0"] += 1
                return dict(cached), "l0"
            best = cached
            self.hits["stale"] += 1
        lower = [t for t in (self.l1, self.l2) if t is not None]
        for i, tier in enumerate(lower):
            found = tier.get(call_sid)
            if found is None:
                continue
            if found["seq"] >= need_seq:
                self.hits[tier.name] += 1
                self.l0.put(found)
                for upper in lower[:i]:  # refill the faster tiers it was missing from
                    upper.put(found)
                return dict(found), tier.name
            best = found if best is None or found["seq"] > best["seq"] else best
        if best is not None:
            log.warning("call %s: no tier has turn %d yet (best %d); going on with it", call_sid, need_seq,
                        best["seq"])
            return dict(best), "stale"
        self.hits["fresh"] += 1
        return None, "fresh"

    def latest(self, call_sid: str) -> dict[str, Any] | None:
        """The newest copy in any tier (no turn number to go by, e.g. the status callback).

        Another worker may have moved the call on, so this worker's L0 alone is not trusted.
        """
        tiers = [t for t in (self.l0, self.l1, self.l2) if t is not None]
        found = [s for s in (t.get(call_sid) for t in tiers) if s is not None]
        return dict(max(found, key=lambda s: s.get("seq", -1))) if found else None

    # -- writes

    def save(self, session: dict[str, Any], *, persist: bool = False, l2: str | None = None) -> dict[str, bool]:
        """Save after a turn: L0 and Redis now; L2 when ``persist`` or when Redis did not take it.

        ``l2`` is the outcome of a write of this very session to L2 that the caller already made
        (with the turn's record, in one durable step): L2 is then not written again.
        Raises ``Superseded`` when a tier already holds a newer turn of the call: this save came
        from a late or repeated delivery, and nothing newer was overwritten.
        """
        session["updated_at"] = self.clock()
        results = [self.l0.put(session)]
        redis = self.l1.put(session) if self.l1 is not None else FAILED
        results.append(redis)
        docstore = FAILED
        if l2 is not None:
            docstore = l2
            results.append(l2)
        elif (persist or redis == FAILED) and STALE not in results:
            docstore = self.l2.put(session)
            results.append(docstore)
        if STALE in results:
            self.l0.delete(session["call_sid"])  # this process's copy may be the stale one: read again next time
            raise Superseded(f"call {session['call_sid']}: a tier holds a turn newer than {session['seq']}")
        return {"redis": redis == STORED, "docstore": docstore == STORED}

    @property
    def l2_every_turn(self) -> bool:
        """Whether every save goes to L2 now (no Redis, or Redis failing): a caller writing its own record
        can then write the session with it, in one step."""
        return self.l1 is None or self.l1.down

    def persist(self, session: Mapping[str, Any]) -> bool:
        """Write the session to L2 now (never over a newer copy)."""
        return self.l2.put(session) == STORED

    def finalize(self, call_sid: str, *, session: dict[str, Any] | None = None, **end: Any) -> bool:
        """The call ended: its newest session (``session`` when the caller just loaded it), marked ended, goes
        to L2 with ``end`` (status, duration ...), then the cached copies are dropped. False when L2 could not
        take it."""
        session = session if session is not None else self.latest(call_sid)
        if session is not None:
            session["state"] = "ended"
            session["updated_at"] = self.clock()
        try:
            if not self.l2.tier.end(call_sid, session, end):
                return False
        except Exception as exc:  # noqa: BLE001 - keep the caches: the next status callback retries
            log.error("call %s: could not finalize: %s", call_sid, exc)
            return False
        self.drop(call_sid)
        return True

    def drop(self, call_sid: str) -> None:
        """Forget the cached copies (L0 and Redis) of an ended call."""
        self.l0.delete(call_sid)
        if self.l1 is not None:
            self.l1.delete(call_sid)

    # -- health

    def backends(self) -> dict[str, str]:
        """Which backends answer now (for /readyz)."""
        return {"redis": self.l1.health() if self.l1 is not None else "not configured",
                "docstore": self.l2.health()}


__all__ = ["SessionStore", "Superseded"]
