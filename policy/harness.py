"""Golden tests: run a cheat sheet's own ``tests[]`` through the engine (pure, deterministic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from .canned import Probe
from .company import CompanyProfile
from .compiler import CompiledPolicy
from .decision import BaseResponse, Decision, TurnContext
from .engine import apply

#: Golden tests without ``now`` run at this local time (a Monday mid-morning), so results never
#: depend on when the harness runs.
DEFAULT_LOCAL_NOW = datetime(2026, 1, 5, 10, 0)
DEFAULT_BASE = "How can I help you today?"


def golden_probe(test: Mapping[str, Any], profile: CompanyProfile) -> Probe:
    """The turn a golden test describes."""
    ctx_in = test.get("context") or {}
    now = datetime.fromisoformat(ctx_in["now"]) if ctx_in.get("now") else DEFAULT_LOCAL_NOW.replace(tzinfo=profile.tz)
    if now.tzinfo is None:
        now = now.replace(tzinfo=profile.tz)
    return Probe(test["utterance"], BaseResponse(ctx_in.get("baseResponse") or DEFAULT_BASE, action=ctx_in.get("baseAction")),
                 now, caller_type=ctx_in.get("callerType"), spam_flags=tuple(ctx_in.get("spamFlags") or ()),
                 first_turn=bool(ctx_in.get("isFirstTurn")), collected=ctx_in.get("collectedEntities") or {})


def context(probe: Probe, profile: CompanyProfile) -> TurnContext:
    """The engine's context for a probe."""
    return TurnContext(company=profile, now=probe.now, caller_type=probe.caller_type, spam_flags=probe.spam_flags,
                       is_first_turn=probe.first_turn, collected_entities=probe.collected)


def golden_failures(test: Mapping[str, Any], decision: Decision) -> list[str]:
    """Why a decision does not meet a golden test's expectations (empty: it passes)."""
    expect = test["expect"]
    failures = []
    if expect.get("action") and decision.action != expect["action"]:
        failures.append(f"action is {decision.action}, expected {expect['action']}")
    wanted = expect.get("responseContains") or []
    for piece in [wanted] if isinstance(wanted, str) else wanted:
        if piece.lower() not in decision.response.lower():
            failures.append(f"response {decision.response!r} does not contain {piece!r}")
    have = {b["type"] for b in decision.applied_blocks} | {b["id"] for b in decision.applied_blocks}
    for block in expect.get("blocks") or []:
        if block not in have:
            failures.append(f"block {block!r} not applied (applied: {sorted(have - {''})})")
    return failures


def run_golden(policy: CompiledPolicy, company: Mapping[str, Any] | CompanyProfile | None) -> list[dict[str, Any]]:
    """Run every golden test; each result says passed or why not, with the decision."""
    profile = CompanyProfile.from_dict(company)
    results = []
    for i, test in enumerate(policy.content["tests"]):
        probe = golden_probe(test, profile)
        decision = apply(policy, probe.utterance, probe.base, context(probe, profile))
        failures = golden_failures(test, decision)
        results.append({"index": i, "name": test.get("name") or test["utterance"][:60], "passed": not failures,
                        "failures": failures, "decision": decision})
    return results
