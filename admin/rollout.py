"""Admin API: rollouts of cheat-sheet versions (deploy through the gate, status, promote, pause, resume,
rollback, history) and the gate on a draft before it is saved ("what would this do to my last 100 calls")."""

from __future__ import annotations

from typing import Any, Callable

from flask import Response, current_app, jsonify, request
from pymongo.errors import PyMongoError

from policy.errors import PolicyError
from records.catalog import Conflict, NotFound
from records.rollouts import GateRefused, Rollouts

from .api import body, bp, errors, int_arg, policy_errors


def rollouts() -> Rollouts:
    """This app's rollouts (built in create_app)."""
    return current_app.extensions["rollouts"]


def _run(action: Callable[[], Any], status: int = 200, *, raise_policy: bool = False) -> Response:
    """Call a rollout action and map its failures to JSON errors (never a 500); ``raise_policy``: a PolicyError
    goes to the caller (which names its fields in its own way)."""
    try:
        result = action()
    except PolicyError as exc:
        if raise_policy:
            raise
        return policy_errors(422, exc)
    except GateRefused as exc:
        resp = jsonify(errors=[{"path": "version", "message": exc.report["verdict"]}], gate=exc.report)
        resp.status_code = 422
        return resp
    except NotFound as exc:
        return errors(404, ("", str(exc)))
    except Conflict as exc:
        return errors(409, ("", str(exc)))
    except PyMongoError as exc:
        return errors(503, ("", f"the document store is unavailable, nothing was changed: {exc.__class__.__name__}"))
    resp = jsonify(result)
    resp.status_code = status
    return resp


def _fields(data: dict[str, Any], allowed: set[str]) -> list[tuple[str, str]]:
    return [(k, "unknown field (check the spelling)") for k in sorted(set(data) - allowed)]


def _by(data: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    by = data.get("by", "admin")
    if not isinstance(by, str) or not 0 < len(by.strip()) <= 80:
        return "admin", [("by", "must be a name of 1 to 80 characters")]
    return by.strip(), []


def _version(data: dict[str, Any]) -> tuple[int, list[tuple[str, str]]]:
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return 0, [("version", "must be a cheat-sheet version number (1, 2, ...)")]
    return version, []


def _staff_action(checks: dict[str, Callable[[Any], str | None]], act: Callable[[dict[str, Any], str], Any]
                  ) -> Response:
    """A staff action with an optional JSON body: ``by`` and each field in ``checks`` validated (a check returns
    the reason a value is refused), then ``act(body, by)``."""
    data = body() if request.get_data() else {}
    if isinstance(data, Response):
        return data
    by, bad = _by(data)
    bad += _fields(data, {"by", *checks})
    bad += [(name, why) for name, check in checks.items() if name in data for why in [check(data[name])] if why]
    if bad:
        return errors(422, *bad)
    return _run(lambda: act(data, by))


def _share(value: Any) -> str | None:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value <= 1
    return None if ok else "must be a number above 0 and at most 1"


def _why(value: Any) -> str | None:
    return None if isinstance(value, str) and 0 < len(value.strip()) <= 500 else "must be a reason of 1 to 500 characters"


@bp.post("/companies/<company_id>/rollout")
def deploy(company_id: str) -> Response:
    """Deploy a compiled version through the gate: ``{"version": N, "plan": {...}, "retry": false, "by": ""}``
    (201 with the status; 422 with the gate's report when it refuses; 409 while a rollout runs)."""
    data = body()
    if isinstance(data, Response):
        return data
    version, bad = _version(data)
    by, bad_by = _by(data)
    bad += bad_by + _fields(data, {"version", "plan", "retry", "by"})
    if not isinstance(data.get("retry", False), bool):
        bad.append(("retry", "must be true or false"))
    plan = data.get("plan")
    if plan is not None and not isinstance(plan, dict):
        bad.append(("plan", "must be an object: {shadow: {share, minDurationS, minSamples}, canary: {...}}"))
    if bad:
        return errors(422, *bad)

    def go() -> Any:
        try:
            return rollouts().deploy(company_id, version, plan, by=by, retry=data.get("retry", False))
        except PolicyError as exc:  # the plan's fields, under "plan"
            raise PolicyError([{"path": f"plan.{e['path']}" if e["path"] else "plan", "message": e["message"]}
                               for e in exc.errors]) from None
    return _run(go, 201)


@bp.get("/companies/<company_id>/rollout")
def status(company_id: str) -> Response:
    """The rollout's stage, shares, samples and error rates per arm, the verdict and why (judged now)."""
    return _run(lambda: rollouts().status(company_id))


@bp.post("/companies/<company_id>/rollout/promote")
def promote(company_id: str) -> Response:
    """Move the rollout to its next stage now, or raise the canary's share: ``{"share": 0.25}``."""
    return _staff_action({"share": _share}, lambda d, by: rollouts().promote(
        company_id, by=by, share=float(d["share"]) if "share" in d else None))


@bp.post("/companies/<company_id>/rollout/pause")
def pause(company_id: str) -> Response:
    """Hold the rollout in its stage (a regression still rolls it back)."""
    return _staff_action({}, lambda d, by: rollouts().pause(company_id, by=by, paused=True))


@bp.post("/companies/<company_id>/rollout/resume")
def resume(company_id: str) -> Response:
    """Let a paused rollout advance again."""
    return _staff_action({}, lambda d, by: rollouts().pause(company_id, by=by, paused=False))


@bp.post("/companies/<company_id>/rollout/rollback")
def rollback(company_id: str) -> Response:
    """Roll back: a running rollout stops; otherwise the previous version (kept 24 h) comes back. ``{"why": ""}``"""
    return _staff_action({"why": _why}, lambda d, by: rollouts().rollback(
        company_id, by=by, why=d.get("why", "rolled back by staff").strip()))


@bp.get("/companies/<company_id>/rollout/history")
def history(company_id: str) -> Response:
    """The company's rollouts, newest first: plan, gate verdict, every move with who and why. ``?limit=20``"""
    limit = int_arg("limit", 20, 1, 200)
    if isinstance(limit, Response):
        return limit
    return _run(lambda: {"rollouts": rollouts().list_history(company_id, limit)})


@bp.post("/companies/<company_id>/rollout/try")
def try_(company_id: str) -> Response:
    """The gate on a draft before it is saved (``{"cheatSheet": {...}}``) or on a saved version
    (``{"version": N}``): every case, every difference from the active policy on the last 100 calls,
    coverage, and whether it could deploy. Nothing is saved or deployed."""
    data = body()
    if isinstance(data, Response):
        return data
    bad = _fields(data, {"cheatSheet", "version"})
    if ("cheatSheet" in data) == ("version" in data):
        bad.append(("", "give either cheatSheet (a draft) or version (a saved version)"))
    if bad:
        return errors(422, *bad)
    if "version" in data:
        version, bad = _version(data)
        if bad:
            return errors(422, *bad)
        return _run(lambda: rollouts().try_version(company_id, version))
    try:
        return _run(lambda: rollouts().try_draft(company_id, data["cheatSheet"]), raise_policy=True)
    except PolicyError as exc:
        return errors(422, *((f"cheatSheet.{e['path']}" if e["path"] else "cheatSheet", e["message"])
                             for e in exc.errors))
