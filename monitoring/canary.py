"""CANARY_REGRESSION's rule: the rollout judgement itself over the turn windows all workers share."""

from __future__ import annotations

from typing import Any, Mapping

from policy.judgement import REGRESSION, Rules, Sample, judge

#: The alert's own sample floor (turns of all companies; each rollout is judged on its own calls).
CANARY_RULES = Rules(min_samples=100)


def canary_regression(c: Mapping[str, float]) -> tuple[bool, dict[str, Any]]:
    """CANARY_REGRESSION: an automatic rollback in the window, or the canary arm's turns against the active
    policy's (control and full arms) judged a regression by the rollout judgement itself."""
    cn, ce = int(c.get("arm|canary|turns", 0)), int(c.get("arm|canary|errors", 0))
    an = int(c.get("arm|full|turns", 0) + c.get("arm|control|turns", 0))
    ae = int(c.get("arm|full|errors", 0) + c.get("arm|control|errors", 0))
    verdict = judge(Sample(cn, ce), Sample(an, ae), CANARY_RULES)
    rollbacks = int(c.get("canary_rollbacks", 0))
    figures = {"canary_turns": cn, "canary_error_rate": round(ce / cn, 4) if cn else None, "active_turns": an,
               "active_error_rate": round(ae / an, 4) if an else None, "p_value": round(verdict.p_value, 5),
               "evidence": round(verdict.evidence, 3), "min_sample_per_arm": CANARY_RULES.min_samples,
               "held": min(cn, an) < CANARY_RULES.min_samples, "rollbacks": rollbacks, "reason": verdict.reason}
    return verdict.outcome == REGRESSION or rollbacks > 0, figures


__all__ = ["canary_regression", "CANARY_RULES"]
