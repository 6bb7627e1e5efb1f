"""The overview's figures from turn records (pure): tiers and latency percentiles per hour, and overall."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

#: Who answered a caller turn: the scenario tiers, the safe fallback, or a rule before any scenario.
TIERS = ("1", "2", "3", "fallback", "rule")
PERCENTILES = ("p50", "p95", "p99")
HOUR = 3600.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile ``q`` (0-100) of some values (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def tier_of(turn: Mapping[str, Any]) -> str | None:
    """The tier of a caller turn (``rule`` when a rule took it before the scenarios); None for other turns."""
    if turn.get("kind") != "turn":
        return None
    tier = turn.get("tier")
    return str(tier) if tier in TIERS else "rule"


def latency(turns: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """P50, P95 and P99 of the turns' total latency (ms), and how many turns."""
    values = [float(t["ms"]) for t in turns if isinstance(t.get("ms"), (int, float))]
    return {"n": len(values), **{p: percentile(values, float(p[1:])) for p in PERCENTILES}}


def hourly(turns: Iterable[Mapping[str, Any]], *, end: float, hours: int = 24) -> list[dict[str, Any]]:
    """Per hour, oldest first, the last ``hours`` hours up to ``end``: caller turns by tier and latency
    percentiles (every turn the agent answered)."""
    first = (math.floor(end / HOUR) - hours + 1) * HOUR
    slots: list[dict[str, Any]] = [{"start": first + i * HOUR, "tiers": dict.fromkeys(TIERS, 0), "ms": []}
                                   for i in range(hours)]
    for t in turns:
        at = t.get("at")
        if not isinstance(at, (int, float)) or not first <= at < first + hours * HOUR:
            continue
        slot = slots[int((at - first) // HOUR)]
        tier = tier_of(t)
        if tier is not None:
            slot["tiers"][tier] += 1
        if isinstance(t.get("ms"), (int, float)):
            slot["ms"].append(float(t["ms"]))
    for slot in slots:
        values = slot.pop("ms")
        slot.update({p: percentile(values, float(p[1:])) for p in PERCENTILES})
        slot["turns"] = sum(slot["tiers"].values())
    return slots


def tier_shares(by_tier: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The costs report's tiers with each one's share of the turns, in tier order."""
    total = sum(int(v.get("turns", 0)) for v in by_tier.values()) or 0
    order = {t: i for i, t in enumerate(TIERS)}
    return [{"tier": tier, "turns": int(v.get("turns", 0)), "cost": v.get("cost", 0.0),
             "share": (int(v.get("turns", 0)) / total) if total else 0.0}
            for tier, v in sorted(by_tier.items(), key=lambda kv: order.get(kv[0], 99))]


__all__ = ["TIERS", "PERCENTILES", "percentile", "tier_of", "latency", "hourly", "tier_shares"]
