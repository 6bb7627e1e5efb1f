"""Admin API: the learning queues, suggestions (approve, edit, reject), template versions, network learning."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, request

from learning import QUEUES, REASONS, Conflict, NotFound
from policy.errors import PolicyError
from records.catalog import CompileBusy
from records.templates import TemplateConflict

from .api import body, bp, catalog, errors, int_arg, policy_errors, time_range

STATUSES = ("pending", "suggested", "approved", "rejected")
SUGGESTION_STATUSES = ("pending", "approved", "rejected")


def _ext(name: str) -> Any:
    return current_app.extensions.get(name)


def _enabled() -> Response | None:
    if _ext("learning") is None:
        return errors(503, ("", "learning is switched off (LEARNING_ENABLED)"))
    return None


def _choice(name: str, allowed: tuple[str, ...] | list[str]) -> str | None | Response:
    value = request.args.get(name)
    if value in (None, ""):
        return None
    if value not in allowed:
        return errors(400, (name, f"must be one of {', '.join(allowed)}"))
    return value


def _page() -> tuple[int, int] | Response:
    page = int_arg("page", 1, 1, 100_000)
    if isinstance(page, Response):
        return page
    per_page = int_arg("per_page", 50, 1, 500)
    if isinstance(per_page, Response):
        return per_page
    return page, per_page


def _who() -> str:
    caller = getattr(g, "caller", ("admin", None))
    return caller[1] or caller[0]


@bp.get("/learning/companies/<company_id>/queues/<queue>")
def learning_queue(company_id: str, queue: str) -> Response:
    """One queue's items for a company, newest first: ``?reason= &status= &since= &until= &page= &per_page=``."""
    if (off := _enabled()) is not None:
        return off
    if queue not in QUEUES:
        return errors(404, ("queue", f"must be one of {', '.join(QUEUES)}"))
    reason, status, paging, window = (_choice("reason", REASONS[queue]), _choice("status", STATUSES), _page(),
                                      time_range())
    for v in (reason, status, paging, window):
        if isinstance(v, Response):
            return v
    flt: dict[str, Any] = {"company_id": company_id, "queue": queue}
    if reason:
        flt["reason"] = reason
    if status:
        flt["status"] = status
    since, until = window  # type: ignore[misc]
    if since is not None or until is not None:
        flt["at"] = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
    page, per_page = paging  # type: ignore[misc]
    rows, total = _ext("learning").store.list_items(flt, skip=(page - 1) * per_page, limit=per_page)
    return jsonify(items=[{k: v for k, v in r.items() if k != "norm"} for r in rows], total=total, page=page,
                   per_page=per_page)


@bp.post("/learning/companies/<company_id>/run")
def learning_run(company_id: str) -> Response:
    """Process buffered turns and cluster the company's pending items into suggestions now."""
    if (off := _enabled()) is not None:
        return off
    _ext("learning_feed").drain()
    try:
        result = _ext("learning").run(company_id, now=current_app.config["SETTINGS"].CLOCK())
    except LookupError as exc:
        return errors(404, ("", str(exc)))
    return jsonify(result)


@bp.get("/learning/companies/<company_id>/suggestions")
def learning_suggestions(company_id: str) -> Response:
    """A company's suggestions, largest first: ``?queue=scenario|cheatsheet &status= &page= &per_page=``."""
    if (off := _enabled()) is not None:
        return off
    queue, status, paging = _choice("queue", ("scenario", "cheatsheet")), _choice("status", SUGGESTION_STATUSES), _page()
    for v in (queue, status, paging):
        if isinstance(v, Response):
            return v
    flt: dict[str, Any] = {"company_id": company_id}
    if queue:
        flt["queue"] = queue
    if status:
        flt["status"] = status
    page, per_page = paging  # type: ignore[misc]
    rows, total = _ext("learning").store.list_suggestions(flt, skip=(page - 1) * per_page, limit=per_page)
    return jsonify(suggestions=rows, total=total, page=page, per_page=per_page)


@bp.get("/learning/suggestions/<sid>")
def learning_suggestion(sid: str) -> Response:
    """One suggestion: examples, count, coherence, proposed change, estimated impact, decision."""
    if (off := _enabled()) is not None:
        return off
    doc = _ext("learning").store.suggestion(sid)
    if doc is None:
        return errors(404, ("", f"no suggestion {sid!r}"))
    return jsonify({**{k: v for k, v in doc.items() if k != "item_ids"}, "items": len(doc.get("item_ids") or ())})


def _change(data: dict[str, Any], required: bool) -> dict[str, Any] | None | Response:
    change = data.get("change")
    if change is None and not required:
        return None
    if not isinstance(change, dict):
        return errors(422, ("change", "must be an object (the proposed change, as in the suggestion)"))
    return change


def _decision(fn: Any) -> Response:
    try:
        return jsonify(fn())
    except NotFound as exc:
        return errors(404, ("", str(exc)))
    except (Conflict, CompileBusy, TemplateConflict) as exc:
        return errors(409, ("", str(exc)))
    except PolicyError as exc:
        return policy_errors(422, exc)


@bp.post("/learning/suggestions/<sid>/approve")
def learning_approve(sid: str) -> Response:
    """Approve and apply (``{"change": {...}}`` optional: staff's edit of the proposed change)."""
    if (off := _enabled()) is not None:
        return off
    data = body() if request.get_data() else {}
    if isinstance(data, Response):
        return data
    change = _change(data, required=False)
    if isinstance(change, Response):
        return change
    return _decision(lambda: _ext("learning_decisions").approve(sid, by=_who(), change=change))


@bp.patch("/learning/suggestions/<sid>")
def learning_edit(sid: str) -> Response:
    """Edit a pending suggestion's proposed change: ``{"change": {...}}`` (checked now; approve it next)."""
    if (off := _enabled()) is not None:
        return off
    data = body()
    if isinstance(data, Response):
        return data
    change = _change(data, required=True)
    if isinstance(change, Response):
        return change
    return _decision(lambda: _ext("learning_decisions").edit(sid, change, by=_who()))


@bp.post("/learning/suggestions/<sid>/reject")
def learning_reject(sid: str) -> Response:
    """Reject a suggestion: ``{"note": "why"}`` optional."""
    if (off := _enabled()) is not None:
        return off
    data = body() if request.get_data() else {}
    if isinstance(data, Response):
        return data
    note = data.get("note", "")
    if not isinstance(note, str) or len(note) > 500:
        return errors(422, ("note", "must be a string of at most 500 characters"))
    return _decision(lambda: _ext("learning_decisions").reject(sid, by=_who(), note=note))


@bp.get("/templates/<template_id>/versions")
def template_versions(template_id: str) -> Response:
    """Every kept version of a scenario template, newest first."""
    versions = catalog().templates.versions(template_id)
    if not versions and catalog().templates.current(template_id) is None:
        return errors(404, ("", f"no scenario template {template_id!r}"))
    return jsonify(versions=versions)


@bp.get("/templates/<template_id>/versions/<int:version>")
def template_version(template_id: str, version: int) -> Response:
    """One kept version of a scenario template (the whole document)."""
    doc = catalog().templates.version(template_id, version)
    if doc is None:
        return errors(404, ("version", f"scenario template {template_id!r} has no version {version}"))
    return jsonify(version=version, template=doc)


@bp.post("/templates/<template_id>/revert")
def template_revert(template_id: str) -> Response:
    """Make an earlier version current again: ``{"version": N}`` (itself a new version)."""
    data = body()
    if isinstance(data, Response):
        return data
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return errors(422, ("version", "must be a template version number (1, 2, ...)"))
    if catalog().templates.version(template_id, version) is None:
        return errors(404, ("version", f"scenario template {template_id!r} has no version {version}"))
    return _decision(lambda: catalog().templates.revert(template_id, version, by=_who()))


@bp.get("/learning/network")
def network_suggestions() -> Response:
    """Network suggestions for template admins: ``?trade= &status=``, best quality first."""
    if (off := _enabled()) is not None:
        return off
    status = _choice("status", SUGGESTION_STATUSES)
    if isinstance(status, Response):
        return status
    flt: dict[str, Any] = {}
    if request.args.get("trade"):
        flt["trade"] = request.args["trade"]
    if status:
        flt["status"] = status
    return jsonify(suggestions=_ext("learning").store.list_network(flt))


@bp.post("/learning/network/run")
def network_run() -> Response:
    """Pool the suggestions of a trade's opt-in companies: ``{"trade": "HVAC"}``."""
    if (off := _enabled()) is not None:
        return off
    data = body()
    if isinstance(data, Response):
        return data
    trade = data.get("trade")
    if not isinstance(trade, str) or not trade.strip() or len(trade) > 60:
        return errors(422, ("trade", "must be a trade name (e.g. HVAC), at most 60 characters"))
    return jsonify(_ext("learning").run_network(trade.strip(), now=current_app.config["SETTINGS"].CLOCK()))


@bp.post("/learning/network/<nid>/<verdict>")
def network_decide(nid: str, verdict: str) -> Response:
    """Approve (into the shared template; ``{"change": {...}}`` optional) or reject a network suggestion."""
    if (off := _enabled()) is not None:
        return off
    if verdict not in ("approve", "reject"):
        return errors(404, ("", "use /approve or /reject"))
    data = body() if request.get_data() else {}
    if isinstance(data, Response):
        return data
    change = _change(data, required=False)
    if isinstance(change, Response):
        return change
    note = data.get("note", "")
    if not isinstance(note, str) or len(note) > 500:
        return errors(422, ("note", "must be a string of at most 500 characters"))
    return _decision(lambda: _ext("learning_decisions").decide_network(
        nid, by=_who(), approve=verdict == "approve", change=change, note=note))
