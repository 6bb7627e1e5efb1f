"""The call log: one ``calls`` document per call and one ``turns`` document per turn.

This module owns their schema. A call header holds who called whom, when, the policy it
was pinned to, its status and outcome, and a snapshot of the session written on the
session store's schedule (it is the session store's L2 tier, ``SnapshotTier``). The
snapshot carries the call's running figures (``turns``, ``actions``, ``tiers``, ``cost``,
``by_tier``), so listing and filtering calls reads headers only. A turn record, keyed
``CallSid:seq``, holds everything forensics shows about one turn. Every write goes through
the durable writer (straight to the store, or into the outbox when the store refuses it).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from pymongo.errors import PyMongoError

from policy.decision import Decision
from policy.frozen import thaw
from policy.judgement import turn_error
from policy.scenarios import ScenarioAnswer
from session.tiers import FAILED, STALE, STORED

from .writer import DUPLICATE, LOST, QUEUED, WRITTEN, DurableWriter, insert, update

CALLS, TURNS, MESSAGES, ALERTS = "calls", "turns", "messages", "alerts"


def turn_id(call_sid: str, seq: int) -> str:
    """The call log key of one turn."""
    return f"{call_sid}:{seq:05d}"


@dataclass
class TurnFacts:
    """What happened on one turn, as the conversation saw it; the call log makes it a record."""

    seq: int
    kind: str                                  # greeting | turn | silence | dial-result
    started: float                             # perf_counter at the start of the webhook
    text: str = ""
    confidence: float | None = None
    answer: ScenarioAnswer | None = None
    decision: Decision | None = None
    done: list[str] = field(default_factory=list)
    session_tier: str = ""
    cost: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)  # perf_counter when loading the session, policy ended
    spent: dict[str, float] = field(default_factory=dict)  # seconds spent in a step (the scenario tiers)
    extra: dict[str, Any] = field(default_factory=dict)    # collect events, dial status

    def mark(self, step: str) -> None:
        """Note the time a step ended."""
        self.marks[step] = time.perf_counter()

    @contextmanager
    def timing(self, step: str) -> Iterator[None]:
        """Add the time spent inside the block to ``step``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.spent[step] = self.spent.get(step, 0.0) + time.perf_counter() - started


def _ms(a: float, b: float) -> float:
    return round(max(0.0, b - a) * 1000.0, 3)


def _latency(facts: TurnFacts, decision: Decision, end: float) -> dict[str, float]:
    """Where the turn's time went: loading the session and the policy, the scenario tiers, the engine, all."""
    session = facts.marks.get("session", facts.started)
    pol = facts.marks.get("policy", session)
    return {"session": _ms(facts.started, session), "policy": _ms(session, pol),
            "scenario": round(facts.spent.get("scenario", 0.0) * 1000.0, 3), "engine": round(decision.elapsed_ms, 3),
            "total": _ms(facts.started, end)}


def turn_record(session: Mapping[str, Any], facts: TurnFacts, reply: Mapping[str, Any], *, at: float
                ) -> dict[str, Any]:
    """The stored record of one turn: what forensics show, and nothing the call's header already holds
    (the policy's checksum) or the record repeats (the reply's text is the final text)."""
    decision = facts.decision or Decision(action="RESPOND", response="")
    answer = facts.answer
    pin = session.get("policy") or {}
    record = {
        "call_sid": session["call_sid"], "company_id": session.get("company_id"), "seq": facts.seq,
        "kind": facts.kind, "at": at, "caller": {"text": facts.text, "confidence": facts.confidence},
        "tier": answer.tier if answer else None, "base_used": decision.base_used if answer else False,
        "confidence": answer.confidence if answer else None, "scenario": answer.scenario if answer else None,
        "base": answer.text if answer else None, "final": decision.response, "action": decision.action,
        "blocks": thaw(decision.applied_blocks), "matched": decision.matched_pattern,
        "guardrails": list(decision.guardrails_fired), "tags": list(decision.tags),
        "side_effects": [_effect(e) for e in decision.side_effects], "side_effects_done": facts.done,
        "transfer": decision.transfer, "policy": {k: v for k, v in pin.items() if k not in ("checksum", "arm")},
        "arm": pin.get("arm", "full"), "session_tier": facts.session_tier, "perf_fault": decision.perf_fault,
        "cost": facts.cost,
        "tier3": (("failed" if answer.matched == "tier3-failed" else "used" if answer.tier == "3" else None)
                  if answer else None),
        "latency_ms": _latency(facts, decision, time.perf_counter()),
        "reply": {k: v for k, v in reply.items() if not (k == "text" and v == decision.response)},
    }
    record.update(facts.extra)
    return record


def _effect(effect: Mapping[str, Any]) -> dict[str, Any]:
    """A side effect as the turn record keeps it: its kind, the rule that asked for it, its arguments."""
    out: dict[str, Any] = {"type": effect.get("type")}
    source = effect.get("source") or {}
    if source.get("id"):
        out["rule"] = source["id"]
    for key in ("tags", "contacts", "severity", "action", "reason"):
        if effect.get(key):
            out[key] = thaw(effect[key])
    return out


def tally(session: dict[str, Any], record: Mapping[str, Any]) -> None:
    """Add a turn to the call's running figures on its session (written to the header with the snapshot):
    turns, actions, tiers, cost, error turns (``turn_error``) and, on shadowed turns, both policies' errors."""
    stats = session.setdefault("stats", {"turns": 0, "actions": [], "tiers": [], "cost": 0.0, "by_tier": {}})
    if turn_error(record):
        stats["errors"] = stats.get("errors", 0) + 1
    shadow = record.get("shadow")
    if isinstance(shadow, Mapping):
        mine = stats.setdefault("shadow", {"turns": 0, "errors": 0, "active_errors": 0, "differences": 0})
        mine["turns"] += 1
        mine["errors"] += 1 if shadow.get("error") else 0
        mine["active_errors"] += 1 if turn_error(record) else 0
        mine["differences"] += 1 if shadow.get("differs") else 0
    stats["turns"] += 1
    if record.get("action") and record["action"] not in stats["actions"]:
        stats["actions"].append(record["action"])
    if record.get("tier") and record["tier"] not in stats["tiers"]:
        stats["tiers"].append(record["tier"])
    cost = record.get("cost") or 0.0
    stats["cost"] = round(stats["cost"] + cost, 6)
    slot = stats["by_tier"].setdefault(record.get("tier") or "none", {"turns": 0, "cost": 0.0})
    slot["turns"] += 1
    slot["cost"] = round(slot["cost"] + cost, 6)


def _snapshot_fields(session: Mapping[str, Any]) -> dict[str, Any]:
    stats = session.get("stats") or {}
    fields = {"session": dict(session), "collected": session.get("collected", {}),
              "turn_count": session.get("turn_count", 0), "tags": session.get("tags", []),
              "turns": stats.get("turns", 0), "actions": stats.get("actions", []), "tiers": stats.get("tiers", []),
              "cost": stats.get("cost", 0.0), "by_tier": stats.get("by_tier", {})}
    for name in ("errors", "shadow"):  # the rollout's figures, only on calls that have them
        if name in stats:
            fields[name] = stats[name]
    return fields


def _turn_write(record: Mapping[str, Any]) -> dict[str, Any]:
    return insert(TURNS, {"_id": turn_id(record["call_sid"], record["seq"]), **record})


def _header_write(session: Mapping[str, Any], fields: Mapping[str, Any], *, snapshot: bool = False) -> dict[str, Any]:
    """The insert of a call's header (with the session snapshot when asked)."""
    doc = {"_id": session["call_sid"], **header(session), **fields}
    return insert(CALLS, {**doc, **_snapshot_fields(session)} if snapshot else doc)


def _tier_outcome(outcome: str) -> str | None:
    """A snapshot write's outcome as the session store's (None: not written)."""
    return {WRITTEN: STORED, QUEUED: STORED, DUPLICATE: STALE, LOST: FAILED}.get(outcome)


def header(session: Mapping[str, Any]) -> dict[str, Any]:
    """A new call's header fields."""
    return {"company_id": session.get("company_id"), "from": session.get("from"), "to": session.get("to"),
            "started_at": session.get("created_at"), "status": "in-progress", "tags": []}


class CallLog:
    """Reads and writes the call log; writes are durable (the outbox covers a store that is down)."""

    def __init__(self, db: Any, writer: DurableWriter, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.writer = writer
        self.clock = clock
        self.calls = db[CALLS]
        self.turns = db[TURNS]

    def ensure_indexes(self) -> None:
        """The indexes the call log's queries use (idempotent)."""
        self.calls.create_index([("company_id", 1), ("started_at", -1)])
        self.calls.create_index("started_at")  # makes the date window of a listing an index range
        self.calls.create_index([("from", 1), ("company_id", 1)])
        self.turns.create_index([("call_sid", 1), ("seq", 1)])

    # -- writes

    def start(self, session: Mapping[str, Any], **fields: Any) -> bool:
        """Create a call's header; a replayed start changes nothing."""
        return self.writer.write(_header_write(session, fields), key=session["call_sid"]) in (WRITTEN, QUEUED)

    def record_turn(self, record: Mapping[str, Any], *, defer: bool = False) -> bool:
        """Append one turn; False when this turn was already recorded. ``defer``: made durable in the turn
        journal and written just after the caller is answered (then always True: a repeat lands once)."""
        if defer:
            return self.writer.defer([_turn_write(record)], key=record["call_sid"])[0] in (WRITTEN, QUEUED)
        return self.writer.write(_turn_write(record), key=record["call_sid"]) in (WRITTEN, QUEUED)

    def record_turn_and_snapshot(self, record: Mapping[str, Any], session: Mapping[str, Any], *,
                                 defer: bool = False) -> tuple[bool, str | None]:
        """A turn's record and the session's snapshot as one durable write (one transaction in the embedded
        store): whether the turn is newly recorded, and the snapshot's outcome for the session store (STORED;
        STALE when the header holds a newer one; FAILED; None when the turn was recorded before, so nothing
        was written). ``defer`` as for ``record_turn``."""
        writes = [_turn_write(record), self._snapshot_write(session)]
        if defer:
            outcomes = self.writer.defer(writes, key=record["call_sid"])
        else:
            outcomes = self.writer.write_all(writes, key=record["call_sid"])
        return outcomes[0] in (WRITTEN, QUEUED), _tier_outcome(outcomes[1])

    def record_first_turn(self, record: Mapping[str, Any], session: Mapping[str, Any], **fields: Any
                          ) -> tuple[bool, bool]:
        """A new call's first turn and its header (with the session snapshot) as one durable write: whether
        the turn is newly recorded, and whether the header was created by this write."""
        outcomes = self.writer.write_all([_turn_write(record), _header_write(session, fields, snapshot=True)],
                                         key=session["call_sid"])
        return outcomes[0] in (WRITTEN, QUEUED), outcomes[1] in (WRITTEN, QUEUED)

    def update(self, call_sid: str, change: Mapping[str, Any]) -> bool:
        """Apply an update to a call's header (outcome, transfer outcome ...)."""
        return self.writer.write(update(CALLS, {"_id": call_sid}, change), key=call_sid) != LOST

    def snapshot(self, session: Mapping[str, Any]) -> str:
        """Write the session snapshot (and the call's figures) onto its header, never over a newer one.

        Returns the writer's outcome; DUPLICATE means the header holds a newer snapshot.
        """
        return self.writer.write(self._snapshot_write(session), key=session["call_sid"])

    @staticmethod
    def _snapshot_write(session: Mapping[str, Any]) -> dict[str, Any]:
        sid, seq = session["call_sid"], session["seq"]
        newer_or_none = {"_id": sid, "$or": [{"session.seq": {"$lte": seq}}, {"session": {"$exists": False}}]}
        # An upsert whose filter fails on an existing header collides on _id: an older snapshot, skipped.
        fields = _snapshot_fields(session)
        change = {"$set": fields, "$setOnInsert": {k: v for k, v in header(session).items() if k not in fields}}
        return update(CALLS, newer_or_none, change, upsert=True)

    def finish(self, call_sid: str, session: Mapping[str, Any] | None, end: Mapping[str, Any]) -> bool:
        """The call ended: its end fields (status, duration ...) and its final snapshot (never over a newer one),
        as one durable write."""
        writes = [update(CALLS, {"_id": call_sid}, {"$set": dict(end)})]
        if session is not None:
            writes.append(self._snapshot_write(session))
        return LOST not in self.writer.write_all(writes, key=call_sid)

    def late_error(self, call_sid: str, seq: int | None, kind: str) -> bool:
        """An error known only after its turn was recorded (a hang-up, a failed dial, the webhook's fallback):
        on the turn's record (``late_error``, when the turn is known) and the call's header (``late_errors``)."""
        done = True
        if seq is not None:
            done = self.writer.write(update(TURNS, {"_id": turn_id(call_sid, seq)}, {"$set": {"late_error": kind}}),
                                     key=call_sid) != LOST
        return self.writer.write(update(CALLS, {"_id": call_sid}, {"$addToSet": {"late_errors": kind}}),
                                 key=call_sid) != LOST and done

    def store_message(self, message: Mapping[str, Any]) -> bool:
        """Keep a message a caller left (keyed by ``_id``, so a replay stores it once)."""
        return self.writer.write(insert(MESSAGES, message), key=message.get("call_sid")) in (WRITTEN, QUEUED)

    def record_alert(self, alert: Mapping[str, Any]) -> bool:
        """Keep a critical event of a call (``alerts``, beside the monitoring's alert records)."""
        doc = {"state": "event", "name": alert.get("type"), **alert}
        return self.writer.write(insert(ALERTS, doc), key=alert.get("call_sid")) in (WRITTEN, QUEUED)

    # -- reads

    def session_snapshot(self, call_sid: str) -> dict[str, Any] | None:
        """The session snapshot on a call's header (raises PyMongoError when the store is down)."""
        self.writer.settle()
        doc = self.calls.find_one({"_id": call_sid}, {"session": 1})
        return (doc or {}).get("session")

    def recorded_reply(self, call_sid: str, seq: int) -> Any:
        """The reply answered on a turn (for replays older than the session keeps), or None."""
        try:
            self.writer.settle()
            doc = self.turns.find_one({"_id": turn_id(call_sid, seq)}, {"reply": 1, "final": 1})
        except PyMongoError:
            return None
        reply = (doc or {}).get("reply")
        if isinstance(reply, dict) and "text" not in reply:
            reply = {**reply, "text": doc.get("final", "")}
        return reply

    def caller_seen(self, company_id: str, caller: str, *, besides: str) -> bool | None:
        """Whether this number called the company before (None when the store cannot say)."""
        try:
            seen = self.calls.find_one({"from": caller, "company_id": company_id, "_id": {"$ne": besides}},
                                       {"_id": 1})
        except PyMongoError:
            return None
        return seen is not None

    def health(self) -> str:
        """Whether the document store answers."""
        try:
            self.db.command("ping")
            return "up"
        except Exception as exc:  # noqa: BLE001
            return f"down: {exc.__class__.__name__}"


class SnapshotTier:
    """The session store's L2: session snapshots on the call log's headers."""

    name = "docstore"

    def __init__(self, log: CallLog) -> None:
        self.log = log

    def get(self, call_sid: str) -> dict[str, Any] | None:
        """The snapshot (raises when the store is down)."""
        return self.log.session_snapshot(call_sid)

    def put(self, session: Mapping[str, Any]) -> str:
        """Write a snapshot (queued in the outbox if the store is down): "stored", or "stale" when the
        header holds a newer one; raises when even the outbox refused it."""
        outcome = self.log.snapshot(session)
        if outcome == LOST:
            raise RuntimeError(f"call {session['call_sid']}: snapshot neither written nor queued")
        return STALE if outcome == DUPLICATE else STORED

    def delete(self, call_sid: str) -> None:
        """Snapshots stay: they are the call's record."""

    def end(self, call_sid: str, session: Mapping[str, Any] | None, end: Mapping[str, Any]) -> bool:
        """Write the call's end with its final snapshot."""
        return self.log.finish(call_sid, session, end)

    def health(self) -> str:
        """Whether the document store answers."""
        return self.log.health()


__all__ = ["ALERTS", "CallLog", "SnapshotTier", "TurnFacts", "turn_record", "turn_id", "turn_error", "tally", "header"]
