"""The one error definition, the judgement (sequential, 0/0 inconclusive), the plan and the arms (pure)."""

from __future__ import annotations

import math

import pytest

from policy.errors import PolicyError
from policy.judgement import (HOLD, INCONCLUSIVE, PASS, REGRESSION, Rules, Sample, arm_error, evidence,
                              fisher_greater, hung_up_on, judge, turn_error)
from policy.rollout import ADVANCE, CANARY, FULL, ROLLBACK, SHADOW, WAIT, bucket, in_canary, parse_plan, shadowed, step

TURN = {"kind": "turn", "tier": "1", "base_used": True, "perf_fault": False, "blocks": []}


@pytest.mark.parametrize("change, kind", [
    ({}, None),
    ({"engine_error": "boom"}, "engine_failure"),
    ({"tier": "fallback"}, "fallback"),
    ({"tier": "fallback", "base_used": False}, None),          # a rule took the turn: the fallback was not used
    ({"perf_fault": True}, "over_budget"),
    ({"blocks": [{"type": "ACTION_BLOCKED", "id": "TRANSFER_BILLING"}]}, "action_blocked"),
    ({"leak": ["NO_PRICES"]}, "guardrail_leak"),
    ({"late_error": "hangup_after_answer"}, "hangup_after_answer"),
    ({"late_error": "transfer_failed"}, "transfer_failed"),
    ({"late_error": "something else"}, None),
    ({"kind": "greeting", "tier": "fallback"}, None),           # only caller turns count
    ({"tier": "fallback", "perf_fault": True}, "fallback"),     # the first that holds names it
])
def test_turn_error_is_the_one_definition(change, kind):
    assert turn_error({**TURN, **change}) == kind


def test_a_shadowed_turn_counts_the_candidates_error_for_its_arm():
    record = {**TURN, "tier": "fallback", "arm": "shadow", "shadow": {"error": None}}
    assert turn_error(record) == "fallback" and arm_error(record) is None
    record["shadow"]["error"] = "guardrail_leak"
    assert arm_error(record) == "guardrail_leak"
    assert arm_error({**TURN, "arm": "canary", "perf_fault": True}) == "over_budget"


def test_hanging_up_on_an_answer_counts_hearing_it_out_does_not():
    assert hung_up_on(10, 3.0)                 # 10 words take 4 s: cut off
    assert hung_up_on(10, 5.5)                 # just after: within the grace
    assert not hung_up_on(10, 9.0)             # heard out, then hung up


def test_fisher_exact_matches_hand_computed_values():
    assert fisher_greater(2, 50, 0, 450) == pytest.approx((50 * 49) / (500 * 499))
    assert fisher_greater(1, 50, 0, 50) == pytest.approx(0.5)
    assert fisher_greater(0, 50, 3, 50) == 1.0
    assert fisher_greater(0, 0, 0, 0) == 1.0


def test_zero_over_zero_is_inconclusive_never_a_pass():
    v = judge(Sample(0, 0), Sample(400, 4))
    assert v.outcome == INCONCLUSIVE and "0/0" in v.reason
    v = judge(Sample(500, 0), Sample(4500, 0), Rules(min_samples=50))
    assert v.outcome == HOLD and v.ratio is None and v.evidence == 0.0 and "0/0" in v.reason
    assert judge(Sample(500, 0), Sample(4500, 0), Rules(min_samples=50, prove=False)).outcome == HOLD


def test_below_the_minimum_sample_it_holds_even_when_it_looks_terrible():
    v = judge(Sample(20, 15), Sample(400, 1), Rules(min_samples=50))
    assert v.outcome == HOLD and "50 needed" in v.reason


def test_a_quiet_line_with_one_error_in_50_is_not_rolled_back():
    # One error in 50 calls against a 1% line is "over 1.5x" but proves nothing.
    v = judge(Sample(50, 1), Sample(450, 4))
    assert v.outcome == HOLD and v.ratio > 1.5 and "not yet significant" in v.reason


def test_a_clear_regression_is_rolled_back_and_a_healthy_candidate_passes():
    assert judge(Sample(300, 30), Sample(2700, 27)).outcome == REGRESSION
    v = judge(Sample(300, 3), Sample(2700, 30))
    assert v.outcome == HOLD and "not ruled out yet" in v.reason     # 3 errors cannot yet rule out 3x ...
    v = judge(Sample(600, 6), Sample(5400, 60))
    assert v.outcome == PASS and "rules out a 3x regression" in v.reason   # ... twice the data can
    # Worse, but not by more than 1.5x: never rolled back however much data.
    assert judge(Sample(30000, 420), Sample(30000, 300)).outcome != REGRESSION


def test_evidence_is_zero_without_errors_and_grows_with_the_candidates_share_of_them():
    assert evidence(Sample(100, 0), Sample(900, 0), 3.0) == 0.0
    assert evidence(Sample(100, 5), Sample(900, 5), 3.0) > 0 > evidence(Sample(100, 0), Sample(900, 10), 3.0)
    assert math.isinf(judge(Sample(100, 5), Sample(900, 0), Rules(min_samples=10)).ratio)


def test_plan_defaults_follow_the_spec_and_bad_fields_are_named():
    plan = parse_plan(None)
    assert (plan.shadow.share, plan.shadow.min_duration_s, plan.canary.share, plan.canary.min_duration_s) == \
        (0.05, 300, 0.10, 600)
    assert plan.max_ratio == 1.5 and plan.first_stage() == SHADOW and plan.next_stage(SHADOW) == CANARY
    assert parse_plan({"canary": {"share": 0.2}}).canary.min_duration_s == 600  # the rest keeps its defaults
    assert parse_plan({"shadow": {"share": 0}}).first_stage() == CANARY
    assert parse_plan({"shadow": {"share": 0}, "canary": {"share": 0}}).first_stage() == FULL
    with pytest.raises(PolicyError) as exc:
        parse_plan({"canary": {"share": 2, "minSamples": 0}, "color": "red"})
    assert {e["path"] for e in exc.value.errors} == {"canary.share", "canary.minSamples", "color"}


def test_canary_calls_are_sticky_and_raising_the_share_only_adds_calls():
    sids = [f"CA{i:032x}" for i in range(4000)]
    at10 = {s for s in sids if in_canary("acme", 7, s, 0.10)}
    at25 = {s for s in sids if in_canary("acme", 7, s, 0.25)}
    assert at10 <= at25 and 300 < len(at10) < 500 and 850 < len(at25) < 1150
    assert bucket("acme", 7, sids[0]) == bucket("acme", 7, sids[0])
    assert {s for s in sids if in_canary("acme", 8, s, 0.10)} != at10      # another version, another draw
    assert not in_canary("acme", 7, "", 1.0)
    assert sum(shadowed("acme", 7, "CA1", seq, 0.05) for seq in range(4000)) in range(150, 260)


def test_a_tick_rolls_back_even_when_paused_and_advances_only_after_its_minimum_time():
    plan = parse_plan({"canary": {"share": 0.1, "minDurationS": 600, "minSamples": 50}})
    bad = (Sample(300, 30), Sample(2700, 27))
    assert step(plan, CANARY, 60, *bad, paused=True).action == ROLLBACK
    good = (Sample(600, 6), Sample(5400, 60))
    early = step(plan, CANARY, 300, *good)
    assert early.action == WAIT and "at least 600 s" in early.why
    assert step(plan, CANARY, 601, *good).action == ADVANCE
    assert step(plan, CANARY, 601, *good, paused=True).action == WAIT
