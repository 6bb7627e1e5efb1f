"""What a rollout reads from the call log: each arm's figures in a stage, and a company's latest turns.

A rollout's calls carry it on their header's pin (``policy: {version, checksum, arm, rollout,
stage}``), with their error turns (``errors``, from the running figures), the errors known
after their turn (``late_errors``) and, in the shadow stage, both policies' errors on the
shadowed turns (``shadow``). The canary judges calls (the unit the canary assigns: a call
with any error turn is an error), the shadow judges shadowed turns (the unit it samples).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from policy.canned import Probe
from policy.decision import BaseResponse
from policy.gate import Replay
from policy.judgement import Sample
from policy.scenarios import CompiledTemplate

from .calllog import CALLS, TURNS

#: Windows searched, newest first, for a company's latest turns (seconds back from now; None = all).
RECENT_WINDOWS = (3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0, None)
HEADER_FIELDS = {"policy": 1, "errors": 1, "late_errors": 1, "shadow": 1, "turns": 1}


def rollout_calls(db: Any, company_id: str, rollout_id: str, stage: str, since: float) -> Iterator[Mapping[str, Any]]:
    """The headers of the calls pinned in one stage of a rollout (raises PyMongoError when the store is down)."""
    for call in db[CALLS].find({"company_id": company_id, "started_at": {"$gte": since}}, HEADER_FIELDS):
        pin = call.get("policy") or {}
        if pin.get("rollout") == rollout_id and pin.get("stage") == stage:
            yield call


def stage_figures(db: Any, company_id: str, rollout_id: str, stage: str, since: float) -> dict[str, Any]:
    """The candidate's and the active policy's figures in a stage, and each arm's detail.

    Canary: calls served the candidate against calls served the active policy (control) in the
    same window. Shadow: the shadowed turns, judged by both policies.
    """
    arms: dict[str, dict[str, int]] = {}
    shadow = {"turns": 0, "errors": 0, "active_errors": 0, "differences": 0}
    for call in rollout_calls(db, company_id, rollout_id, stage, since):
        arm = (call.get("policy") or {}).get("arm") or "control"
        slot = arms.setdefault(arm, {"calls": 0, "error_calls": 0, "error_turns": 0, "late_errors": 0})
        late = len(call.get("late_errors") or ())
        slot["calls"] += 1
        slot["error_turns"] += int(call.get("errors") or 0)
        slot["late_errors"] += late
        slot["error_calls"] += 1 if (call.get("errors") or late) else 0
        for k in shadow:
            shadow[k] += int((call.get("shadow") or {}).get(k) or 0)
    if stage == "shadow":
        candidate = Sample(shadow["turns"], shadow["errors"])
        active = Sample(shadow["turns"], shadow["active_errors"])
    else:
        cand, ctrl = arms.get("canary", {}), arms.get("control", {})
        candidate = Sample(cand.get("calls", 0), cand.get("error_calls", 0))
        active = Sample(ctrl.get("calls", 0), ctrl.get("error_calls", 0))
    return {"candidate": candidate, "active": active, "arms": arms, "shadow": shadow,
            "unit": "shadowed turns" if stage == "shadow" else "calls"}


def recent_turns(db: Any, company_id: str, now: float, limit: int = 100) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """A company's latest caller turns with words, newest first, each with its call's header:
    ``[(turn, call)]`` (calls searched in widening windows back from ``now``)."""
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for back in RECENT_WINDOWS:
        flt: dict[str, Any] = {"company_id": company_id}
        if back is not None:
            flt["started_at"] = {"$gte": now - back}
        calls = db[CALLS].find(flt, {"caller_type": 1, "spam_flags": 1, "started_at": 1}, sort=[("started_at", -1)])
        out = []
        for call in calls:
            turns = db[TURNS].find({"call_sid": call["_id"]}, sort=[("seq", -1)])
            out.extend((t, call) for t in turns if t.get("kind") == "turn" and (t.get("caller") or {}).get("text"))
            if len(out) >= limit:
                return sorted(out, key=lambda tc: -(tc[0].get("at") or 0))[:limit]
    return sorted(out, key=lambda tc: -(tc[0].get("at") or 0))[:limit]


def replays(db: Any, company_id: str, template: CompiledTemplate, now: float, limit: int = 100) -> list[Replay]:
    """The company's latest real turns as the gate replays them: the caller's words, the base answer the
    scenarios give them (Tier 1/2 again, as on the call; a Tier 3 answer as recorded), the turn's time and
    the caller's type and spam flags."""
    out = []
    for turn, call in recent_turns(db, company_id, now, limit):
        text = turn["caller"]["text"]
        if turn.get("tier") == "3" and turn.get("base"):
            base = BaseResponse(turn["base"], None, "tier3")
        else:
            answer = template.answer(text, call_sid=turn["call_sid"], seq=turn["seq"])
            base = BaseResponse(answer.text, answer.action, f"scenario:{answer.scenario or 'fallback'}")
        probe = Probe(text, base, datetime.fromtimestamp(turn.get("at") or now, tz=timezone.utc),
                      caller_type=call.get("caller_type"), spam_flags=tuple(call.get("spam_flags") or ()))
        out.append(Replay(f"{turn['call_sid']}:{turn['seq']}", probe))
    return out


__all__ = ["stage_figures", "rollout_calls", "recent_turns", "replays"]
