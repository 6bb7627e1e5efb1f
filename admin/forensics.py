"""Forensics as staff see it: call rows with caller numbers masked, ISO times, a readable transcript."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Mapping

from records import forensics as queries


def parse_time(raw: str | None, name: str) -> float | None:
    """Epoch seconds from epoch seconds or ISO 8601 (a naive time is UTC); ValueError names the field."""
    if raw in (None, ""):
        return None
    if re.fullmatch(r"[0-9]{1,12}(?:\.[0-9]{1,6})?", raw):
        return float(raw)
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{name}: not a time (use epoch seconds or ISO 8601)") from None


def mask(number: str | None) -> str | None:
    """A caller number with all but the country code and last 4 digits hidden (+1******0123)."""
    if not number:
        return number
    m = re.fullmatch(r"(\+1|\+\d{2})?(\d+)(\d{4})", number)
    if not m:
        return "****"
    return f"{m.group(1) or ''}{'*' * len(m.group(2))}{m.group(3)}"


def _iso(ts: Any) -> str | None:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat() if isinstance(ts, (int, float)) else None


def _present(row: dict[str, Any], *, full_numbers: bool) -> dict[str, Any]:
    row["started_at"], row["ended_at"] = _iso(row.get("started_at")), _iso(row.get("ended_at"))
    if not full_numbers:
        row["from"] = mask(row.get("from"))
    return row


def list_calls(db: Any, company_id: str, **query: Any) -> dict[str, Any]:
    """A company's calls (numbers masked, even for the company's own token)."""
    out = queries.list_calls(db, company_id, **query)
    out["calls"] = [_present(c, full_numbers=False) for c in out["calls"]]
    return out


def call_detail(db: Any, company_id: str, call_sid: str, *, full_numbers: bool) -> dict[str, Any] | None:
    """One call with every turn; full numbers only when asked (the company's own token)."""
    detail = queries.call_detail(db, company_id, call_sid)
    if detail is None:
        return None
    if not full_numbers:
        detail["collected"] = {k: (mask(v) if isinstance(v, str) and v.startswith("+") else v)
                               for k, v in detail["collected"].items()}
    return _present(detail, full_numbers=full_numbers)


costs = queries.costs


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
                     f" | cost ${t.get('cost') or 0:.4f} | arm {t.get('arm')}"
                     + (f" | error after the turn: {t['late_error']}" if t.get("late_error") else ""))
        shadow = t.get("shadow")
        if shadow:
            lines.append(f"       shadow v{shadow.get('version')}: {shadow.get('final', '-')}  -> {shadow.get('action', '-')}"
                         f" | error {shadow.get('error') or '-'} | {'differs' if shadow.get('differs') else 'same'}")
    return "\n".join(lines)


__all__ = ["list_calls", "call_detail", "costs", "transcript", "mask", "parse_time"]
