"""Console: a company's calls (filtered by time, action, tag and tier) and one call's transcript with forensics."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import current_app, g, request

from .. import forensics
from . import bp, page, render
from .format import zone

TIERS = ("1", "2", "3", "fallback")
ACTIONS = ("RESPOND", "TRANSFER", "HANGUP")
PER_PAGE = 25


def local_time(raw: str | None, tz: str | None, name: str) -> float | None:
    """A time from the filter form: a date-time without a zone is the company's local time."""
    if raw and re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?", raw):
        return datetime.fromisoformat(raw).replace(tzinfo=zone(tz)).timestamp()
    return forensics.parse_time(raw, name)


def _filters(tz: str | None) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The listing's query from the form, and every field it refuses (named)."""
    args, bad = request.args, []
    query: dict[str, Any] = {"action": args.get("action") or None, "tag": (args.get("tag") or "").strip() or None,
                             "tier": args.get("tier") or None}
    for name in ("since", "until"):
        try:
            query[name] = local_time(args.get(name), tz, name)
        except ValueError:
            query[name] = None
            bad.append((name, "not a time (use the picker, or ISO 8601)"))
    if query["tier"] and query["tier"] not in TIERS:
        bad.append(("tier", f"must be one of {', '.join(TIERS)}"))
        query["tier"] = None
    if query["action"] and query["action"] not in ACTIONS:
        bad.append(("action", f"must be one of {', '.join(ACTIONS)}"))
        query["action"] = None
    page_no = args.get("page", "1")
    query["page"] = int(page_no) if page_no.isdigit() and 0 < int(page_no) <= 100_000 else 1
    return query, bad


@bp.get("/companies/<company_id>/calls")
def calls(company_id: str) -> Any:
    """Recent calls, newest first, with the filters."""
    record = current_app.extensions["catalog"].companies.get(company_id)
    if record is None:
        return page(404, "No such company", f"There is no company {company_id!r}.")
    tz = record["doc"].get("timezone")
    query, bad = _filters(tz)
    listing = forensics.list_calls(current_app.extensions["docstore"], company_id, per_page=PER_PAGE, **query)
    return render("calls.html", company=record, tz=tz, listing=listing, bad=bad, args=request.args, tiers=TIERS,
                  actions=ACTIONS, pages=max(1, -(-listing["total"] // PER_PAGE)), tab="calls")


@bp.get("/companies/<company_id>/calls/<call_sid>")
def call(company_id: str, call_sid: str) -> Any:
    """One call: every turn with its forensics (full caller numbers only for the company's own session)."""
    record = current_app.extensions["catalog"].companies.get(company_id)
    detail = forensics.call_detail(current_app.extensions["docstore"], company_id, call_sid,
                                   full_numbers=g.staff.full_numbers) if record else None
    if detail is None:
        return page(404, "No such call", f"Company {company_id!r} has no call {call_sid!r}.")
    return render("call.html", company=record, tz=record["doc"].get("timezone"), call=detail, tab="calls")
