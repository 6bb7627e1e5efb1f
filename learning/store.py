"""Learning's documents in the document store (a thin layer: queries and writes, no decisions).

- ``learning_items``: one queue item per turn and reason (``_id = "<CallSid>:<seq>:<queue>:<reason>:<cue>"``,
  so a replayed turn is queued once), with the scrubbed words and status pending | suggested |
  approved | rejected.
- ``learning_suggestions``: proposals for staff (``_id = "<company>:<signature>"``), with examples,
  count, coherence, proposed change, estimated impact and the decision.
- ``learning_samples``: a bounded sample of answered turns per company (the estimate's context).
- ``network_suggestions``: clusters shared by several opt-in companies of a trade, PII removed.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import nullcontext
from typing import Any, Iterable, Mapping, Sequence

from pymongo.errors import DuplicateKeyError

from records.backend import atomic

ITEMS, SUGGESTIONS, SAMPLES, NETWORK = "learning_items", "learning_suggestions", "learning_samples", \
    "network_suggestions"
#: Answered turns kept per company for estimates (slots are overwritten, so the sample stays bounded).
SAMPLE_SLOTS = 2000
#: The most queue items one learning run reads per company and queue.
MAX_ITEMS = 5000
#: Writes of a batch kept in one transaction at most (short, so a caller turn's write never waits long for it).
WRITES_PER_TRANSACTION = 20


def item_id(call_sid: str, seq: int, queue: str, reason: str, cue: str | None) -> str:
    """The key of one queue item (one per turn, queue, reason and cue)."""
    return f"{call_sid}:{seq:05d}:{queue}:{reason}:{cue or ''}"


def sample_slot(company_id: str, key: str) -> str:
    """The key of the sample slot an answered turn is kept in (a hash of ``key``, so the sample stays bounded)."""
    slot = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big") % SAMPLE_SLOTS
    return f"{company_id}:{slot}"


class LearningStore:
    """Reads and writes learning's collections."""

    def __init__(self, db: Any, *, pause: float = 0.0) -> None:
        self.db = db
        # Between a batch's transactions (learning's own process pauses, so other processes' writes go first).
        self.pause = pause
        self.items = db[ITEMS]
        self.suggestions = db[SUGGESTIONS]
        self.samples = db[SAMPLES]
        self.network = db[NETWORK]

    def ensure_indexes(self) -> None:
        """The indexes learning's queries use (idempotent)."""
        self.items.create_index([("company_id", 1), ("queue", 1), ("status", 1)])
        # The words lead: a repeat check is one index look, however long the company's queue (the embedded store
        # reads a field leading an index as plain SQL).
        self.items.create_index([("norm", 1), ("company_id", 1)])
        self.suggestions.create_index([("company_id", 1), ("status", 1)])
        self.samples.create_index([("company_id", 1)])
        self.network.create_index([("trade", 1), ("status", 1)])

    # -- items

    def add_item(self, doc: Mapping[str, Any]) -> bool:
        """Queue one item; False when it was queued before (a replayed turn)."""
        try:
            self.items.insert_one(dict(doc))
            return True
        except DuplicateKeyError:
            return False

    def seen_unanswered(self, company_id: str, norm: str) -> bool:
        """Whether these words fell past the scenarios before for this company."""
        return self.items.find_one({"company_id": company_id, "norm": norm, "queue": "scenario",
                                    "reason": {"$ne": "SPOT_CHECK"}}, {"_id": 1}) is not None

    def pending(self, company_id: str, queue: str, limit: int = MAX_ITEMS) -> list[dict[str, Any]]:
        """A company's pending items of one queue, newest first."""
        return list(self.items.find({"company_id": company_id, "queue": queue, "status": "pending"},
                                    sort=[("at", -1)], limit=limit))

    def list_items(self, flt: Mapping[str, Any], *, skip: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Items matching a filter, newest first, one page, and how many match."""
        total = self.items.count_documents(dict(flt))
        rows = list(self.items.find(dict(flt), sort=[("at", -1)], skip=skip, limit=limit))
        return rows, total

    def mark(self, ids: Iterable[str], status: str, suggestion: str | None = None) -> None:
        """Set the status (and suggestion) of items."""
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            self.items.update_many({"_id": {"$in": chunk}}, {"$set": {"status": status, "suggestion": suggestion}})

    def refuse(self, ids: Iterable[str], scenario: str, suggestion: str, *, retries: int) -> None:
        """Items of a proposal staff rejected for ``scenario``: back in the queue, that scenario ruled out for
        them (``refused``), until they were refused ``retries`` times; then rejected."""
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            self.items.update_many({"_id": {"$in": chunk}}, {"$addToSet": {"refused": scenario}})
            self.items.update_many({"_id": {"$in": chunk}, f"refused.{retries - 1}": {"$exists": True}},
                                   {"$set": {"status": "rejected", "suggestion": suggestion}})
            self.items.update_many({"_id": {"$in": chunk}, f"refused.{retries - 1}": {"$exists": False}},
                                   {"$set": {"status": "pending", "suggestion": None}})

    def companies_with_pending(self) -> list[str]:
        """Companies that have pending items (for a learning run over every company)."""
        return sorted({d["company_id"] for d in self.items.find({"status": "pending"}, {"company_id": 1})
                       if d.get("company_id")})

    # -- samples of answered turns

    def keep(self, samples: Mapping[str, Mapping[str, Any]], items: Sequence[Mapping[str, Any]]) -> int:
        """A batch's answered turns (by sample slot, ``sample_slot``) and queue items, written together: in
        transactions of at most ``WRITES_PER_TRANSACTION`` writes where the store groups writes (the embedded
        store), else one by one. Returns how many items were new (a replayed turn's are not)."""
        writes = [(True, slot, doc) for slot, doc in samples.items()] + [(False, None, doc) for doc in items]
        new = 0
        for start in range(0, len(writes), WRITES_PER_TRANSACTION):
            if start and self.pause:
                time.sleep(self.pause)  # a caller turn's write waiting for the store's lock gets it now
            with atomic(self.db) or nullcontext():
                for sample, slot, doc in writes[start:start + WRITES_PER_TRANSACTION]:
                    if sample:
                        self.samples.replace_one({"_id": slot}, dict(doc), upsert=True)
                    else:
                        new += self.add_item(doc)
        return new

    def sample(self, company_id: str) -> list[dict[str, Any]]:
        """The company's sample of answered turns."""
        return list(self.samples.find({"company_id": company_id}))

    # -- suggestions

    def add_suggestion(self, doc: Mapping[str, Any]) -> bool:
        """Store a new suggestion; False when the same one exists."""
        try:
            self.suggestions.insert_one(dict(doc))
            return True
        except DuplicateKeyError:
            return False

    def rejected(self, company_id: str, template_id: str | None, limit: int = 500) -> list[dict[str, Any]]:
        """The company's latest rejected proposals for existing scenarios of a template (scenario, examples)."""
        return list(self.suggestions.find({"company_id": company_id, "template_id": template_id, "queue": "scenario",
                                           "status": "rejected", "kind": "add_to_scenario"},
                                          {"scenario": 1, "examples": 1}, sort=[("decided_at", -1)], limit=limit))

    def suggestion(self, sid: str) -> dict[str, Any] | None:
        """One suggestion."""
        return self.suggestions.find_one({"_id": sid})

    def list_suggestions(self, flt: Mapping[str, Any], *, skip: int, limit: int
                         ) -> tuple[list[dict[str, Any]], int]:
        """Suggestions matching a filter, largest first, one page, and how many match."""
        total = self.suggestions.count_documents(dict(flt))
        rows = list(self.suggestions.find(dict(flt), {"item_ids": 0}, sort=[("count", -1), ("_id", 1)],
                                          skip=skip, limit=limit))
        return rows, total

    def decide(self, sid: str, expect: str, change: Mapping[str, Any]) -> bool:
        """Move a suggestion out of status ``expect`` (False when someone else decided it first)."""
        return self.suggestions.update_one({"_id": sid, "status": expect}, {"$set": dict(change)}).matched_count == 1

    def approval_rate(self, company_ids: Iterable[str]) -> float | None:
        """The share of decided suggestions staff approved for these companies (None: nothing decided yet)."""
        ids = list(company_ids)
        decided = list(self.suggestions.find({"company_id": {"$in": ids}, "status": {"$in": ["approved", "rejected"]}},
                                             {"status": 1}))
        if not decided:
            return None
        return sum(d["status"] == "approved" for d in decided) / len(decided)

    # -- network suggestions

    def put_network(self, doc: Mapping[str, Any]) -> bool:
        """Store a network suggestion (an existing one keeps its status)."""
        try:
            self.network.insert_one(dict(doc))
            return True
        except DuplicateKeyError:
            fields = {k: v for k, v in doc.items() if k not in ("_id", "status", "created_at")}
            self.network.update_one({"_id": doc["_id"], "status": "pending"}, {"$set": fields})
            return False

    def list_network(self, flt: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Network suggestions matching a filter, best first."""
        return list(self.network.find(dict(flt), sort=[("quality", -1), ("_id", 1)]))


__all__ = ["LearningStore", "item_id", "sample_slot", "ITEMS", "SUGGESTIONS", "SAMPLES", "NETWORK", "SAMPLE_SLOTS"]
