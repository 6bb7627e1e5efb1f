"""Learning, with its I/O: turn records in (the feed's batches), queue items and suggestions out.

``ingest`` turns a batch of turn records into queue items (scrubbed words, reason codes; the
incident queue while the infrastructure was degraded) and keeps a sample of answered turns.
``run`` clusters a company's pending items into suggestions; ``run_network`` pools the
suggestions of a trade's opt-in companies. Decisions on suggestions are in ``decide.py``.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from records.catalog import Catalog

from . import network
from .cheatsheet import cheatsheet_suggestions
from .cluster import tokens
from .feed import Batch
from .reasons import CHEATSHEET, LOW_CONFIDENCE_BELOW, SCENARIO, SPOT_CHECK, SPOT_CHECK_BELOW, Item, classify
from .scrub import scrub
from .store import LearningStore, item_id, sample_slot
from .suggest import Turn, suggest

log = logging.getLogger(__name__)


class Learning:
    """The learning loops of one app: ingest turns, propose changes, pool them across companies."""

    def __init__(self, store: LearningStore, catalog: Catalog, *, clock: Callable[[], float] = time.time,
                 run_every: float = 900.0) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.run_every = run_every
        # A company's first run waits a period too: a process that just started serves calls, not clustering (its
        # first run loads scikit-learn, about a second of work).
        self._started = clock()
        self._last_run: dict[str, float] = {}

    # -- the feed's batches

    def process(self, batch: Batch) -> None:
        """Ingest a batch, then run learning for companies not run for ``run_every`` seconds."""
        touched = self.ingest(batch)
        if self.run_every <= 0:
            return
        now = self.clock()
        for company_id in sorted(touched):
            if now - self._last_run.get(company_id, self._started) >= self.run_every:
                self._last_run[company_id] = now
                # One process runs a company's clustering per period (the others skip it): a lock in the store.
                if not self.catalog.locks.acquire(f"learning-run:{company_id}", f"{os.getpid()}", ttl=self.run_every):
                    continue
                try:
                    self.run(company_id, now=now)
                except Exception as exc:  # noqa: BLE001 - one company's failure must not stop the others
                    log.error("learning run for %s failed: %s", company_id, exc)

    def ingest(self, batch: Batch) -> set[str]:
        """Queue items from turn records (with the infrastructure's state at each turn); returns the companies.

        The batch is read first, then written together (``LearningStore.keep``), so its writes take a few
        short transactions rather than one each."""
        touched: set[str] = set()
        found = _Found()
        for record, degraded in batch:
            company_id = record.get("company_id")
            text = (record.get("caller") or {}).get("text") or ""
            if not company_id or record.get("kind") != "turn" or not text.strip():
                continue
            if self._ingest_one(record, company_id, scrub(text).text, tuple(degraded), found):
                touched.add(company_id)
        self.store.keep(found.samples, found.items)
        return touched

    def _ingest_one(self, record: Mapping[str, Any], company_id: str, text: str, degraded: tuple[str, ...],
                    found: "_Found") -> bool:
        norm = " ".join(tokens(text))
        unanswered = record.get("tier") in ("3", "fallback")
        repeated = unanswered and not degraded and bool(norm) and (
            (company_id, norm) in found.unanswered or self.store.seen_unanswered(company_id, norm))
        items = classify(record, degraded=degraded, repeated=repeated,
                         disputed=not degraded and self._disputed(record, company_id))
        if not items:
            if record.get("tier") not in ("1", "2") or degraded:
                return False
            found.samples[sample_slot(company_id, f"{record['call_sid']}:{record['seq']}")] = {
                "company_id": company_id, "text": text, "scenario": record.get("scenario"), "at": record.get("at")}
            if record.get("tier") != "1" or not self._young(company_id, record.get("scenario")):
                return False
            # A sure keyword answer of a scenario the template knows from few examples: for staff to confirm (its
            # examples then teach Tier 2 how callers ask for it; Tier 2's own answers would only repeat them).
            items = [Item(SCENARIO, SPOT_CHECK)]
        template_id = self._template_id(company_id)
        reply = scrub(record.get("base") or "").text if record.get("tier") == "3" else None
        for it in items:
            found.items.append({
                "_id": item_id(record["call_sid"], int(record["seq"]), it.queue, it.reason, it.cue),
                "company_id": company_id, "template_id": template_id, "queue": it.queue, "reason": it.reason,
                "cue": it.cue, "text": text, "norm": norm, "tier": record.get("tier"),
                "confidence": record.get("confidence"), "scenario": record.get("scenario"),
                "action": record.get("action"), "reply": reply, "call_sid": record["call_sid"],
                "seq": record["seq"], "at": record.get("at"), "status": "pending", "suggestion": None,
                "detail": dict(it.detail)})
            if it.queue == SCENARIO and it.reason != SPOT_CHECK:
                found.unanswered.add((company_id, norm))  # a later turn of the batch with these words repeats them
        return True

    def _disputed(self, record: Mapping[str, Any], company_id: str) -> bool:
        """A sure keyword answer the template's examples lean away from (Tier 1 checks only keywords other
        scenarios' examples say, to stay fast; learning checks every one, here, off the caller's path)."""
        if record.get("tier") != "1" or (record.get("confidence") or 0.0) < LOW_CONFIDENCE_BELOW:
            return False
        try:
            compiled = self.catalog.templates.get(self._template_id(company_id))
            return bool(compiled is not None and compiled.disputed((record.get("caller") or {}).get("text") or "",
                                                                   record.get("scenario")))
        except Exception as exc:  # noqa: BLE001 - a template that cannot be read teaches nothing here
            log.debug("dispute check failed for %s: %s", company_id, exc)
            return False

    def _young(self, company_id: str, scenario_id: str | None) -> bool:
        """Whether the scenario that answered has fewer than ``SPOT_CHECK_BELOW`` examples (and Q&A questions)."""
        if not scenario_id:
            return False
        try:
            compiled = self.catalog.templates.get(self._template_id(company_id))
            return compiled is not None and compiled.examples_of(scenario_id) < SPOT_CHECK_BELOW
        except Exception as exc:  # noqa: BLE001 - a template that cannot be read teaches nothing here
            log.debug("spot check failed for %s: %s", company_id, exc)
            return False

    def _template_id(self, company_id: str) -> str | None:
        try:
            record = self.catalog.companies.get(company_id)
        except Exception:  # noqa: BLE001 - the item is still worth keeping without it
            return None
        return (record or {}).get("doc", {}).get("scenarioTemplate")

    # -- suggestions

    def run(self, company_id: str, *, now: float) -> dict[str, Any]:
        """Cluster a company's pending items into new suggestions; returns how many of each queue were made."""
        record = self.catalog.companies.get(company_id, fresh=True)
        if record is None:
            raise LookupError(f"no company {company_id!r}")
        made = {SCENARIO: 0, CHEATSHEET: 0}
        template_id = record["doc"].get("scenarioTemplate")
        current = self.catalog.templates.current(template_id) if template_id else None
        items = self.store.pending(company_id, SCENARIO)
        if current is not None and items:
            doc, version = current
            # A spot check carries the scenario that answered it (the one staff are asked to confirm).
            turns = [Turn(i["_id"], i["text"], 1, i.get("scenario") if i.get("reason") == SPOT_CHECK else None,
                          i.get("reply"), tuple(i.get("refused") or ())) for i in items]
            context = [Turn(s["_id"], s["text"], 1, s.get("scenario")) for s in self.store.sample(company_id)]
            rejected = [(r["scenario"], r.get("examples") or ()) for r in self.store.rejected(company_id, template_id)]
            for s in suggest(doc, turns, context, rejected=rejected):
                made[SCENARIO] += self._keep(company_id, SCENARIO, s.signature, s.to_doc(), now,
                                             template_id=template_id, template_version=version)
        for s in cheatsheet_suggestions(self.store.pending(company_id, CHEATSHEET), record["doc"]):
            made[CHEATSHEET] += self._keep(company_id, CHEATSHEET, s.pop("signature"), s, now)
        return {"company_id": company_id, "suggestions": made}

    def _keep(self, company_id: str, queue: str, signature: str, doc: dict[str, Any], now: float,
              **extra: Any) -> int:
        sid = f"{company_id}:{signature}"
        fresh = self.store.add_suggestion({"_id": sid, "company_id": company_id, "queue": queue, "status": "pending",
                                           "created_at": now, **extra, **doc})
        self.store.mark(doc["item_ids"], "suggested", sid)
        return int(fresh)

    # -- network learning

    def run_network(self, trade: str, *, now: float) -> dict[str, Any]:
        """Pool the suggestions of a trade's opt-in companies into network suggestions for template admins."""
        inputs = []
        for record in self.catalog.companies.coll.find({"doc.networkLearning": True}):
            doc = record.get("doc") or {}
            if str(doc.get("trade") or "").casefold() != trade.casefold():
                continue
            cid = record["_id"]
            suggestions = list(self.store.suggestions.find(
                {"company_id": cid, "queue": SCENARIO, "status": {"$in": ["pending", "approved"]}}))
            words = {w for i in self.store.items.find({"company_id": cid}, {"text": 1}) for w in tokens(i["text"])}
            words |= {w for s in self.store.sample(cid) for w in tokens(s["text"])}
            inputs.append(network.CompanyInput(cid, doc.get("scenarioTemplate"), suggestions, frozenset(words)))
        history = self.store.approval_rate(c.company_id for c in inputs)
        found = network.aggregate(trade, inputs, history=history)
        fresh = sum(self.store.put_network({**d, "status": "pending", "created_at": now}) for d in found)
        return {"trade": trade, "companies": len(inputs), "suggestions": len(found), "new": fresh}


@dataclass
class _Found:
    """What a batch gives learning, written once the batch is read: answered turns by sample slot (the
    latest turn per slot, as one write after another would leave it), queue items in order, and the
    words queued as unanswered so far."""

    samples: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    unanswered: set[tuple[str, str]] = field(default_factory=set)


__all__ = ["Learning"]
