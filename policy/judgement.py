"""What counts as an error, and the verdict on a candidate policy against the active one (pure).

One definition of an error serves the rollout judgement, the Prometheus metrics and the
CANARY_REGRESSION alert: ``turn_error`` over a turn-shaped mapping (a turn record of the
call log, or the summary of a shadowed candidate's decision). A turn is an error, for the
arm that decided it, when the first of these holds:

| kind | the turn ... |
|---|---|
| ``engine_failure`` | made the policy raise (a shadowed candidate that failed) |
| ``fallback`` | was answered by the fallback route: nothing in the policy or the scenarios took it (the safe take-a-message line), or the webhook failed and the caller got the app's fallback |
| ``over_budget`` | took the engine longer than its budget (10 ms) |
| ``action_blocked`` | proposed an action the allowlist refused |
| ``guardrail_leak`` | spoke a text that breaks a guardrail the active or the candidate policy has |
| ``hangup_after_answer`` | was answered, and the caller hung up on the answer: while it was spoken, or within ``HANGUP_GRACE_S`` of its end (the agent listening) |
| ``transfer_failed`` | started a transfer that did not connect (busy, no answer, failed, canceled, queue left) |

The last two are known only after the turn (the status callback, the dial result) and are
added to the turn's record then (``late_error``).

``judge`` compares a candidate's errors with the active policy's over the same window and
says ``regression`` (roll back), ``pass`` (may advance), ``hold`` or ``inconclusive``
(neither). No I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

ENGINE_FAILURE, FALLBACK, OVER_BUDGET, ACTION_BLOCKED = "engine_failure", "fallback", "over_budget", "action_blocked"
GUARDRAIL_LEAK, HANGUP_AFTER_ANSWER, TRANSFER_FAILED = "guardrail_leak", "hangup_after_answer", "transfer_failed"
ERROR_KINDS = (ENGINE_FAILURE, FALLBACK, OVER_BUDGET, ACTION_BLOCKED, GUARDRAIL_LEAK, HANGUP_AFTER_ANSWER,
               TRANSFER_FAILED)
#: Errors known only after the turn was recorded.
LATE_ERRORS = (HANGUP_AFTER_ANSWER, TRANSFER_FAILED, FALLBACK)
#: A caller who hangs up on an answer (before it could be heard out, or this soon after) counts it against
#: that answer; one who hears it out and then hangs up is not counted (a satisfied caller often does).
HANGUP_GRACE_S = 2.0
#: How fast an answer is spoken, to know when it ends.
WORDS_PER_S = 2.5


def hung_up_on(words: int, seconds_after: float) -> bool:
    """Whether a hang-up ``seconds_after`` an answer of ``words`` words was sent came before the caller could
    hear it out (or at once after)."""
    return seconds_after <= words / WORDS_PER_S + HANGUP_GRACE_S
#: Above this many errors in both arms together the normal approximation replaces the exact sum.
EXACT_LIMIT = 20_000


def turn_error(turn: Mapping[str, Any]) -> str | None:
    """Why a caller turn counts as an error for the arm that decided it, or None (the one definition)."""
    if turn.get("kind") != "turn":
        return None
    if turn.get("engine_error"):
        return ENGINE_FAILURE
    if turn.get("tier") == "fallback" and turn.get("base_used", True):
        return FALLBACK
    if turn.get("perf_fault"):
        return OVER_BUDGET
    if any(b.get("type") == "ACTION_BLOCKED" for b in turn.get("blocks") or ()):
        return ACTION_BLOCKED
    if turn.get("leak"):
        return GUARDRAIL_LEAK
    late = turn.get("late_error")
    return late if late in LATE_ERRORS else None


def arm_error(record: Mapping[str, Any]) -> str | None:
    """The error a turn record counts against its arm: on a shadowed turn, the candidate's (the
    caller heard the active policy); otherwise the decision the caller heard."""
    if record.get("arm") == "shadow" and isinstance(record.get("shadow"), Mapping):
        return record["shadow"].get("error")
    return turn_error(record)


# -- statistics -------------------------------------------------------------------------------

def _lcomb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def two_proportion_p(e1: float, n1: float, e2: float, n2: float) -> float:
    """One-sided p-value that rate 1 exceeds rate 2 (pooled two-proportion z-test; large samples)."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    p = (e1 + e2) / (n1 + n2)
    if p in (0.0, 1.0):
        return 1.0
    z = (e1 / n1 - e2 / n2) / math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    return 0.5 * math.erfc(z / math.sqrt(2))


def fisher_greater(e1: int, n1: int, e2: int, n2: int) -> float:
    """One-sided Fisher exact p-value that rate 1 (e1 of n1) exceeds rate 2 (e2 of n2).

    Exact for the small counts a quiet line gives (where the z-test is far off); beyond
    ``EXACT_LIMIT`` errors the z-test is accurate and cheaper.
    """
    if n1 <= 0 or n2 <= 0:
        return 1.0
    total, errors = n1 + n2, e1 + e2
    if errors == 0 or errors == total:
        return 1.0
    if errors > EXACT_LIMIT:
        return two_proportion_p(e1, n1, e2, n2)
    lo, hi = max(0, n1 - (total - errors)), min(errors, n1)
    if e1 <= lo:
        return 1.0
    base = _lcomb(total, n1)
    p = sum(math.exp(_lcomb(errors, x) + _lcomb(total - errors, n1 - x) - base) for x in range(e1, hi + 1))
    return min(1.0, p)


# -- the verdict ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    """One arm's figures over a window: how many samples (turns or calls) and how many were errors."""

    samples: int
    errors: int

    @property
    def rate(self) -> float | None:
        """The error rate; None for no samples (0/0 is no rate at all, not 0%)."""
        return self.errors / self.samples if self.samples else None


@dataclass(frozen=True)
class Rules:
    """When a candidate is held, passed or rolled back."""

    min_samples: int = 50       # per arm, below which the stage holds
    max_ratio: float = 1.5      # roll back only when the candidate's rate is more than this times the active's ...
    alpha: float = 0.0001       # ... and the evidence is significant: the chance of rolling back an equal candidate
    detect_ratio: float = 3.0   # pass only once a regression this large is ruled out ...
    beta: float = 0.05          # ... leaving at most this chance of passing one
    prove: bool = True          # False: pass once the candidate is not observed worse (callers unaffected: shadow)


INCONCLUSIVE, HOLD, PASS, REGRESSION = "inconclusive", "hold", "pass", "regression"


@dataclass(frozen=True)
class Verdict:
    """The judgement on a candidate, with the figures and the reason in words."""

    outcome: str                # inconclusive | hold | pass | regression
    reason: str
    candidate: Sample
    active: Sample
    ratio: float | None         # candidate rate / active rate (None when neither has errors or no samples)
    evidence: float             # log-likelihood ratio: "detect_ratio times worse" against "as good"

    @property
    def p_value(self) -> float:
        """One-sided Fisher exact p of the candidate being worse (for reference: the stage looks again and
        again, which a fixed-sample p-value does not allow for; the verdict rests on ``evidence``)."""
        c, a = self.candidate, self.active
        return fisher_greater(c.errors, c.samples, a.errors, a.samples)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (an infinite ratio is written "inf")."""
        ratio = None if self.ratio is None else ("inf" if math.isinf(self.ratio) else round(self.ratio, 3))
        return {"outcome": self.outcome, "reason": self.reason, "ratio": ratio, "evidence": round(self.evidence, 3),
                "p_value": round(self.p_value, 6), "candidate": _arm(self.candidate), "active": _arm(self.active)}


def _arm(s: Sample) -> dict[str, Any]:
    return {"samples": s.samples, "errors": s.errors, "error_rate": None if s.rate is None else round(s.rate, 5)}


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.2f}%"


def evidence(candidate: Sample, active: Sample, ratio: float) -> float:
    """Log-likelihood ratio of "the candidate errs ``ratio`` times as often" against "as often".

    Given the errors seen, each fell in the candidate's arm with probability
    ``r n_c / (r n_c + n_a)``; only how the errors split between the arms carries evidence, so
    no errors at all (0 and 0) is exactly 0: no evidence either way.
    """
    nc, na = candidate.samples, active.samples
    if nc <= 0 or na <= 0:
        return 0.0
    t0, t1 = nc / (nc + na), ratio * nc / (ratio * nc + na)
    return candidate.errors * math.log(t1 / t0) + active.errors * math.log((1 - t1) / (1 - t0))


def judge(candidate: Sample, active: Sample, rules: Rules = Rules()) -> Verdict:
    """Candidate against active over the same window.

    The stage is watched continuously, so the test is sequential (Wald's SPRT of "as good"
    against "``detect_ratio`` times worse"), whose error rates hold however often it looks:

    - no samples in an arm: ``inconclusive`` (0/0 is never a pass);
    - fewer than ``min_samples`` in an arm: ``hold`` (neither promote nor roll back);
    - error rate above ``max_ratio`` times the active one and significant evidence of a
      regression (the chance of this with a candidate as good as the active one is at most
      ``alpha``): ``regression``;
    - no errors in either arm: ``hold`` (0/0 tells nothing);
    - a ``detect_ratio`` regression ruled out (at most ``beta`` chance it is one): ``pass``; with
      ``prove`` off (the shadow stage, where callers hear the active policy), not observed worse
      than ``max_ratio`` is enough;
    - otherwise ``hold``: not enough evidence either way.
    """
    ratio = _ratio(candidate, active)
    llr = evidence(candidate, active, rules.detect_ratio)
    if candidate.samples == 0 or active.samples == 0:
        empty = [n for n, s in (("candidate", candidate), ("active", active)) if s.samples == 0]
        arms = " and ".join(empty) + (" arms" if len(empty) == 2 else " arm")
        return Verdict(INCONCLUSIVE, f"no samples yet in the {arms}: 0/0 is inconclusive, never a pass",
                       candidate, active, None, 0.0)
    if min(candidate.samples, active.samples) < rules.min_samples:
        return Verdict(HOLD, f"holding: {candidate.samples} candidate and {active.samples} active samples, "
                             f"{rules.min_samples} needed in each arm before any verdict",
                       candidate, active, ratio, llr)
    figures = (f"candidate {_pct(candidate.rate)} ({candidate.errors}/{candidate.samples}) vs active "
               f"{_pct(active.rate)} ({active.errors}/{active.samples})")
    upper, lower = math.log((1 - rules.beta) / rules.alpha), math.log(rules.beta / (1 - rules.alpha))
    worse = ratio is not None and ratio > rules.max_ratio
    if worse and llr >= upper:
        return Verdict(REGRESSION, f"regression: {figures} is worse by more than {rules.max_ratio}x, and "
                                   f"significant (evidence {llr:.1f} >= {upper:.1f}, at most a {rules.alpha:g} "
                                   f"chance for a candidate as good as the active one)", candidate, active, ratio, llr)
    if candidate.errors + active.errors == 0:
        return Verdict(HOLD, f"holding: {figures}: no errors in either arm yet, so nothing tells them apart "
                             f"(0/0 is inconclusive, never a pass)", candidate, active, ratio, llr)
    if rules.prove and llr <= lower:
        return Verdict(PASS, f"pass: {figures} rules out a {rules.detect_ratio:g}x regression (evidence {llr:.1f} "
                             f"<= {lower:.1f})", candidate, active, ratio, llr)
    if not rules.prove and not worse:
        return Verdict(PASS, f"pass: {figures}, not worse by more than {rules.max_ratio}x", candidate, active,
                       ratio, llr)
    if worse:
        why = f"worse by more than {rules.max_ratio}x but not yet significant (evidence {llr:.1f} of {upper:.1f})"
    else:
        why = f"a {rules.detect_ratio:g}x regression is not ruled out yet (evidence {llr:.1f}, {lower:.1f} needed)"
    return Verdict(HOLD, f"holding: {figures}: {why}", candidate, active, ratio, llr)


def _ratio(candidate: Sample, active: Sample) -> float | None:
    rc, ra = candidate.rate, active.rate
    if rc is None or ra is None or (rc == 0 and ra == 0):
        return None
    return math.inf if ra == 0 else rc / ra


__all__ = ["ERROR_KINDS", "LATE_ERRORS", "HANGUP_GRACE_S", "hung_up_on", "turn_error", "arm_error", "fisher_greater",
           "two_proportion_p", "evidence", "Sample", "Rules", "Verdict", "judge", "INCONCLUSIVE", "HOLD", "PASS",
           "REGRESSION", "ENGINE_FAILURE", "FALLBACK", "OVER_BUDGET", "ACTION_BLOCKED", "GUARDRAIL_LEAK",
           "HANGUP_AFTER_ANSWER", "TRANSFER_FAILED"]
