"""Console: a company's overview (active policy, rollout, today's calls, tiers and cost, latency, alerts, charts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from flask import current_app, g
from pymongo.errors import PyMongoError

from records.catalog import NotFound
from records.forensics import turn_figures

from .. import forensics
from ..rollout import rollouts
from . import bp, page, render
from .charts import lines, stacked_bars
from .figures import PERCENTILES, TIERS, hourly, latency, tier_shares
from .format import when, zone

DAY = 86400.0
#: The charts and latency figures are drawn from the latest calls of the last day, at most this many.
CHART_CALLS = 300


def _start_of_day(now: float, tz: str | None) -> float:
    local = datetime.fromtimestamp(now, tz=zone(tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def _try(read: Callable[[], Any], problems: list[str], what: str) -> Any:
    """A part of the page; when its store is down the rest still shows, and the page says what is missing."""
    try:
        return read()
    except (PyMongoError, NotFound) as exc:
        problems.append(f"{what} unavailable: {exc.__class__.__name__}")
        return None


def _alerts(company_id: str) -> list[dict[str, Any]]:
    """Firing alerts (the whole service's, for admin only) and this company's critical events of the last day."""
    engine = current_app.extensions["alerts"]
    now = current_app.config["SETTINGS"].CLOCK()
    mine = [a for a in engine.list("event") if a.get("company_id") == company_id
            and (a.get("started_at") or 0) >= now - DAY]
    return (engine.list("firing") if g.staff.role == "admin" else []) + mine


def charts(turns: list[dict[str, Any]], now: float, tz: str | None) -> dict[str, Any]:
    """The overview's two charts over the last 24 hours: caller turns by tier, and latency percentiles."""
    hours = hourly(turns, end=now, hours=24)

    def label(i: int) -> str:
        return when(hours[i]["start"], tz, "%H:%M").split(" ")[0]

    return {"tiers": stacked_bars([h["tiers"] for h in hours], TIERS, label=label),
            "latency": lines([{p: h[p] for p in PERCENTILES} for h in hours], PERCENTILES, label=label, unit=" ms"),
            "hours": hours}


@bp.get("/companies/<company_id>/")
def overview(company_id: str) -> Any:
    """A company at a glance."""
    record = current_app.extensions["catalog"].companies.get(company_id, fresh=True)
    if record is None:
        return page(404, "No such company", f"There is no company {company_id!r}.")
    db, now = current_app.extensions["docstore"], current_app.config["SETTINGS"].CLOCK()
    tz = record["doc"].get("timezone")
    day, problems = _start_of_day(now, tz), []
    calls_today = _try(lambda: forensics.list_calls(db, company_id, since=day, per_page=1)["total"], problems,
                       "today's calls")
    costs = _try(lambda: forensics.costs(db, company_id, since=day), problems, "costs") or {}
    turns = _try(lambda: turn_figures(db, company_id, since=now - DAY, calls=CHART_CALLS), problems, "turns") or []
    return render("overview.html", company=record, tz=tz, calls_today=calls_today, costs=costs,
                  tiers=tier_shares(costs.get("by_tier") or {}), latency=latency(turns),
                  rollout=_try(lambda: rollouts().status(company_id), problems, "the rollout"),
                  alerts=_try(lambda: _alerts(company_id), problems, "alerts") or [],
                  charts=charts(turns, now, tz), chart_calls=CHART_CALLS, problems=problems, tab="overview")
