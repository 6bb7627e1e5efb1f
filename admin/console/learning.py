"""Console: a company's learning queues and suggestions, with approve, edit and reject.

A scenario suggestion changes the shared scenario template, which other companies use too, so only
an admin session may approve one; a company's own session may approve its cheat-sheet suggestions
and edit or reject any of its suggestions.
"""

from __future__ import annotations

from typing import Any, Callable

import yaml
from flask import current_app, g, request

from learning import QUEUES, Conflict, NotFound
from policy.errors import PolicyError
from policy.source import parse_text
from records.catalog import CompileBusy
from records.templates import TemplateConflict

from . import bp, page, render
from .editor import field_errors

SHOWN = 50


def _ext(name: str) -> Any:
    return current_app.extensions.get(name)


def may_approve(suggestion: dict[str, Any]) -> bool:
    """Whether this session may approve a suggestion (scenario changes reach every company on the template)."""
    return g.staff.role == "admin" or suggestion.get("queue") != "scenario"


def _view(company_id: str, status: int = 200, **shown: Any) -> Any:
    record = current_app.extensions["catalog"].companies.get(company_id)
    if record is None:
        return page(404, "No such company", f"There is no company {company_id!r}.")
    learning = _ext("learning")
    if learning is None:
        return page(503, "Learning is off", "Learning is switched off on this server (LEARNING_ENABLED).")
    suggestions, _ = learning.store.list_suggestions({"company_id": company_id, "status": "pending"}, skip=0,
                                                    limit=SHOWN)
    waiting = {"$in": ["pending", "suggested"]}  # not yet decided: alone, or in a suggestion
    queues = {q: learning.store.list_items({"company_id": company_id, "queue": q, "status": waiting}, skip=0,
                                           limit=10) for q in QUEUES}
    decided, _ = learning.store.list_suggestions({"company_id": company_id, "status": {"$in": ["approved",
                                                                                              "rejected"]}},
                                                 skip=0, limit=10)
    for s in suggestions:
        s["change_text"] = shown.get("edit_text") if shown.get("edit_sid") == s["_id"] else yaml.safe_dump(
            s.get("change"), sort_keys=False, allow_unicode=True, width=100)
        s["may_approve"] = may_approve(s)
    return render("learning.html", company=record, tz=record["doc"].get("timezone"), suggestions=suggestions,
                  queues=queues, decided=decided, tab="learning", **shown), status


@bp.get("/companies/<company_id>/learning")
def learning_page(company_id: str) -> Any:
    """Pending suggestions (largest first), each queue's latest items, the latest decisions."""
    return _view(company_id)


@bp.post("/companies/<company_id>/learning/run")
def learning_run(company_id: str) -> Any:
    """Cluster the company's pending items into suggestions now."""
    if _ext("learning") is None:
        return _view(company_id)
    _ext("learning_feed").drain()
    result = _ext("learning").run(company_id, now=current_app.config["SETTINGS"].CLOCK())
    made = sum((result.get("suggestions") or {}).values())
    return _view(company_id, done=f"Looked at the queues: {made} new suggestion(s).")


def _decide(company_id: str, sid: str, act: Callable[[dict[str, Any]], Any], done: str) -> Any:
    """A decision on one of this company's suggestions; refusals are shown on the page."""
    learning = _ext("learning")
    doc = learning.store.suggestion(sid) if learning is not None else None
    if doc is None or doc.get("company_id") != company_id:
        return page(404, "No such suggestion", f"Company {company_id!r} has no suggestion {sid!r}.")
    try:
        act(doc)
    except NotFound as exc:
        return _view(company_id, notice=str(exc), status=404)
    except (Conflict, CompileBusy, TemplateConflict) as exc:
        return _view(company_id, notice=str(exc), status=409)
    except PolicyError as exc:
        text = request.form.get("change", "")
        # The change's paths start with "change"; its text is the change itself.
        inner = PolicyError([{**e, "path": e["path"].removeprefix("change").lstrip(".")} for e in exc.errors])
        errors = [{**f, "path": e["path"]} for e, f in zip(exc.errors, field_errors(inner, text))]
        return _view(company_id, errors=errors, edit_sid=sid, edit_text=text or None, status=422)
    return _view(company_id, done=done)


@bp.post("/companies/<company_id>/learning/<path:sid>/approve")
def learning_approve(company_id: str, sid: str) -> Any:
    """Approve a suggestion as it stands (scenario suggestions: admin only)."""
    def act(doc: dict[str, Any]) -> Any:
        if not may_approve(doc):
            raise Conflict("a scenario suggestion changes the shared template: an administrator approves it")
        return _ext("learning_decisions").approve(doc["_id"], by=g.staff.by)
    return _decide(company_id, sid, act, "Approved and applied.")


@bp.post("/companies/<company_id>/learning/<path:sid>/edit")
def learning_edit(company_id: str, sid: str) -> Any:
    """Replace a suggestion's proposed change with the edited YAML or JSON (checked now)."""
    def act(doc: dict[str, Any]) -> Any:
        change = parse_text(request.form.get("change", ""), name="change")
        if not isinstance(change, dict):
            raise PolicyError([{"path": "change", "message": "must be a mapping (the proposed change)"}])
        return _ext("learning_decisions").edit(doc["_id"], change, by=g.staff.by)
    return _decide(company_id, sid, act, "Saved the edited change; approve it when ready.")


@bp.post("/companies/<company_id>/learning/<path:sid>/reject")
def learning_reject(company_id: str, sid: str) -> Any:
    """Reject a suggestion (with an optional note)."""
    note = request.form.get("note", "")[:500]
    return _decide(company_id, sid, lambda doc: _ext("learning_decisions").reject(doc["_id"], by=g.staff.by,
                                                                                  note=note),
                   "Rejected.")
