"""The console's pure parts: figures from turn records, chart geometry, where a field path is written in the text."""

from __future__ import annotations

import pytest

from admin.console.charts import lines, nice_max, stacked_bars
from admin.console.figures import hourly, latency, percentile, tier_shares
from policy.source import line_of

SHEET = """guardrails: [NO_PRICES]
edgeCases:
  - id: a
    match:
      regexPatterns:
        - "(abc"
"""


@pytest.mark.parametrize("values,q,expected", [([], 50, None), ([5.0], 99, 5.0), ([1, 2, 3, 4], 50, 2),
                                               (list(range(1, 101)), 95, 95), (list(range(1, 101)), 99, 99)])
def test_percentile_nearest_rank(values, q, expected):
    assert percentile(values, q) == expected


def test_hourly_buckets_tiers_and_latency():
    end = 10 * 3600 + 1800.0
    turns = [{"at": end - 10, "kind": "turn", "tier": "1", "ms": 2.0},
             {"at": end - 20, "kind": "turn", "tier": None, "ms": 4.0},      # a rule took it
             {"at": end - 3600, "kind": "greeting", "tier": None, "ms": 8.0},  # latency only
             {"at": end - 30 * 3600, "kind": "turn", "tier": "3", "ms": 1.0}]  # outside the window
    hours = hourly(turns, end=end, hours=24)
    assert len(hours) == 24 and hours[-1]["start"] == 10 * 3600
    assert hours[-1]["tiers"]["1"] == 1 and hours[-1]["tiers"]["rule"] == 1 and hours[-1]["p99"] == 4.0
    assert hours[-2]["turns"] == 0 and hours[-2]["p50"] == 8.0 and hours[0]["p50"] is None
    assert latency(turns) == {"n": 4, "p50": 2.0, "p95": 8.0, "p99": 8.0}


def test_tier_shares_in_tier_order():
    got = tier_shares({"fallback": {"turns": 1, "cost": 0.0}, "1": {"turns": 3, "cost": 0.0}})
    assert [t["tier"] for t in got] == ["1", "fallback"] and got[0]["share"] == 0.75


def test_charts_geometry():
    assert [nice_max(v) for v in (0, 0.3, 7, 10, 11, 480)] == [1.0, 0.5, 10.0, 10.0, 20.0, 500.0]
    bars = stacked_bars([{"a": 2, "b": 3}, {"a": 0, "b": 0}], ["a", "b"], label=str)
    assert [b["key"] for b in bars["bars"]] == ["a", "b"] and bars["bars"][1]["y"] < bars["bars"][0]["y"]
    assert round(bars["bars"][0]["h"] + bars["bars"][1]["h"], 1) == round(bars["plot_h"] * 5 / 5, 1)
    chart = lines([{"p50": 1.0}, {"p50": None}, {"p50": 2.0}], ["p50"], label=str)
    assert len(chart["series"][0]["runs"]) == 2 and len(chart["series"][0]["dots"]) == 2  # a gap breaks the line


@pytest.mark.parametrize("path,line", [("edgeCases[0].match.regexPatterns[0]", 6), ("guardrails[0]", 1),
                                       ("edgeCases[0].id", 3), ("edgeCases[7].match", 3), ("", None),
                                       ("nothing.here", None)])
def test_line_of_a_field_path(path, line):
    assert line_of(SHEET, path) == line


def test_line_of_json_and_broken_text():
    assert line_of('{\n  "a": {\n    "b": [1, 2]\n  }\n}', "a.b[1]") == 3
    assert line_of("a: [\n", "a") is None
