"""How rollouts look from outside: a company's rollout status for staff, and what one process serves."""

from __future__ import annotations

import os
from typing import Any, Mapping

from pymongo.errors import PyMongoError

from policy.rollout import CANARY, parse_plan, step

from .companies import Companies
from .policies import Policies
from .samples import stage_figures

ROLLOUTS = "rollouts"


def _live(db: Any, record: Mapping[str, Any], live: Mapping[str, Any], now: float) -> dict[str, Any]:
    """A running rollout: stage, shares, samples and error rates per arm, the verdict and what a tick would do."""
    plan = parse_plan(live["plan"])
    figures = stage_figures(db, record["_id"], live["id"], live["stage"], live["stage_started_at"])
    decided = step(plan, live["stage"], now - live["stage_started_at"], figures["candidate"], figures["active"],
                   paused=bool(live.get("paused")))
    v = decided.verdict
    return {"id": live["id"], "version": live["version"], "checksum": live["checksum"], "from": live.get("from"),
            "stage": live["stage"], "paused": bool(live.get("paused")), "share": live["share"],
            "shares": {"shadow": plan.shadow.share,
                       "canary": live["share"] if live["stage"] == CANARY else plan.canary.share},
            "stage_started_at": live["stage_started_at"], "elapsed_s": round(now - live["stage_started_at"], 1),
            "plan": plan.to_dict(), "unit": figures["unit"], "arms": figures["arms"], "shadow": figures["shadow"],
            "samples": {"candidate": v.candidate.samples, "active": v.active.samples},
            "error_rates": {"candidate": v.candidate.rate, "active": v.active.rate},
            "verdict": v.to_dict(), "next": decided.action, "why": decided.why}


def describe(db: Any, record: Mapping[str, Any], now: float) -> dict[str, Any]:
    """A company's rollout status: the served revision, the active and previous versions (kept 24 h), the
    running rollout if any, and the latest rollout's summary."""
    prev = record.get("previous")
    live = record.get("rollout")
    latest = db[ROLLOUTS].find_one({"company_id": record["_id"]}, {"events": 0, "last": 0}, sort=[("started_at", -1)])
    return {"company": record["_id"], "revision": record.get("policy_rev", 0), "active": record.get("active"),
            "previous": {**prev, "expired": prev.get("until", 0) < now} if prev else None,
            "rollout": _live(db, record, live, now) if live else None, "latest": latest}


def serving(companies: Companies, policies: Policies, limit: int = 100) -> dict[str, Any]:
    """What this process gives new calls, per company it served (every company it knows, when it knows at most
    ``limit``), as its own one-second copy of each company says: the revision, the active version and any
    rollout's stage and share. Two processes agree once both show the same revision."""
    known = companies.known_ids()
    ids = sorted(set(policies.serving) | (set(known) if len(known) <= limit else set()))
    out: dict[str, Any] = {}
    for cid in ids:
        try:
            record = companies.get(cid)
        except PyMongoError:
            record = companies.last_known(cid)
        if record is None:
            continue
        active, live = record.get("active") or {}, record.get("rollout")
        out[cid] = {"revision": record.get("policy_rev", 0), "active": active.get("version"),
                    "checksum": (active.get("checksum") or "")[:12],
                    "rollout": ({"version": live["version"], "stage": live["stage"], "share": live["share"],
                                 "paused": bool(live.get("paused"))} if live else None)}
    return {"pid": os.getpid(), "companies": out}


__all__ = ["describe", "serving", "ROLLOUTS"]
