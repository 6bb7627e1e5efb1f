"""Admin API: a company's calls (list, one call with every turn), costs, and alerts."""

from __future__ import annotations

from flask import Response, current_app, g, jsonify, request

from . import forensics
from .api import bp, catalog, company_route, errors, int_arg, time_range


@bp.get("/companies/<company_id>/calls")
@company_route
def list_calls(company_id: str) -> Response:
    """A company's calls, newest first: ?since=&until=&action=&tag=&tier=&page=&per_page= (numbers masked)."""
    when = time_range()
    if isinstance(when, Response):
        return when
    page = int_arg("page", 1, 1, 100_000)
    per_page = int_arg("per_page", 50, 1, 200)
    for value in (page, per_page):
        if isinstance(value, Response):
            return value
    tier = request.args.get("tier") or None
    if tier and tier not in ("1", "2", "3", "fallback"):
        return errors(400, ("tier", "must be 1, 2, 3 or fallback"))
    if catalog().companies.get(company_id) is None:
        return errors(404, ("", f"no company {company_id!r}"))
    return jsonify(forensics.list_calls(current_app.extensions["docstore"], company_id, since=when[0], until=when[1],
                                        action=request.args.get("action") or None, tag=request.args.get("tag") or None,
                                        tier=tier, page=page, per_page=per_page))


@bp.get("/companies/<company_id>/calls/<call_sid>")
@company_route
def get_call(company_id: str, call_sid: str) -> Response:
    """One call, every turn's breakdown; full caller numbers only for the company's own token."""
    full = g.caller == ("company", company_id)
    detail = forensics.call_detail(current_app.extensions["docstore"], company_id, call_sid, full_numbers=full)
    if detail is None:
        return errors(404, ("", f"company {company_id!r} has no call {call_sid!r}"))
    return jsonify(detail)


@bp.get("/companies/<company_id>/costs")
@company_route
def costs(company_id: str) -> Response:
    """Spend by tier and per 1000 calls: ?since=&until=."""
    when = time_range()
    if isinstance(when, Response):
        return when
    if catalog().companies.get(company_id) is None:
        return errors(404, ("", f"no company {company_id!r}"))
    return jsonify(forensics.costs(current_app.extensions["docstore"], company_id, since=when[0], until=when[1]))


@bp.get("/alerts")
def list_alerts() -> Response:
    """Alert records (TIER3_SPIKE, ... and critical edge-case events), newest first: ?state=firing|resolved|event."""
    state = request.args.get("state") or None
    if state not in (None, "firing", "resolved", "event"):
        return errors(400, ("state", "must be firing, resolved or event"))
    return jsonify(alerts=current_app.extensions["alerts"].list(state))
