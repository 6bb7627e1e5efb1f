"""A rollout's part of a turn: the candidate shadowed beside the active policy, leaks on canary turns,
and errors known only after their turn (a hang-up right after an answer, a failed transfer, the
webhook's fallback).

Everything here runs after the caller's decision is made and never raises into the turn: a
candidate that fails is recorded as its error (``engine_failure``), and the caller hears the
active policy's answer all the same. A shadowed turn costs one more engine run (no Tier 3 call:
the candidate reuses the turn's base answer, or Tiers 1-2 when the active policy's rules had
taken the turn).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping

import policy
from infra.observe import Observer
from policy.company import CompanyProfile
from policy.compiler import CompiledPolicy
from policy.decision import BaseResponse, Decision, TurnContext
from policy.frozen import thaw
from policy.guardrails import Guardrails, combined, covers
from policy.judgement import ENGINE_FAILURE, FALLBACK, HANGUP_AFTER_ANSWER, TRANSFER_FAILED, hung_up_on, turn_error
from policy.rollout import SHADOW, shadowed
from records.calllog import CallLog, TurnFacts
from records.catalog import Catalog

from .scope import Scope

log = logging.getLogger(__name__)


def _blocks(d: Decision) -> list[str]:
    return [f"{b['type']}:{b['id']}" if b["id"] else b["type"] for b in d.applied_blocks]


class RolloutTurns:
    """Shadow runs, leak checks and late errors for the conversation."""

    def __init__(self, catalog: Catalog, call_log: CallLog, observer: Observer, *,
                 poke: Callable[[str], None] = lambda company_id: None,
                 clock: Callable[[], float] = time.time) -> None:
        self.policies = catalog.policies
        self.call_log = call_log
        self.observer = observer
        self.poke = poke
        self.clock = clock
        self._checkers: dict[tuple[str, str], Guardrails | None] = {}

    def started(self, record: Mapping[str, Any]) -> None:
        """A new call: a running rollout gets a lazy tick (in the background)."""
        if record.get("rollout"):
            self.poke(record["_id"])

    def _checker(self, speaker: CompiledPolicy, other: CompiledPolicy) -> Guardrails | None:
        """The guardrails of both, when ``speaker``'s own do not already cover ``other``'s (else None)."""
        key = (speaker.checksum, other.checksum)
        if key not in self._checkers:
            self._checkers[key] = None if covers(speaker.content, other.content) else combined(
                speaker.content, other.content)
        return self._checkers[key]

    def leaks(self, speaker: CompiledPolicy, other: CompiledPolicy | None, text: str,
              profile: CompanyProfile) -> list[str]:
        """The guardrails of either policy that a text ``speaker`` decided breaks (a guardrail leak)."""
        checker = self._checker(speaker, other) if other is not None else None
        return list(checker.leaks(text, profile)) if checker is not None else []

    # -- during the turn

    def canary_leak(self, scope: Scope, decision: Decision, facts: TurnFacts) -> None:
        """A canary turn's text checked against the active policy's guardrails too."""
        if (scope.session.get("policy") or {}).get("arm") != "canary":
            return
        try:
            active = scope.record.get("active") or {}
            other = self.policies.load(scope.company_id, active["version"], active["checksum"]) if active else None
            leaked = self.leaks(scope.policy, other, decision.response, scope.profile)
            if leaked:
                facts.extra["leak"] = leaked
        except Exception as exc:  # noqa: BLE001 - a check must never break the turn
            log.error("call %s: canary leak check failed: %s", scope.session.get("call_sid"), exc)

    def shadow(self, scope: Scope, speech: str, seq: int, ctx: TurnContext, served: Decision,
               answer: Any, base: Callable[[], Any], facts: TurnFacts) -> None:
        """On a shadowed turn, decide it again with the candidate; the turn record gets arm ``shadow`` and the
        candidate's decision, its error and whether it differs from what the caller heard."""
        pin, live = scope.session.get("policy") or {}, scope.record.get("rollout")
        if not live or live["stage"] != SHADOW or pin.get("rollout") != live["id"] or pin.get("arm") != "control":
            return
        if not shadowed(scope.company_id, live["version"], scope.session["call_sid"], seq, live["share"]):
            return
        facts.extra["arm"] = "shadow"
        try:
            facts.extra["shadow"] = self._candidate(scope, live, speech, ctx, served, answer, base)
        except Exception as exc:  # noqa: BLE001 - the candidate failed: its error, the caller hears the active one
            log.warning("call %s turn %d: shadowed candidate v%s failed: %s", scope.session.get("call_sid"), seq,
                        live["version"], exc)
            facts.extra["shadow"] = {"version": live["version"], "error": ENGINE_FAILURE, "why": str(exc)[:200]}

    def _candidate(self, scope: Scope, live: Mapping[str, Any], speech: str, ctx: TurnContext, served: Decision,
                   answer: Any, base: Callable[[], Any]) -> dict[str, Any]:
        cand = self.policies.load(scope.company_id, live["version"], live["checksum"])
        if cand is None:
            raise LookupError(f"candidate version {live['version']} cannot be loaded")
        routing = policy.route(cand, speech, ctx)
        got = answer if answer is not None or routing.decided else base()
        reply = (BaseResponse(got.text, got.action, "tier3" if got.tier == "3" else f"scenario:{got.scenario or 'fallback'}")
                 if got is not None else None)
        d = policy.finish(cand, routing, reply, ctx)
        shape = {"kind": "turn", "tier": got.tier if got is not None else None, "base_used": d.base_used,
                 "perf_fault": d.perf_fault, "blocks": thaw(d.applied_blocks),
                 "leak": self.leaks(cand, scope.policy, d.response, scope.profile)}
        differs = (d.action, d.response, _blocks(d)) != (served.action, served.response, _blocks(served))
        return {"version": live["version"], "action": d.action, "final": d.response, "blocks": _blocks(d),
                "leak": shape["leak"], "error": turn_error(shape), "differs": differs, "ms": round(d.elapsed_ms, 3)}

    def remember(self, session: dict[str, Any], record: Mapping[str, Any], listening: bool) -> None:
        """Keep the last answer on the session: when, how many words, whether it was an error already."""
        session["answered"] = {"seq": record["seq"], "kind": record["kind"], "at": record["at"],
                               "words": len((record.get("final") or "").split()), "error": turn_error(record),
                               "listening": listening}

    # -- after the turn

    def _late(self, session: Mapping[str, Any], seq: int | None, kind: str, *, turn: bool = False) -> None:
        arm = (session.get("policy") or {}).get("arm", "full")
        try:
            self.call_log.late_error(session["call_sid"], seq, kind)
            self.observer.arm_error(arm, kind, turn=turn)
        except Exception as exc:  # noqa: BLE001 - a late error's record must never break the call's events
            log.error("call %s: %s after turn %s not recorded: %s", session.get("call_sid"), kind, seq, exc)

    def transfer_failed(self, session: dict[str, Any], dial_seq: int) -> None:
        """The transfer a caller turn started did not connect: an error of that turn."""
        last = session.get("answered") or {}
        if last.get("kind") == "turn" and last.get("seq") == dial_seq - 1 and not last.get("error"):
            self._late(session, last["seq"], TRANSFER_FAILED)
            last["error"] = TRANSFER_FAILED

    def hung_up(self, session: Mapping[str, Any] | None, status: str) -> None:
        """The call ended while the agent listened, right after answering a caller turn: that answer's error."""
        last = (session or {}).get("answered") or {}
        if (session is None or status != "completed" or session.get("state") != "active" or not last.get("listening")
                or last.get("kind") != "turn" or last.get("seq") != session.get("seq") or last.get("error")):
            return
        if hung_up_on(int(last.get("words") or 0), self.clock() - float(last.get("at") or 0.0)):
            self._late(session, last["seq"], HANGUP_AFTER_ANSWER)

    def fell_back(self, session: Mapping[str, Any] | None) -> None:
        """The webhook failed and the caller got the app's fallback: an error of the call's arm."""
        if session is not None and session.get("policy"):
            self._late(session, None, FALLBACK, turn=True)


__all__ = ["RolloutTurns"]
