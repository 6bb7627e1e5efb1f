"""Compile benchmark: a cheat sheet at the documented limits compiles in under a second.

Run:  .venv/bin/python bench/compile.py

Sheets at the limits of policy/schema.py (1,000 edge cases, 200 transfer rules, 20,000
keywords, 1,000 regex patterns), with words drawn from a small or a large vocabulary, and
adversarial ones (every rule overlapping every other) that must be refused quickly by the
conflict limit. Prints seconds per compile (best of 3) and the report's size.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import policy  # noqa: E402
from policy.compiler import MAX_CONFLICTS  # noqa: E402
from policy.schema import (MAX_EDGE_CASES, MAX_KEYWORDS_PER_SHEET, MAX_PATTERNS_PER_SHEET,  # noqa: E402
                           MAX_TRANSFER_RULES)


def sheet(edge_cases: int, keywords: int, vocab: int, patterns: int, transfers: int) -> dict:
    """A sheet with the given sizes; phrases are two words drawn from ``vocab`` words."""
    rnd = random.Random(1)
    words = [f"w{i}" for i in range(vocab)]

    def phrases(n: int) -> list[str]:
        return [" ".join(rnd.sample(words, 2)) for _ in range(n)]
    edge = [{"id": f"ec-{i}", "name": f"rule {i}", "priority": 10,
             "match": {"keywordsAny": phrases(keywords),
                       **({"regexPatterns": [rf"\b(?:alpha{i}|beta)\s+w\d+\b"]} if i < patterns else {})},
             "action": {"type": "override_response", "inlineResponse": f"Answer {i}."}} for i in range(edge_cases)]
    intents = ("billing", "emergency", "scheduling", "technical", "general")
    rules = [{"id": f"tr-{i}", "intentTag": intents[i % 5], "contactNameOrQueue": "desk", "priority": 1 + i // 5,
              "script": "One moment.", "keywords": phrases(10)} for i in range(transfers)]
    return {"edgeCases": edge, "transferRules": rules,
            "allowedActions": ["TAKE_MESSAGE", *(f"TRANSFER_{i.upper()}" for i in intents)]}


def timed(doc: dict) -> tuple[float, str]:
    """Best of three compiles, and what came of it."""
    best, outcome = float("inf"), ""
    for _ in range(3):
        started = time.perf_counter()
        try:
            compiled = policy.compile_cheatsheet(doc)
            outcome = (f"compiled, {compiled.report['conflictsTotal']} conflicts, report "
                       f"{len(json.dumps(compiled.to_artifact()['report'])) // 1024} KB")
        except policy.PolicyError as exc:
            outcome = "refused: " + exc.errors[0]["message"][:70]
        best = min(best, time.perf_counter() - started)
    return best, outcome


def main() -> None:
    per_rule = (MAX_KEYWORDS_PER_SHEET - MAX_TRANSFER_RULES * 10) // MAX_EDGE_CASES
    cases = [
        ("at the limits, words from 40,000", sheet(MAX_EDGE_CASES, per_rule, 40_000, MAX_PATTERNS_PER_SHEET, 200)),
        ("at the limits, words from 2,000", sheet(MAX_EDGE_CASES, per_rule, 2_000, MAX_PATTERNS_PER_SHEET, 200)),
        ("1,000 rules all overlapping (8 words)", sheet(MAX_EDGE_CASES, 1, 8, 0, 0)),
        ("over the limit: 1,001 edge cases", sheet(MAX_EDGE_CASES + 1, 1, 40_000, 0, 0)),
    ]
    print(f"limits: {MAX_EDGE_CASES} edge cases, {MAX_TRANSFER_RULES} transfer rules, {MAX_KEYWORDS_PER_SHEET} "
          f"keywords, {MAX_PATTERNS_PER_SHEET} patterns per sheet, {MAX_CONFLICTS} conflicts")
    print(f"{'sheet':<40} {'body KB':>8} {'seconds':>8}  outcome")
    worst = 0.0
    for name, doc in cases:
        seconds, outcome = timed(doc)
        worst = max(worst, seconds)
        print(f"{name:<40} {len(json.dumps(doc)) // 1024:>8} {seconds:>8.3f}  {outcome}")
    print(f"target under 1 s at the limit: {'met' if worst < 1.0 else 'NOT met'} (worst {worst:.3f} s)")


if __name__ == "__main__":
    main()
