"""How the console writes times, money, durations and figures (Jinja filters)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str | None) -> ZoneInfo | timezone:
    """A company's timezone (UTC when it has none or an unknown one)."""
    try:
        return ZoneInfo(name) if name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def when(value: Any, tz: str | None = None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Epoch seconds or an ISO time as the company's local time ("-" when there is none)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return value
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    local = datetime.fromtimestamp(value, tz=zone(tz))
    return f"{local.strftime(fmt)} {local.tzname() or ''}".rstrip()


def money(value: Any, places: int = 4) -> str:
    """Dollars, e.g. $0.0021."""
    return f"${float(value or 0):.{places}f}"


def ms(value: Any) -> str:
    """Milliseconds, e.g. 3.2 ms ("-" when unknown)."""
    return "-" if value is None else f"{float(value):.1f} ms"


def pct(value: Any) -> str:
    """A share as a percentage, e.g. 12.5% ("-" when unknown)."""
    return "-" if value is None else f"{float(value) * 100:.1f}%"


def short(value: Any, n: int = 12) -> str:
    """The first characters of a checksum or id."""
    return str(value or "-")[:n]


TIER_NAMES = {"1": "tier 1 (keywords)", "2": "tier 2 (similar examples)", "3": "tier 3 (LLM)", "fallback": "fallback",
              "rule": "a rule", "none": "no scenario (greeting, rule, transfer result)"}


def tier_name(tier: Any) -> str:
    """What a tier is, in words."""
    return TIER_NAMES.get(str(tier), str(tier))


FILTERS = {"when": when, "money": money, "ms": ms, "pct": pct, "short": short, "tier_name": tier_name}

__all__ = ["FILTERS", "zone", "when", "money", "ms", "pct", "short", "tier_name"]
