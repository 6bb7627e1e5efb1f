"""A rollout's plan and its moves (pure): stages, shares, who is in which arm, and what a tick does.

Stages run shadow -> canary -> full. Shadow evaluates the candidate beside the active policy
on a share of turns (the caller hears the active one); canary serves the candidate to a share
of calls; full makes it the active policy. Arms are chosen by a hash of (company, version,
CallSid) for calls and (company, version, CallSid, turn) for shadowed turns, so a call keeps
its arm, and raising the canary share only adds calls. ``step`` is what one tick decides from
the stage's figures; the controller (records) and the simulator (bench) both call it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import PolicyError
from .judgement import PASS, REGRESSION, Rules, Sample, Verdict, judge
from .schema import field_errors

SHADOW, CANARY, FULL = "shadow", "canary", "full"
STAGES = (SHADOW, CANARY)
#: Arms a turn can be in: the candidate beside the active policy, the candidate served, the active
#: policy during a rollout, the active policy with no rollout running.
ARMS = ("shadow", "canary", "control", "full")


class Stage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    share: float = Field(ge=0.0, le=1.0)
    minDurationS: int = Field(ge=0, le=7 * 86400)
    minSamples: int = Field(ge=1, le=1_000_000)


#: SPEC section 11: shadow 5% of turns for 5 min, canary 10% of calls for 10 min.
DEFAULTS = {SHADOW: {"share": 0.05, "minDurationS": 300, "minSamples": 30},
            CANARY: {"share": 0.10, "minDurationS": 600, "minSamples": 50}}


class _PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shadow: Stage = Field(default_factory=lambda: Stage(**DEFAULTS[SHADOW]))
    canary: Stage = Field(default_factory=lambda: Stage(**DEFAULTS[CANARY]))
    maxRatio: float = Field(default=1.5, ge=1.0, le=20.0)
    alpha: float = Field(default=0.0001, gt=0.0, le=0.1)
    detectRatio: float = Field(default=3.0, gt=1.0, le=50.0)
    beta: float = Field(default=0.05, gt=0.0, le=0.5)


@dataclass(frozen=True)
class StagePlan:
    """One stage: the share of turns (shadow) or calls (canary), and what it must see before it ends."""

    share: float
    min_duration_s: int
    min_samples: int


@dataclass(frozen=True)
class Plan:
    """How one deploy rolls out (SPEC section 11 defaults: shadow 5% of turns for 5 min, canary 10% of
    calls for 10 min; roll back above 1.5x the active error rate when significant; pass a stage once
    a 3x regression is ruled out)."""

    shadow: StagePlan
    canary: StagePlan
    max_ratio: float
    alpha: float
    detect_ratio: float
    beta: float

    def stage(self, name: str) -> StagePlan:
        """The plan of a stage by name."""
        return self.shadow if name == SHADOW else self.canary

    def rules(self, name: str) -> Rules:
        """The judgement's rules in a stage."""
        return Rules(min_samples=self.stage(name).min_samples, max_ratio=self.max_ratio, alpha=self.alpha,
                     detect_ratio=self.detect_ratio, beta=self.beta, prove=name == CANARY)

    def first_stage(self) -> str:
        """The first stage with a share (a stage with share 0 is skipped); ``full`` when none has one."""
        return next((s for s in STAGES if self.stage(s).share > 0), FULL)

    def next_stage(self, name: str) -> str:
        """The stage after ``name`` (skipping stages with share 0)."""
        later = STAGES[STAGES.index(name) + 1:] if name in STAGES else ()
        return next((s for s in later if self.stage(s).share > 0), FULL)

    def to_dict(self) -> dict[str, Any]:
        """The plan as the admin API shows and takes it."""
        def stage(s: StagePlan) -> dict[str, Any]:
            return {"share": s.share, "minDurationS": s.min_duration_s, "minSamples": s.min_samples}
        return {"shadow": stage(self.shadow), "canary": stage(self.canary), "maxRatio": self.max_ratio,
                "alpha": self.alpha, "detectRatio": self.detect_ratio, "beta": self.beta}


def parse_plan(data: Mapping[str, Any] | None) -> Plan:
    """A deploy's plan from the admin's JSON (missing parts take the defaults); PolicyError names bad fields."""
    merged = dict(data or {})
    for name in STAGES:  # a stage given in part keeps the defaults of the rest
        if isinstance(merged.get(name), Mapping):
            merged[name] = {**DEFAULTS[name], **merged[name]}
    try:
        given = _PlanIn.model_validate(merged)
    except ValidationError as exc:
        raise PolicyError(field_errors(exc)) from None

    def stage(s: Stage) -> StagePlan:
        return StagePlan(share=s.share, min_duration_s=s.minDurationS, min_samples=s.minSamples)
    return Plan(shadow=stage(given.shadow), canary=stage(given.canary), max_ratio=given.maxRatio, alpha=given.alpha,
                detect_ratio=given.detectRatio, beta=given.beta)


# -- arms -------------------------------------------------------------------------------------

def bucket(company_id: str, version: int, key: str) -> float:
    """A stable number in [0, 1) for (company, version, key): the same call always lands in the same place."""
    digest = hashlib.sha256(f"{company_id}:{version}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def in_canary(company_id: str, version: int, call_sid: str, share: float) -> bool:
    """Whether a new call is served the candidate (raising ``share`` only adds calls)."""
    return bool(call_sid) and bucket(company_id, version, call_sid) < share


def shadowed(company_id: str, version: int, call_sid: str, seq: int, share: float) -> bool:
    """Whether a turn is evaluated by the candidate beside the active policy."""
    return bucket(company_id, version, f"{call_sid}:{seq}") < share


# -- one tick ---------------------------------------------------------------------------------

ROLLBACK, ADVANCE, WAIT = "rollback", "advance", "hold"


@dataclass(frozen=True)
class Step:
    """What a tick does in a stage: roll back, advance to the next stage, or hold; and why."""

    action: str
    why: str
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"action": self.action, "why": self.why, "verdict": self.verdict.to_dict()}


def step(plan: Plan, stage: str, elapsed_s: float, candidate: Sample, active: Sample, *,
         paused: bool = False) -> Step:
    """Decide one tick of a running stage from its figures (a regression rolls back even when paused)."""
    verdict = judge(candidate, active, plan.rules(stage))
    if verdict.outcome == REGRESSION:
        return Step(ROLLBACK, verdict.reason, verdict)
    if paused:
        return Step(WAIT, f"paused by staff ({verdict.reason})", verdict)
    need = plan.stage(stage).min_duration_s
    if elapsed_s < need:
        return Step(WAIT, f"{stage} runs at least {need} s ({int(elapsed_s)} s so far); {verdict.reason}", verdict)
    if verdict.outcome == PASS:
        return Step(ADVANCE, verdict.reason, verdict)
    return Step(WAIT, verdict.reason, verdict)


__all__ = ["Plan", "StagePlan", "parse_plan", "bucket", "in_canary", "shadowed", "step", "Step", "Sample",
           "SHADOW", "CANARY", "FULL", "STAGES", "ARMS", "ROLLBACK", "ADVANCE", "WAIT"]
