"""Call forensics: list a company's calls, one call's per-turn breakdown, costs, a readable transcript."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Mapping

MAX_PER_PAGE = 200
TURN_FIELDS = ("seq", "kind", "at", "caller", "tier", "confidence", "scenario", "base", "final", "action", "blocks",
               "matched", "guardrails", "tags", "policy", "arm", "latency_ms", "cost", "tier3", "collect",
               "transfer", "dial_status", "side_effects", "side_effects_done", "session_tier", "perf_fault")


def parse_time(raw: str | None, name: str) -> float | None:
    """Epoch seconds from epoch seconds or ISO 8601 (a naive time is UTC); ValueError names the field."""
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: not a time (use epoch seconds or ISO 8601)") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def mask(number: str | None) -> str | None:
    """A caller number with all but the country code and last 4 digits hidden (+1******0123)."""
    if not number:
        return number
    m = re.fullmatch(r"(\+1|\+\d{2})?(\d+)(\d{4})", number)
    if not m:
        return "****"
    return f"{m.group(1) or ''}{'*' * len(m.group(2))}{m.group(3)}"


def _window(flt: dict[str, Any], field: str, since: float | None, until: float | None) -> dict[str, Any]:
    """A filter with ``since <= field < until`` added (either end may be open)."""
    when = {op: t for op, t in (("$gte", since), ("$lt", until)) if t is not None}
    return {**flt, field: when} if when else flt


def _iso(ts: Any) -> str | None:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat() if isinstance(ts, (int, float)) else None


def call_summary(call: Mapping[str, Any], turns: list[Mapping[str, Any]], *, full_numbers: bool) -> dict[str, Any]:
    """One line of the call list."""
    caller = call.get("from")
    return {
        "call_sid": call["_id"], "started_at": _iso(call.get("started_at")), "ended_at": _iso(call.get("ended_at")),
        "status": call.get("status"), "outcome": call.get("outcome"),
        "from": caller if full_numbers else mask(caller), "to": call.get("to"),
        "turns": len(turns), "actions": sorted({t.get("action") for t in turns if t.get("action")}),
        "tiers": sorted({t.get("tier") for t in turns if t.get("tier")}), "tags": call.get("tags") or [],
        "policy": call.get("policy"), "cost": round(sum(t.get("cost") or 0 for t in turns), 6),
    }


def list_calls(db: Any, company_id: str, *, since: float | None = None, until: float | None = None,
               action: str | None = None, tag: str | None = None, tier: str | None = None, page: int = 1,
               per_page: int = 50) -> dict[str, Any]:
    """A company's calls, newest first, filtered and paged; caller numbers masked."""
    flt = _window({"company_id": company_id}, "started_at", since, until)
    if tag:
        flt["tags"] = tag
    calls = list(db["calls"].find(flt, sort=[("started_at", -1)]))
    rows = []
    for call in calls:
        turns = list(db["turns"].find({"call_sid": call["_id"]}, {"action": 1, "tier": 1, "cost": 1}))
        if action and not any(t.get("action") == action.upper() for t in turns):
            continue
        if tier and not any(t.get("tier") == tier for t in turns):
            continue
        rows.append(call_summary(call, turns, full_numbers=False))
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    start = (max(1, page) - 1) * per_page
    return {"calls": rows[start:start + per_page], "page": max(1, page), "per_page": per_page, "total": len(rows)}


def call_detail(db: Any, company_id: str, call_sid: str, *, full_numbers: bool) -> dict[str, Any] | None:
    """One call with every turn's breakdown (None if it is not this company's call)."""
    call = db["calls"].find_one({"_id": call_sid})
    if not call or call.get("company_id") != company_id:
        return None
    turns = list(db["turns"].find({"call_sid": call_sid}, sort=[("seq", 1)]))
    out = call_summary(call, turns, full_numbers=full_numbers)
    out["caller_type"] = call.get("caller_type")
    out["collected"] = call.get("collected") or {}
    out["transfer_outcome"] = call.get("transfer_outcome")
    out["message"] = call.get("message")
    out["turn_details"] = [{k: t.get(k) for k in TURN_FIELDS if k in t} for t in turns]
    if not full_numbers:
        out["collected"] = {k: (mask(v) if isinstance(v, str) and v.startswith("+") else v)
                            for k, v in out["collected"].items()}
    return out


def costs(db: Any, company_id: str, *, since: float | None = None, until: float | None = None) -> dict[str, Any]:
    """Spend by tier, and per 1000 calls, for a company over a time range."""
    flt = _window({"company_id": company_id}, "at", since, until)
    by_tier: dict[str, dict[str, float]] = {}
    calls: set[str] = set()
    total = 0.0
    for t in db["turns"].find(flt, {"call_sid": 1, "tier": 1, "cost": 1}):
        calls.add(t["call_sid"])
        tier = t.get("tier") or "none"
        entry = by_tier.setdefault(tier, {"turns": 0, "cost": 0.0})
        entry["turns"] += 1
        entry["cost"] = round(entry["cost"] + (t.get("cost") or 0.0), 6)
        total += t.get("cost") or 0.0
    n = len(calls)
    return {"company_id": company_id, "calls": n, "cost_total": round(total, 6),
            "cost_per_1000_calls": round(total / n * 1000, 4) if n else 0.0, "by_tier": by_tier}


def transcript(detail: Mapping[str, Any]) -> str:
    """A call as readable lines with each turn's breakdown."""
    lines = [f"call {detail['call_sid']}  {detail.get('from')} -> {detail.get('to')}  status {detail.get('status')}"
             f"  outcome {detail.get('outcome') or '-'}  policy v{(detail.get('policy') or {}).get('version')}"
             f"  cost ${detail.get('cost', 0):.4f}"]
    for t in detail.get("turn_details", []):
        caller = (t.get("caller") or {}).get("text")
        if caller:
            conf = (t.get("caller") or {}).get("confidence")
            lines.append(f"[{t['seq']:>2}] CALLER {caller}" + (f"  (asr {conf:.2f})" if conf is not None else ""))
        elif t.get("kind") == "silence":
            lines.append(f"[{t['seq']:>2}] CALLER (silence)")
        lines.append(f"[{t['seq']:>2}] AGENT  {t.get('final')}  -> {t.get('action')}")
        blocks = ", ".join(f"{b['type']}:{b.get('id')}" for b in t.get("blocks") or [])
        lat = t.get("latency_ms") or {}
        lines.append(f"       tier {t.get('tier') or '-'} conf {t.get('confidence')} scenario {t.get('scenario') or '-'}"
                     f" | blocks {blocks or '-'} | guardrails {','.join(t.get('guardrails') or []) or '-'}"
                     f" | tags {','.join(t.get('tags') or []) or '-'}")
        lines.append(f"       latency ms: session {lat.get('session')} policy {lat.get('policy')} scenario "
                     f"{lat.get('scenario')} engine {lat.get('engine')} total {lat.get('total')}"
                     f" | cost ${t.get('cost') or 0:.4f} | arm {t.get('arm')}")
    return "\n".join(lines)


__all__ = ["list_calls", "call_detail", "costs", "transcript", "mask", "parse_time"]
