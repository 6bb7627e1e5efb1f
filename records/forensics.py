"""Forensics queries over the call log: a company's calls (filtered and paged in the store), one
call with every turn, and costs. Rows are raw; masking numbers is the caller's concern."""

from __future__ import annotations

from typing import Any, Mapping

from .calllog import CALLS, TURNS

MAX_PER_PAGE = 200
TURN_FIELDS = ("seq", "kind", "at", "caller", "tier", "confidence", "scenario", "base", "final", "action", "blocks",
               "matched", "guardrails", "tags", "policy", "arm", "latency_ms", "cost", "tier3", "collect",
               "transfer", "dial_status", "side_effects", "side_effects_done", "session_tier", "perf_fault",
               "shadow", "leak", "late_error")
SUMMARY_FIELDS = {"_id": 1, "started_at": 1, "ended_at": 1, "status": 1, "outcome": 1, "from": 1, "to": 1,
                  "turns": 1, "actions": 1, "tiers": 1, "tags": 1, "policy": 1, "cost": 1}


def window(flt: dict[str, Any], field: str, since: float | None, until: float | None) -> dict[str, Any]:
    """A filter with ``since <= field < until`` added (either end may be open)."""
    when = {op: t for op, t in (("$gte", since), ("$lt", until)) if t is not None}
    return {**flt, field: when} if when else flt


def summary(call: Mapping[str, Any]) -> dict[str, Any]:
    """One line of a call list, from the call's header."""
    return {"call_sid": call["_id"], "started_at": call.get("started_at"), "ended_at": call.get("ended_at"),
            "status": call.get("status"), "outcome": call.get("outcome"), "from": call.get("from"),
            "to": call.get("to"), "turns": call.get("turns", 0), "actions": sorted(call.get("actions") or []),
            "tiers": sorted(call.get("tiers") or []), "tags": call.get("tags") or [], "policy": call.get("policy"),
            "cost": round(call.get("cost") or 0.0, 6)}


def list_calls(db: Any, company_id: str, *, since: float | None = None, until: float | None = None,
               action: str | None = None, tag: str | None = None, tier: str | None = None, page: int = 1,
               per_page: int = 50) -> dict[str, Any]:
    """A company's calls, newest first, filtered on their headers and paged by the store."""
    flt = window({"company_id": company_id}, "started_at", since, until)
    for name, value in (("tags", tag), ("actions", action.upper() if action else None), ("tiers", tier)):
        if value:
            flt[name] = value
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    calls = db[CALLS].find(flt, SUMMARY_FIELDS, sort=[("started_at", -1)], skip=(page - 1) * per_page,
                           limit=per_page)
    return {"calls": [summary(c) for c in calls], "page": page, "per_page": per_page,
            "total": db[CALLS].count_documents(flt)}


def call_detail(db: Any, company_id: str, call_sid: str) -> dict[str, Any] | None:
    """One call with every turn's breakdown (None if it is not this company's call)."""
    call = db[CALLS].find_one({"_id": call_sid})
    if not call or call.get("company_id") != company_id:
        return None
    turns = db[TURNS].find({"call_sid": call_sid}, sort=[("seq", 1)])
    out = summary(call)
    out.update(caller_type=call.get("caller_type"), collected=call.get("collected") or {},
               transfer_outcome=call.get("transfer_outcome"), message=call.get("message"),
               turn_details=[_turn(t, call.get("policy") or {}) for t in turns])
    return out


def _turn(turn: Mapping[str, Any], pin: Mapping[str, Any]) -> dict[str, Any]:
    """A turn as forensics show it: its stored fields, the call's policy pin filled in."""
    out = {k: turn[k] for k in TURN_FIELDS if k in turn}
    out["policy"] = {**pin, **(turn.get("policy") or {})}
    out.setdefault("arm", pin.get("arm", "full"))
    return out


def costs(db: Any, company_id: str, *, since: float | None = None, until: float | None = None) -> dict[str, Any]:
    """Spend by tier, and per 1000 calls, for a company's calls started in a time range."""
    flt = window({"company_id": company_id, "turns": {"$gt": 0}}, "started_at", since, until)
    by_tier: dict[str, dict[str, float]] = {}
    n = 0
    total = 0.0
    for call in db[CALLS].find(flt, {"by_tier": 1, "cost": 1}):
        n += 1
        total += call.get("cost") or 0.0
        for tier, figures in (call.get("by_tier") or {}).items():
            entry = by_tier.setdefault(tier, {"turns": 0, "cost": 0.0})
            entry["turns"] += figures.get("turns", 0)
            entry["cost"] = round(entry["cost"] + (figures.get("cost") or 0.0), 6)
    return {"company_id": company_id, "calls": n, "cost_total": round(total, 6),
            "cost_per_1000_calls": round(total / n * 1000, 4) if n else 0.0, "by_tier": by_tier}


def turn_figures(db: Any, company_id: str, *, since: float, until: float | None = None, calls: int = 300
                 ) -> list[dict[str, Any]]:
    """Each turn's time, kind, tier and total latency, for a company's latest ``calls`` calls started in a time
    range: what the overview's charts are drawn from (bounded, so a busy day costs the same as a quiet one)."""
    ids = [c["_id"] for c in db[CALLS].find(window({"company_id": company_id}, "started_at", since, until),
                                            {"turns": 1}, sort=[("started_at", -1)], limit=calls)]
    out: list[dict[str, Any]] = []
    for i in range(0, len(ids), 100):
        for t in db[TURNS].find({"call_sid": {"$in": ids[i:i + 100]}}, {"at": 1, "kind": 1, "tier": 1,
                                                                        "latency_ms": 1}):
            out.append({"at": t.get("at"), "kind": t.get("kind"), "tier": t.get("tier"),
                        "ms": (t.get("latency_ms") or {}).get("total")})
    return out


__all__ = ["list_calls", "call_detail", "costs", "summary", "window", "turn_figures"]
