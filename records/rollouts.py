"""Rollouts: a cheat-sheet version goes live through the gate, then shadow -> canary -> full.

The live state is on the company record (``rollout``: id, version, stage, share, plan ...;
``active``; ``previous``, kept 24 h; ``policy_rev``, one more at every change of what new
calls get), so it reaches every worker the way the rest of the record does: each process's
one-second copy, Redis's copy, the last copy seen. Every move is one compare-and-set on that
record (the stage it expects in the filter), so ticks on several workers and machines at
once move a rollout exactly once. ``rollouts`` keeps each rollout's history: plan, the gate's
verdict, every move with who made it and why, and the last tick's figures.

A tick (``flask rollout tick``, a request's lazy tick, or the CANARY_REGRESSION alert) reads
the stage's figures from the call log and lets ``policy.rollout.step`` decide: roll back,
advance, or hold. A rolled-back version is marked on its sheet and never deployed again
without an explicit retry.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from typing import Any, Callable

from pymongo import ReturnDocument
from pymongo.errors import PyMongoError

import policy
from infra.observe import NullObserver, Observer
from policy.compiler import CompiledPolicy
from policy.gate import run_gate
from policy.rollout import ADVANCE, CANARY, FULL, ROLLBACK, parse_plan, step
from policy.scenarios import EMPTY_TEMPLATE

from .catalog import Catalog
from .companies import NotFound
from .policies import KEEP_PREVIOUS_S, Conflict, sheet_id
from .rollout_views import ROLLOUTS, describe, serving
from .samples import replays, stage_figures

log = logging.getLogger(__name__)



class GateRefused(Exception):
    """The gate refused the candidate; ``report`` says why, case by case."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__(report["verdict"])
        self.report = report


def _gate_summary(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in ("verdict", "deployable", "pass_rate", "passed", "failed", "not_applicable",
                                   "critical_failures", "counts")}


class Rollouts:
    """Deploys, moves and judges rollouts; keeps their history."""

    def __init__(self, db: Any, catalog: Catalog, *, clock: Callable[[], float] = time.time,
                 observer: Observer | None = None, tick_interval: float = 15.0) -> None:
        self.db = db
        self.history = db[ROLLOUTS]
        self.catalog = catalog
        self.companies, self.policies = catalog.companies, catalog.policies
        self.clock = clock
        self.observer = observer or NullObserver()
        self.tick_interval = tick_interval
        self._due: dict[str, float] = {}
        self._queue: queue.Queue[str] = queue.Queue()
        self._worker: threading.Thread | None = None

    def ensure_indexes(self) -> None:
        """The index history listings use (idempotent)."""
        self.history.create_index([("company_id", 1), ("started_at", -1)])

    # -- the gate

    def _record(self, company_id: str) -> dict[str, Any]:
        record = self.companies.get(company_id, fresh=True)
        if record is None:
            raise NotFound(f"no company {company_id!r}")
        return record

    def _active_policy(self, record: dict[str, Any]) -> CompiledPolicy | None:
        active = record.get("active") or {}
        if not active.get("version"):
            return None
        return self.policies.load(record["_id"], active["version"], active["checksum"])

    def gate(self, company_id: str, candidate: CompiledPolicy) -> dict[str, Any]:
        """The gate's report on a candidate against the active policy and the company's last 100 turns."""
        record = self._record(company_id)
        template = self.catalog.templates.get(record["doc"].get("scenarioTemplate")) or EMPTY_TEMPLATE
        return run_gate(candidate, self._active_policy(record), record["doc"],
                        replays(self.db, company_id, template, self.clock()))

    def try_draft(self, company_id: str, sheet: Any) -> dict[str, Any]:
        """What an unsaved draft would do: validated and compiled (PolicyError with every field error), then the
        gate's report; nothing is saved or deployed."""
        policy.validate(sheet)  # refuses anything but a mapping, with every field error
        return self.gate(company_id, policy.compile_cheatsheet(sheet))

    def try_version(self, company_id: str, version: int) -> dict[str, Any]:
        """What a saved, compiled version would do (the gate's report; nothing deployed)."""
        return self.gate(company_id, self.policies.compiled_sheet(company_id, version)[1])

    # -- deploy

    def deploy(self, company_id: str, version: int, plan_data: Any = None, *, by: str = "admin",
               retry: bool = False) -> dict[str, Any]:
        """Start a rollout of a compiled version (through the gate). Raises PolicyError (a bad plan), NotFound,
        Conflict (not compiled, already active, rolled back before without ``retry``, a rollout running) or
        GateRefused."""
        plan = parse_plan(plan_data)
        record = self._record(company_id)
        if record.get("rollout"):
            ro = record["rollout"]
            raise Conflict(f"a rollout of version {ro['version']} is running ({ro['stage']}); promote it or roll "
                           "it back first")
        sheet, candidate = self.policies.compiled_sheet(company_id, version)
        active = record.get("active") or {}
        if active.get("version") == version:
            raise Conflict(f"version {version} is already the active policy")
        if sheet.get("rolled_back_at") and not retry:
            raise Conflict(f"version {version} was rolled back ({sheet.get('rolled_back_why', '')}); it is not "
                           "deployed again unless you ask to retry it")
        if self.policies.load(company_id, version, candidate.checksum) is None:
            raise Conflict(f"version {version} cannot be loaded or does not verify")
        report = self.gate(company_id, candidate)
        if not report["deployable"]:
            raise GateRefused(report)
        now, rid = self.clock(), uuid.uuid4().hex[:16]
        stage = plan.first_stage()
        pin = {"version": version, "checksum": candidate.checksum}
        base = {"version": active["version"], "checksum": active["checksum"]} if active.get("version") else None
        self.history.insert_one({"_id": rid, "company_id": company_id, **pin, "from": base, "plan": plan.to_dict(),
                                 "status": "running", "stage": stage, "started_at": now, "ended_at": None, "by": by,
                                 "gate": _gate_summary(report), "events": []})
        live = {"id": rid, **pin, "from": base, "plan": plan.to_dict(), "stage": stage,
                "share": plan.stage(stage).share if stage != FULL else 1.0, "stage_started_at": now,
                "started_at": now, "paused": False, "by": by}
        res = self.companies.coll.update_one({"_id": company_id, "rollout": None},
                                             {"$set": {"rollout": live}, "$inc": {"policy_rev": 1}})
        if res.matched_count == 0:
            self.history.update_one({"_id": rid}, {"$set": {"status": "superseded", "ended_at": now}})
            raise Conflict("another rollout started meanwhile")
        self._event(rid, "deploy", by, report["verdict"], stage=stage)
        self.companies.refresh(company_id)
        if stage == FULL:
            self._finish(company_id, live, by, "no shadow or canary stage in the plan")
        return self.status(company_id)

    # -- moves (each one compare-and-set on the company record)

    def _cas(self, company_id: str, live: dict[str, Any], change: dict[str, Any]) -> bool:
        flt = {"_id": company_id, "rollout.id": live["id"], "rollout.stage": live["stage"]}
        change = {**change, "$inc": {"policy_rev": 1}}
        moved = self.companies.coll.find_one_and_update(flt, change, return_document=ReturnDocument.AFTER)
        if moved is not None:
            self.companies.refresh(company_id)
        return moved is not None

    def _event(self, rid: str, what: str, by: str, why: str, *, ended: bool = False, **more: Any) -> None:
        """A move in the rollout's history (``stage``/``status`` in ``more`` also set on it; ``ended``: its end)."""
        event = {"at": self.clock(), "what": what, "by": by, "why": why, **more}
        sets = {k: v for k, v in more.items() if k in ("stage", "status")}
        if ended:
            sets["ended_at"] = event["at"]
        try:
            self.history.update_one({"_id": rid}, {"$push": {"events": event}, "$set": sets} if sets
                                    else {"$push": {"events": event}})
        except PyMongoError as exc:  # the move is made; only its line in the history is missing
            log.error("rollout %s: history not written (%s): %s", rid, what, exc)

    def _advance(self, company_id: str, live: dict[str, Any], by: str, why: str) -> bool:
        plan = parse_plan(live["plan"])
        nxt = plan.next_stage(live["stage"])
        if nxt == FULL:
            return self._finish(company_id, live, by, why)
        now = self.clock()
        ok = self._cas(company_id, live, {"$set": {"rollout.stage": nxt, "rollout.share": plan.stage(nxt).share,
                                                   "rollout.stage_started_at": now, "rollout.paused": False}})
        if ok:
            self._event(live["id"], "advance", by, why, stage=nxt)
        return ok

    def _finish(self, company_id: str, live: dict[str, Any], by: str, why: str) -> bool:
        """Full: the candidate becomes the active policy; the one it replaces is kept for 24 h."""
        now = self.clock()
        change: dict[str, Any] = {"$set": {"active": {"version": live["version"], "checksum": live["checksum"],
                                                      "at": now, "by": by}}, "$unset": {"rollout": ""}}
        if live.get("from"):
            change["$set"]["previous"] = {**live["from"], "until": now + KEEP_PREVIOUS_S}
        ok = self._cas(company_id, live, change)
        if ok:
            self._event(live["id"], "full", by, why, stage=FULL, status="done", ended=True)
        return ok

    def _abort(self, company_id: str, live: dict[str, Any], by: str, why: str, figures: dict[str, Any] | None) -> bool:
        """Roll a running rollout back: new calls get the active policy again; the version is marked."""
        ok = self._cas(company_id, live, {"$unset": {"rollout": ""}})
        if ok:
            self.observer.rolled_back({"by": by, "company": company_id, "version": live["version"],
                                       "stage": live["stage"], "why": why, **(figures or {})})
            self._mark_rolled_back(company_id, live["version"], by, why)
            self._event(live["id"], "rollback", by, why, stage=live["stage"], status="rolled_back",
                        figures=figures, ended=True)
        return ok

    def _mark_rolled_back(self, company_id: str, version: int, by: str, why: str) -> None:
        """Mark a version rolled back: it is not deployed again without an explicit retry."""
        try:
            self.policies.sheets.update_one({"_id": sheet_id(company_id, version)}, {"$set": {
                "rolled_back_at": self.clock(), "rolled_back_by": by, "rolled_back_why": why}})
        except PyMongoError as exc:  # the rollback is made; only the mark is missing
            log.error("company %s: version %s rolled back but not marked: %s", company_id, version, exc)

    def _live(self, company_id: str) -> dict[str, Any]:
        live = self._record(company_id).get("rollout")
        if not live:
            raise Conflict(f"company {company_id!r} has no rollout running")
        return live

    def promote(self, company_id: str, *, by: str = "admin", share: float | None = None) -> dict[str, Any]:
        """Staff move a rollout on now: to the next stage, or (``share``) raise the canary's share."""
        live = self._live(company_id)
        if share is not None:
            if live["stage"] != CANARY or not live["share"] < share <= 1.0:
                raise Conflict(f"the share can only be raised during the canary, above {live['share']} and up to 1")
            if self._cas(company_id, live, {"$set": {"rollout.share": share}}):
                self._event(live["id"], "share", by, f"canary share raised from {live['share']} to {share}")
        elif not self._advance(company_id, live, by, "promoted by staff"):
            raise Conflict("the rollout moved meanwhile; look at its status again")
        return self.status(company_id, tick=False)

    def pause(self, company_id: str, *, by: str = "admin", paused: bool = True) -> dict[str, Any]:
        """Hold a rollout in its stage (a regression still rolls it back), or let it go on."""
        live = self._live(company_id)
        if self._cas(company_id, live, {"$set": {"rollout.paused": paused}}):
            self._event(live["id"], "pause" if paused else "resume", by, "by staff")
        return self.status(company_id, tick=False)

    def rollback(self, company_id: str, *, by: str = "admin", why: str = "rolled back by staff") -> dict[str, Any]:
        """Staff roll back: a running rollout is aborted; otherwise the previous version (kept 24 h) is restored."""
        record = self._record(company_id)
        live = record.get("rollout")
        if live:
            if not self._abort(company_id, live, by, why, None):
                raise Conflict("the rollout moved meanwhile; look at its status again")
            return self.status(company_id, tick=False)
        prev, active = record.get("previous") or {}, record.get("active") or {}
        if not prev or prev.get("until", 0) < self.clock():
            raise Conflict("no rollout is running and no previous version is kept (it is kept 24 h after a change)")
        now = self.clock()
        res = self.companies.coll.update_one(
            {"_id": company_id, "rollout": None, "active.version": active.get("version")},
            {"$set": {"active": {"version": prev["version"], "checksum": prev["checksum"], "at": now, "by": by}},
             "$unset": {"previous": ""}, "$inc": {"policy_rev": 1}})
        if res.matched_count == 0:
            raise Conflict("the active policy changed meanwhile; look at its status again")
        self.companies.refresh(company_id)
        self._mark_rolled_back(company_id, active["version"], by, why)
        done = self.history.find_one({"company_id": company_id, "version": active["version"]},
                                     sort=[("started_at", -1)])
        rid = done["_id"] if done else self._restore_entry(company_id, active, now, by)
        self._event(rid, "rollback", by, f"{why}: version {prev['version']} restored", status="rolled_back")
        self.observer.rolled_back({"by": by, "company": company_id, "version": active["version"], "stage": FULL,
                                   "why": why})
        return self.status(company_id, tick=False)

    def _restore_entry(self, company_id: str, active: dict[str, Any], now: float, by: str) -> str:
        """A history entry for rolling back a version that was activated directly (no rollout of its own)."""
        rid = uuid.uuid4().hex[:16]
        self.history.insert_one({"_id": rid, "company_id": company_id, "version": active["version"],
                                 "checksum": active["checksum"], "from": None, "plan": None, "status": "done",
                                 "stage": FULL, "started_at": active.get("at", now), "ended_at": now, "by": by,
                                 "gate": None, "events": []})
        return rid

    # -- ticks

    def tick(self, company_id: str) -> dict[str, Any] | None:
        """Judge a running rollout's stage now and roll back, advance or hold; None when none runs."""
        live = self.companies.get(company_id, fresh=True)
        live = (live or {}).get("rollout")
        if not live:
            return None
        plan, now = parse_plan(live["plan"]), self.clock()
        figures = stage_figures(self.db, company_id, live["id"], live["stage"], live["stage_started_at"])
        decided = step(plan, live["stage"], now - live["stage_started_at"], figures["candidate"], figures["active"],
                       paused=bool(live.get("paused")))
        shown = {"unit": figures["unit"], "arms": figures["arms"], "shadow": figures["shadow"],
                 "verdict": decided.verdict.to_dict()}
        self.history.update_one({"_id": live["id"]}, {"$set": {"last": {"at": now, "step": decided.to_dict(),
                                                                        "arms": figures["arms"]}}})
        moved = False
        if decided.action == ROLLBACK:
            moved = self._abort(company_id, live, "auto", decided.why, shown)
        elif decided.action == ADVANCE:
            moved = self._advance(company_id, live, "auto", decided.why)
        return {"company": company_id, "rollout": live["id"], "version": live["version"], "stage": live["stage"],
                "action": decided.action, "moved": moved, "why": decided.why, "figures": shown}

    def running(self) -> list[str]:
        """The companies with a rollout running."""
        return [c["_id"] for c in self.companies.coll.find({"rollout.id": {"$exists": True}}, {"_id": 1})]

    def tick_all(self) -> list[dict[str, Any]]:
        """Tick every running rollout (the scheduled command; the CANARY_REGRESSION alert). A rollout the store
        cannot move now is reported ``skipped``: it holds, and the next tick tries again."""
        out = []
        for company_id in self.running():
            try:
                result = self.tick(company_id)
            except PyMongoError as exc:
                log.error("rollout tick for %s skipped, the store is down: %s", company_id, exc)
                result = {"company": company_id, "action": "skipped", "moved": False,
                          "why": f"the document store is unavailable, nothing was changed: {exc}"}
            if result:
                out.append(result)
        return out

    def poke(self, company_id: str) -> None:
        """A request saw a running rollout: tick it in the background, at most once per ``tick_interval``
        per company in this process (never on the caller's time)."""
        if self.tick_interval <= 0:
            return
        now = time.monotonic()
        if now < self._due.get(company_id, 0.0):
            return
        self._due[company_id] = now + self.tick_interval
        self._queue.put(company_id)
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._drain, name="rollout-ticks", daemon=True)
            self._worker.start()

    def _drain(self) -> None:
        while True:
            company_id = self._queue.get()
            try:
                self.tick(company_id)
            except Exception as exc:  # noqa: BLE001 - a failed tick holds the stage; the next one tries again
                log.error("rollout tick for %s failed: %s", company_id, exc)

    # -- reading

    def status(self, company_id: str, *, tick: bool = True) -> dict[str, Any]:
        """Stage, shares, samples and error rates per arm, the verdict and why (``tick``: judge it first)."""
        if tick:
            self.tick(company_id)
        return describe(self.db, self._record(company_id), self.clock())

    def serving(self, limit: int = 100) -> dict[str, Any]:
        """What this process gives new calls, per company (``/readyz``)."""
        return serving(self.companies, self.policies, limit)

    def list_history(self, company_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The company's rollouts, newest first, each with its plan, gate verdict and every move."""
        self._record(company_id)
        return list(self.history.find({"company_id": company_id}, sort=[("started_at", -1)], limit=limit))


__all__ = ["Rollouts", "GateRefused", "ROLLOUTS"]
