"""The deploy gate (pure): 25 canned cases, the sheet's tests, replayed turns, differences, coverage, verdict."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest
import yaml

import policy
from policy.canned import Probe
from policy.decision import BaseResponse
from policy.gate import Replay, run_gate
from tests.conftest import ROOT

DEMO = yaml.safe_load((ROOT / "examples" / "companies" / "demo-hvac.yaml").read_text())
SHEET = DEMO.pop("cheatSheet")
NOON = datetime(2026, 1, 6, 18, 0, tzinfo=timezone.utc)  # Tuesday noon in Chicago: open


def compiled(**change):
    sheet = copy.deepcopy(SHEET)
    sheet.update(change)
    return policy.compile_cheatsheet(sheet)


def replay(i: int, words: str, base: str = "How can I help you today?", action: str | None = None) -> Replay:
    return Replay(f"CA{i:032x}:1", Probe(words, BaseResponse(base, action), NOON, caller_type="new"))


@pytest.fixture(scope="module")
def active():
    return compiled()


def test_the_same_sheet_passes_with_25_canned_cases_and_no_differences(active):
    report = run_gate(active, active, DEMO, [replay(i, "what are your hours") for i in range(5)])
    canned = [c for c in report["cases"] if c["source"] == "canned"]
    assert len(canned) == 25 and len({c["id"] for c in canned}) == 25
    assert {c["group"] for c in canned} == {"guardrail", "allowlist", "transfer", "edge_case", "behavior", "budget"}
    assert report["deployable"] and report["pass_rate"] == 1.0 and report["differences"] == []
    assert report["counts"]["test"] == {"passed": 13, "failed": 0, "n/a": 0}
    assert report["counts"]["replay"]["passed"] == 5
    na = {c["id"]: c["why"] for c in canned if c["status"] == "n/a"}
    assert na == {"allowlist:disallowed": "the sheet allows every action",
                  "behavior:NEVER_INTERRUPT": "the candidate does not use NEVER_INTERRUPT"}


def test_a_candidate_that_leaks_a_price_is_refused_with_the_difference_shown(active):
    leaky = compiled(guardrails=[g for g in SHEET["guardrails"] if g != "NO_PRICES"])
    report = run_gate(leaky, active, DEMO)
    assert not report["deployable"]
    assert "guardrail:NO_PRICES" in report["critical_failures"]
    case = next(c for c in report["cases"] if c["id"] == "guardrail:NO_PRICES")
    assert case["status"] == "failed" and "$4,737" in case["candidate"]["text"]
    assert "$4,737" not in case["active"]["text"]
    diff = next(d for d in report["differences"] if d["case"] == "guardrail:NO_PRICES")
    assert diff["text"]["candidate"].endswith("$4,737 installed.")
    assert "critical case(s) failed" in report["verdict"]


def test_a_replayed_turn_fails_on_a_new_blocked_action_but_not_on_one_both_block(active):
    narrow = compiled(allowedActions=[a for a in SHEET["allowedActions"] if a != "TRANSFER_BILLING"])
    turns = [replay(1, "I have a question about my invoice"),
             replay(2, "hello", base="Sure, I'll email that.", action="SEND_EMAIL")]
    report = run_gate(narrow, active, DEMO, turns)
    by_id = {c["id"]: c for c in report["cases"]}
    billing = by_id[f"replay:CA{1:032x}:1"]
    assert billing["status"] == "failed" and billing["failures"] == ["TRANSFER_BILLING is now blocked by the allowlist"]
    assert billing["active"]["action"] == "TRANSFER" and billing["candidate"]["action"] == "RESPOND"
    assert by_id[f"replay:CA{2:032x}:1"]["status"] == "passed"       # blocked by both: the allowlist working
    assert any(d["case"] == billing["id"] and d["action"] == {"active": "TRANSFER", "candidate": "RESPOND"}
               for d in report["differences"])


def test_below_95_percent_the_deploy_is_refused(active):
    narrow = compiled(allowedActions=[a for a in SHEET["allowedActions"] if a != "TRANSFER_BILLING"])
    report = run_gate(narrow, active, DEMO, [replay(i, "I have a question about my bill") for i in range(30)])
    assert not report["deployable"] and report["pass_rate"] < 0.95 and report["critical_failures"] == []
    assert "< 95%" in report["verdict"]


def test_a_failing_critical_golden_test_refuses_whatever_the_rate(active):
    tests = copy.deepcopy(SHEET["tests"])
    tests[0]["critical"] = True
    tests[0]["expect"]["responseContains"] = ["something it never says"]
    report = run_gate(compiled(tests=tests), active, DEMO, [replay(i, "what are your hours") for i in range(60)])
    assert report["pass_rate"] >= 0.95 and not report["deployable"] and report["critical_failures"] == ["test:0"]


def test_an_emergency_the_active_policy_transferred_must_still_be_transferred(active):
    rules = [r for r in SHEET["transferRules"] if r["id"] != "tr-emergency"]
    edges = [e for e in SHEET["edgeCases"] if e.get("id") != "ec-gas-smell"]
    tests = [t for t in SHEET["tests"] if "gas" not in t["utterance"] and "no heat" not in t["utterance"]]
    report = run_gate(compiled(transferRules=rules, edgeCases=edges, tests=tests), active, DEMO)
    assert "transfer:emergency" in report["critical_failures"]


def test_coverage_names_shadowed_and_unreachable_rules(active):
    edges = copy.deepcopy(SHEET["edgeCases"]) + [
        {"id": "ec-robot-late", "name": "Robot again", "priority": 90,
         "match": {"keywordsAny": ["are you a robot"]},
         "action": {"type": "override_response", "inlineResponse": "Never said."}},
        {"id": "ec-regex-only", "name": "Regex only", "priority": 95,
         "match": {"regexPatterns": [r"\bzq\d{4}\b"]},
         "action": {"type": "override_response", "inlineResponse": "Never said either."}}]
    report = run_gate(compiled(edgeCases=edges), active, DEMO)
    why = {n["id"]: n["why"] for n in report["coverage"]["not_reached"]}
    assert why["ec-robot-late"] == "shadowed: ec-machine takes its own words first"
    assert why["ec-regex-only"].startswith("no case or real turn reached it, and its words cannot be made up")
    assert "ec-machine" in report["coverage"]["exercised"]
    assert set(report["coverage"]["guardrails_fired"]) == set(SHEET["guardrails"])


def test_a_first_policy_is_gated_without_an_active_one(active):
    report = run_gate(active, None, DEMO, [replay(1, "what are your hours")])
    assert report["deployable"] and report["active"] is None and report["differences"] == []
