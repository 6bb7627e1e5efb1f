"""Console: the cheat-sheet editor (YAML or JSON, errors by field path and line), the gate on the last 100 calls,
save and compile, deploy, and the rollout's controls (promote, pause, resume, roll back)."""

from __future__ import annotations

from typing import Any, Callable

import yaml
from flask import current_app, g, request
from pymongo.errors import PyMongoError

from policy.errors import PolicyError
from policy.source import line_of, parse_text
from records.catalog import CompileBusy, Conflict, NotFound
from records.rollouts import GateRefused

from ..api import owner
from ..rollout import rollouts
from . import bp, page, render

MAX_TEXT = 512 * 1024


def _catalog() -> Any:
    return current_app.extensions["catalog"]


def as_text(source: Any) -> str:
    """A saved cheat sheet as YAML text for the editor (text saved as text stays as it was)."""
    if isinstance(source, str):
        return source
    return yaml.safe_dump(source, sort_keys=False, allow_unicode=True, width=100) if source else ""


def field_errors(exc: PolicyError, text: str) -> list[dict[str, Any]]:
    """Each error with the line its field path is on in the text, and that line (to find it in the editor)."""
    lines = text.splitlines()
    out = []
    for e in exc.errors:
        line = line_of(text, e["path"])
        out.append({"path": e["path"], "message": e["message"], "line": line,
                    "snippet": lines[line - 1].strip()[:120] if line and line <= len(lines) else ""})
    return out


def _view(company_id: str, *, text: str | None = None, status: int = 200, **shown: Any) -> Any:
    """The editor page: the text (the latest saved version unless given), versions, rollout, and what was done."""
    catalog = _catalog()
    record = catalog.companies.get(company_id, fresh=True)
    if record is None:
        return page(404, "No such company", f"There is no company {company_id!r}.")
    latest = catalog.policies.sheet(company_id)
    try:
        rollout = rollouts().status(company_id)
    except (PyMongoError, NotFound):
        rollout = None
    return render("editor.html", company=record, tz=record["doc"].get("timezone"),
                  text=as_text(latest["source"]) if text is None and latest else (text or ""),
                  versions=catalog.policies.versions(company_id), rollout=rollout, tab="cheatsheet",
                  **shown), status


def _text() -> tuple[str, Any, list[dict[str, Any]]]:
    """The form's text, parsed (YAML or JSON), or the errors saying why not."""
    text = request.form.get("text", "")
    if len(text) > MAX_TEXT:
        return text, None, [{"path": "", "message": f"the cheat sheet is over {MAX_TEXT // 1024} KB", "line": None}]
    try:
        return text, parse_text(text, name="cheatSheet"), []
    except PolicyError as exc:
        return text, None, field_errors(exc, text)


@bp.get("/companies/<company_id>/cheatsheet")
def editor(company_id: str) -> Any:
    """The latest saved version in the editor."""
    return _view(company_id)


@bp.post("/companies/<company_id>/cheatsheet/try")
def try_draft(company_id: str) -> Any:
    """What the text would do to the last 100 calls (the gate's report); nothing is saved."""
    text, sheet, errs = _text()
    if errs:
        return _view(company_id, text=text, errors=errs, status=422)
    try:
        report = rollouts().try_draft(company_id, sheet)
    except PolicyError as exc:
        return _view(company_id, text=text, errors=field_errors(exc, text), status=422)
    return _view(company_id, text=text, report=report)


@bp.post("/companies/<company_id>/cheatsheet/save")
def save(company_id: str) -> Any:
    """Save the text as a new version and compile it (field errors beside the text when refused)."""
    text, sheet, errs = _text()
    if errs:
        return _view(company_id, text=text, errors=errs, status=422)
    policies = _catalog().policies
    try:
        version = policies.save_draft(company_id, sheet, by=g.staff.by)
        compiled = policies.compile_latest(company_id, owner=owner())
    except PolicyError as exc:
        return _view(company_id, text=text, errors=field_errors(exc, text), status=422)
    except CompileBusy as exc:
        return _view(company_id, text=text, notice=f"Saved, but not compiled: {exc}. Save again.", status=409)
    return _view(company_id, text=text, saved={"version": version, **compiled})


def _act(company_id: str, action: Callable[[], Any], done: str) -> Any:
    """A rollout action; its refusal (the gate's report, a conflict) is shown on the page."""
    try:
        result = action()
    except GateRefused as exc:
        return _view(company_id, report=exc.report, notice=f"The gate refused it: {exc.report['verdict']}",
                     status=422)
    except PolicyError as exc:
        return _view(company_id, notice="; ".join(f"{e['path']}: {e['message']}" for e in exc.errors), status=422)
    except (NotFound, Conflict) as exc:
        return _view(company_id, notice=str(exc), status=409)
    except PyMongoError as exc:
        return _view(company_id, notice=f"The store is unavailable; nothing changed ({exc.__class__.__name__}).",
                     status=503)
    return _view(company_id, done=done, result=result)


@bp.post("/companies/<company_id>/cheatsheet/deploy")
def deploy(company_id: str) -> Any:
    """Deploy a compiled version through the gate (shadow, canary, full)."""
    raw = request.form.get("version", "")
    if not raw.isdigit() or int(raw) < 1:
        return _view(company_id, notice="Choose a version to deploy.", status=422)
    return _act(company_id, lambda: rollouts().deploy(company_id, int(raw), None, by=g.staff.by,
                                                      retry=request.form.get("retry") == "yes"),
                f"Version {raw} is deploying: it passed the gate.")


@bp.post("/companies/<company_id>/rollout/<move>")
def rollout_move(company_id: str, move: str) -> Any:
    """Promote, pause, resume or roll back the rollout (or restore the previous version)."""
    by = g.staff.by
    moves = {"promote": lambda: rollouts().promote(company_id, by=by),
             "pause": lambda: rollouts().pause(company_id, by=by, paused=True),
             "resume": lambda: rollouts().pause(company_id, by=by, paused=False),
             "rollback": lambda: rollouts().rollback(company_id, by=by,
                                                     why=(request.form.get("why") or "rolled back by staff")[:500])}
    if move not in moves:
        return page(404, "No such action", "Use promote, pause, resume or rollback.")
    return _act(company_id, moves[move], {"promote": "Promoted.", "pause": "Paused.", "resume": "Resumed.",
                                          "rollback": "Rolled back."}[move])
