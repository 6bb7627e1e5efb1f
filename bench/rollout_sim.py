"""Rollout simulator: synthetic traffic through the REAL judgement (``policy.rollout.step``).

Run:  .venv/bin/python bench/rollout_sim.py [--runs 1000] [--seed 7] [--per-stage 50]

Each run deploys a candidate with the default plan (SPEC section 11: shadow 5% of turns for
5 min, canary 10% of calls for 10 min, roll back above 1.5x and significant) and plays
traffic at it: samples arrive as a Poisson stream, ``--per-stage`` of them reach the
candidate arm during each stage's minimum duration (shadowed turns in shadow, calls in
canary) and the active arm gets what the share implies (the same turns in shadow; 9 calls
for every canary call at 10%). A call's error is known when it ends (1 to 5 minutes after it
starts), a shadowed turn's at once. Every 15 s a tick calls ``policy.rollout.step`` with the
stage's figures, exactly as the controller does, until the run is rolled back, reaches full,
or ``--horizon`` hours pass. Printed: how often a healthy candidate is rolled back, how often
a 3x regression is rolled back before it reaches full, and the median time to a verdict.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policy.judgement import Sample  # noqa: E402
from policy.rollout import ADVANCE, CANARY, FULL, ROLLBACK, SHADOW, Plan, parse_plan, step  # noqa: E402

TICK_S = 15.0


class Arms:
    """Arms fed by one Poisson stream of samples, generated as time goes on; each sample errs with its
    arm's probability, and the error becomes known ``delay`` seconds after the sample arrived."""

    def __init__(self, rng: random.Random, rate_per_s: float, p_errors: tuple[float, ...],
                 delay: tuple[float, float]) -> None:
        self.rng, self.rate, self.p, self.delay = rng, rate_per_s, p_errors, delay
        self.next_t = rng.expovariate(rate_per_s)
        self.samples = [0 for _ in p_errors]
        self.pending: list[list[float]] = [[] for _ in p_errors]  # times errors become known (a heap)
        self.errors = [0 for _ in p_errors]

    def at(self, t: float) -> list[Sample]:
        """Every arm's figures as a tick at ``t`` sees them."""
        while self.next_t <= t:
            for i, p in enumerate(self.p):
                self.samples[i] += 1
                if self.rng.random() < p:
                    heapq.heappush(self.pending[i], self.next_t + self.rng.uniform(*self.delay))
            self.next_t += self.rng.expovariate(self.rate)
        for i, heap in enumerate(self.pending):
            while heap and heap[0] <= t:
                heapq.heappop(heap)
                self.errors[i] += 1
        return [Sample(n, e) for n, e in zip(self.samples, self.errors)]


def run_stage(plan: Plan, stage: str, rng: random.Random, per_stage: float, p_active: float, p_candidate: float,
              horizon_s: float) -> tuple[str, float]:
    """Play one stage until it rolls back or advances (or the horizon): (action, seconds)."""
    sp = plan.stage(stage)
    rate = per_stage / max(sp.min_duration_s, 1)
    if stage == SHADOW:  # the same turns judged by both policies (errors independent: no credit for pairing)
        both = Arms(rng, rate, (p_candidate, p_active), (0.0, 0.0))
        figures = both.at
    else:  # calls: the control arm gets (1 - share) / share as many; errors known when the call ends
        cand = Arms(rng, rate, (p_candidate,), (60.0, 300.0))
        act = Arms(rng, rate * (1 - sp.share) / sp.share, (p_active,), (60.0, 300.0))
        figures = lambda t: cand.at(t) + act.at(t)  # noqa: E731
    t = TICK_S
    while t < horizon_s:
        c, a = figures(t)
        decided = step(plan, stage, t, c, a)
        if decided.action in (ROLLBACK, ADVANCE):
            return decided.action, t
        t += TICK_S
    return "undecided", horizon_s


def run(plan: Plan, rng: random.Random, per_stage: float, p_active: float, p_candidate: float,
        horizon_s: float) -> tuple[str, str, float]:
    """One deploy through every stage: (outcome, stage where it ended, seconds to the verdict)."""
    stage, spent = plan.first_stage(), 0.0
    while stage != FULL:
        action, seconds = run_stage(plan, stage, rng, per_stage, p_active, p_candidate, horizon_s - spent)
        spent += seconds
        if action != ADVANCE:
            return ("rolled back" if action == ROLLBACK else "undecided"), stage, spent
        stage = plan.next_stage(stage)
    return "full", FULL, spent


def scenario(name: str, plan: Plan, runs: int, seed: int, per_stage: float, p_active: float, p_candidate: float,
             horizon_h: float) -> dict[str, object]:
    """Many runs of one scenario; prints and returns the figures."""
    rng = random.Random(seed)
    outcomes: dict[str, int] = {}
    where: dict[str, int] = {}
    times = []
    for _ in range(runs):
        outcome, stage, seconds = run(plan, rng, per_stage, p_active, p_candidate, horizon_h * 3600)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome == "rolled back":
            where[stage] = where.get(stage, 0) + 1
        if outcome != "undecided":
            times.append(seconds / 60)
    med = f"{statistics.median(times):.1f} min" if times else "none"
    print(f"{name:<58} {outcomes.get('rolled back', 0):>6} {outcomes.get('full', 0):>6} "
          f"{outcomes.get('undecided', 0):>6}   {med:>10}   {where or ''}")
    return {"outcomes": outcomes, "where": where, "median_min": statistics.median(times) if times else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-stage", type=float, default=50, help="candidate samples per stage's minimum duration")
    ap.add_argument("--horizon", type=float, default=24.0, help="hours before a run counts as undecided")
    ap.add_argument("--plan", default="{}", help="the deploy's plan as JSON (as the admin API takes it)")
    args = ap.parse_args()
    plan = parse_plan(json.loads(args.plan))
    print(f"default plan: {plan.to_dict()}")
    print(f"{args.runs} runs per row; samples reach the candidate arm at {args.per_stage:g} per stage's minimum "
          f"duration, the active arm in proportion; ticks every {TICK_S:g} s; horizon {args.horizon:g} h")
    print(f"{'scenario':<58} {'rolled':>6} {'full':>6} {'undec.':>6}   {'median to':>10}   rolled back in")
    print(f"{'':<58} {'back':>6} {'':>6} {'':>6}   {'a verdict':>10}")
    healthy = scenario(f"healthy, quiet line: 1% errors, {args.per_stage:g} per stage", plan, args.runs, args.seed,
                       args.per_stage, 0.01, 0.01, args.horizon)
    regress = scenario(f"3x regression, quiet line: 1% -> 3%, {args.per_stage:g} per stage", plan, args.runs,
                       args.seed + 1, args.per_stage, 0.01, 0.03, args.horizon)
    rows = [("3x regression: 2% -> 6%", 0.02, 0.06, args.per_stage), ("3x regression: 5% -> 15%", 0.05, 0.15,
            args.per_stage), ("healthy: 5% errors", 0.05, 0.05, args.per_stage),
            ("healthy, busy line: 1% errors, 500 per stage", 0.01, 0.01, 500),
            ("3x regression, busy line: 1% -> 3%, 500 per stage", 0.01, 0.03, 500)]
    for i, (label, pa, pc, per) in enumerate(rows):
        scenario(label, plan, args.runs, args.seed + 2 + i, per, pa, pc, args.horizon)
    fp = healthy["outcomes"].get("rolled back", 0)
    caught = regress["outcomes"].get("rolled back", 0) / args.runs
    print(f"healthy candidate rolled back: {fp} of {args.runs} (target 0): {'met' if fp == 0 else 'NOT met'}")
    print(f"3x regression rolled back before full: {caught:.1%} (target >= 95%): "
          f"{'met' if caught >= 0.95 else 'NOT met'}")
    in_canary = regress["where"].get("canary", 0)
    reached = args.runs - regress["where"].get("shadow", 0)
    print(f"  of the regressions the shadow let through, rolled back within the canary: {in_canary}/{reached} "
          f"({in_canary / max(1, reached):.1%})")
    print(f"median time to a verdict: healthy {healthy['median_min']:.1f} min, "
          f"regression {regress['median_min']:.1f} min" if healthy["median_min"] and regress["median_min"] else "")


if __name__ == "__main__":
    main()
