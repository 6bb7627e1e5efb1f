"""Console: a test call. Staff type what a caller says and read the agent's answers turn by turn, against the active
policy or any saved version (a draft too), with each turn's forensics. Nothing reaches the company's call log."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import current_app, request

from conversation.sandbox import MAX_TURNS, Practice, run
from policy.errors import PolicyError
from records.catalog import Conflict, NotFound

from . import bp, page, render

SID = re.compile(r"PR[0-9a-f]{32}")


def _policy(company_id: str, record: dict[str, Any], choice: str) -> tuple[Any, dict[str, Any]]:
    """The policy a test call is pinned to: ``active`` or a saved version's number (NotFound, Conflict,
    PolicyError when it cannot be had)."""
    policies = current_app.extensions["catalog"].policies
    if choice == "active":
        active = record.get("active") or {}
        if not active.get("version"):
            raise NotFound("the company has no active policy yet: choose a saved version")
        version = int(active["version"])
    elif choice.isdigit():
        version = int(choice)
    else:
        raise NotFound("choose the active policy or a saved version")
    compiled = policies.candidate(company_id, version)
    return compiled, {"version": version, "checksum": compiled.checksum, "arm": "test call"}


def _form(record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The test call so far from the form: its policy, id, start time and the caller's words."""
    settings = current_app.config["SETTINGS"]
    sid = request.form.get("sid", "")
    started = request.form.get("started", "")
    call = {"policy": request.form.get("policy", "active"),
            "sid": sid if SID.fullmatch(sid) else "PR" + secrets.token_hex(16),
            "started": float(started) if re.fullmatch(r"\d{9,11}(\.\d+)?", started) else settings.CLOCK(),
            "called": (record.get("numbers") or [""])[0]}
    words = request.form.getlist("said")[:MAX_TURNS]
    if "say" in request.form:
        words.append(request.form.get("say", ""))
    return call, words


@bp.route("/companies/<company_id>/test-call", methods=["GET", "POST"])
def test_call(company_id: str) -> Any:
    """The test call page; each POST plays the call again with one more thing said."""
    catalog = current_app.extensions["catalog"]
    record = catalog.companies.get(company_id, fresh=True)
    if record is None:
        return page(404, "No such company", f"There is no company {company_id!r}.")
    versions = catalog.policies.versions(company_id)
    if request.method == "GET":
        return render("practice.html", company=record, tz=record["doc"].get("timezone"), versions=versions,
                      call=None, choice="active", tab="test-call")
    call, words = _form(record)
    try:
        compiled, pin = _policy(company_id, record, call["policy"])
    except (NotFound, Conflict) as exc:
        return render("practice.html", company=record, tz=record["doc"].get("timezone"), versions=versions, call=None,
                      choice=call["policy"], problem=str(exc), tab="test-call"), 422
    except PolicyError as exc:
        problem = "that version does not compile: " + "; ".join(f"{e['path']}: {e['message']}" for e in exc.errors)
        return render("practice.html", company=record, tz=record["doc"].get("timezone"), versions=versions, call=None,
                      choice=call["policy"], problem=problem, tab="test-call"), 422
    result = run(catalog, current_app.extensions["conversation"].answers,
                 Practice(call["called"], compiled, pin, call["started"], words), call["sid"])
    said = words[:len(words) - len(result["unsaid"])]
    return render("practice.html", company=record, tz=record["doc"].get("timezone"), versions=versions, call=call,
                  said=said, result=result, choice=call["policy"], tab="test-call")
