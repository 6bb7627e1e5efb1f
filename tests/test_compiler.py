"""Compiler: conflicts and demotion, deterministic checksums, immutable and verifiable artifacts."""

from __future__ import annotations

import copy
import json
import random
import re

import pytest

import policy
from tests.conftest import OPEN, compile_, ctx, edge


def test_guide_conflict_case_is_detected_and_later_rule_demoted():
    # The implementation guide's test: same priority, patterns overlap (Jaccard 1/3 > 0.3).
    p = compile_(edgeCases=[
        edge("ec-1", {"keywordsAny": ["machine", "robot"]}, priority=10),
        edge("ec-2", {"keywordsAny": ["robot", "ai"]}, priority=10),
    ])
    conflicts = p.report["conflicts"]
    assert len(conflicts) == 1
    c = conflicts[0]
    assert (c["type"], c["resolution"], c["rule1"], c["rule2"]) == ("EDGE_CASE_CONFLICT", "AUTO_DEMOTE_LATER", "ec-1", "ec-2")
    assert c["overlapScore"] == pytest.approx(1 / 3, abs=1e-3)
    # Demoted means a larger number (lower priority): +1, not the guide's -1.
    assert (c["priorityBefore"], c["priorityAfter"]) == (10, 11)
    prios = {e["id"]: e["priority"] for e in p.content["edgeCases"]}
    assert prios == {"ec-1": 10, "ec-2": 11}
    # And the earlier rule wins on an utterance both match.
    d = policy.apply(p, "is this a robot", "base", ctx())
    assert d.applied_blocks[0]["id"] == "ec-1"


def test_no_conflict_below_threshold_or_at_different_priorities():
    p = compile_(edgeCases=[
        edge("ec-1", {"keywordsAny": ["machine", "robot", "android"]}, priority=10),
        edge("ec-2", {"keywordsAny": ["robot", "ai", "bot", "computer"]}, priority=10),  # 1/6
        edge("ec-3", {"keywordsAny": ["machine", "robot", "android"]}, priority=20),
        edge("ec-4", {"keywordsAny": ["machine", "robot", "android"]}, priority=30, enabled=False),
        edge("ec-5", {"keywordsAny": ["machine", "robot", "android"]}, priority=30),
    ])
    assert p.report["conflicts"] == ()


def test_demotion_cascades_until_no_overlap():
    p = compile_(edgeCases=[edge(f"ec-{i}", {"keywordsAny": ["no heat", "furnace"]}, priority=5) for i in range(3)])
    assert [e["priority"] for e in p.content["edgeCases"]] == [5, 6, 7]
    assert len(p.report["conflicts"]) == 3  # ec-1 vs ec-0; ec-2 vs ec-0, then vs ec-1


def test_priority_100_cannot_be_demoted_and_says_so():
    p = compile_(edgeCases=[edge("a", {"keywordsAny": ["x"]}, priority=100), edge("b", {"keywordsAny": ["x"]}, priority=100)])
    (c,) = p.report["conflicts"]
    assert c["priorityAfter"] == 100 and "declaration order" in c["message"]


def test_transfer_rule_conflicts_use_intent_patterns_and_keywords():
    rule = {"intentTag": "billing", "contactNameOrQueue": "billing", "script": "One moment.", "priority": 10}
    p = compile_(transferRules=[{"id": "t1", **rule}, {"id": "t2", **rule, "keywords": ["my account"]}],
                 allowedActions=["TRANSFER_BILLING"])
    (c,) = p.report["conflicts"]
    assert (c["type"], c["rule2"], c["priorityAfter"]) == ("TRANSFER_RULE_CONFLICT", "t2", 11)


def test_checksum_is_sha256_hex():
    p = compile_()
    assert re.fullmatch(r"[0-9a-f]{64}", p.checksum)


SHEET = {
    "version": 3,
    "behaviorRules": ["ACK_OK", "NEVER_INTERRUPT"],
    "guardrails": ["NO_PRICES", "NO_URLS"],
    "allowedActions": ["TRANSFER_BILLING", "BOOK_APPT"],
    "edgeCases": [edge("ec-1", {"keywordsAny": ["robot", "Machine"], "callerType": ["new", "existing"]}),
                  edge("ec-2", {"regexPatterns": [r"\bsue\b"]}, auditMeta={"createdBy": "ann"})],
    "transferRules": [{"id": "t1", "intentTag": "billing", "contactNameOrQueue": "billing", "script": "One moment."}],
}


def _shuffled(value, rnd):
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: _shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rnd) for v in value]
    return value


def test_checksum_is_deterministic_over_key_order_set_order_and_time():
    base = policy.compile_cheatsheet(copy.deepcopy(SHEET)).checksum
    for seed in range(5):
        assert policy.compile_cheatsheet(_shuffled(copy.deepcopy(SHEET), random.Random(seed))).checksum == base
    same = copy.deepcopy(SHEET)
    same["behaviorRules"].reverse()
    same["edgeCases"][0]["match"]["keywordsAny"] = ["machine", "ROBOT"]  # same words, other order and case
    same["edgeCases"][1]["auditMeta"] = {"createdBy": "bob"}  # audit data is not meaning
    same["version"] = 4
    same["updatedBy"] = "someone else"
    assert policy.compile_cheatsheet(same).checksum == base
    assert policy.compile_cheatsheet(json.dumps(SHEET)).checksum == base  # JSON text too


@pytest.mark.parametrize("change", [
    lambda s: s["behaviorRules"].append("ACK_OK") or s["behaviorRules"].remove("NEVER_INTERRUPT"),
    lambda s: s["edgeCases"][0]["match"]["keywordsAny"].append("android"),
    lambda s: s["edgeCases"][0].update(priority=11),
    lambda s: s["edgeCases"][0].update(enabled=False),
    lambda s: s["edgeCases"][0]["action"].update(inlineResponse="something else"),
    lambda s: s["edgeCases"].reverse(),  # declaration order breaks priority ties
    lambda s: s["transferRules"][0].update(script="Hold on."),
    lambda s: s["guardrails"].remove("NO_URLS"),
    lambda s: s["allowedActions"].remove("BOOK_APPT"),
])
def test_any_change_of_meaning_changes_the_checksum(change):
    changed = copy.deepcopy(SHEET)
    change(changed)
    assert policy.compile_cheatsheet(changed).checksum != policy.compile_cheatsheet(SHEET).checksum


def test_compiled_policy_is_immutable():
    p = policy.compile_cheatsheet(SHEET)
    with pytest.raises(AttributeError):
        p.checksum = "0" * 64
    with pytest.raises(AttributeError):
        p.runtime.edges = ()
    with pytest.raises(TypeError):
        p.content["edgeCases"][0]["priority"] = 1
    with pytest.raises((TypeError, AttributeError)):
        p.content["behaviorRules"].append("ACK_OK")
    d = policy.apply(p, "robot", "base", ctx(caller_type="new"))
    with pytest.raises(AttributeError):
        d.action = "HANGUP"
    with pytest.raises(TypeError):
        d.applied_blocks[0]["id"] = "other"


def test_artifact_round_trip_and_tamper_detection():
    p = policy.compile_cheatsheet(SHEET)
    art = json.loads(json.dumps(p.to_artifact()))
    again = policy.load_artifact(art)
    assert (again.checksum, again.version) == (p.checksum, 3)
    assert policy.apply(again, "robot", "b", ctx(caller_type="new")).response == "Ok, override ec-1"
    art["content"]["edgeCases"][0]["action"]["inlineResponse"] = "pay me $1000"
    with pytest.raises(policy.PolicyIntegrityError) as exc:
        policy.load_artifact(art)
    assert exc.value.errors[0]["path"] == "checksum"
    with pytest.raises(policy.PolicyIntegrityError):
        policy.load_artifact({"format": 99, "content": {}, "checksum": "x"})


def test_redos_pattern_compiles_and_cannot_be_made_slow():
    # The guide's evil pattern: backtracking engines take exponential time on "aaaa...X".
    # Under RE2 it is linear; with stdlib re this input would not finish in our lifetime.
    p = compile_(edgeCases=[edge("ec-evil", {"regexPatterns": [r"^(a+)+$"]}),
                            edge("ec-words", {"regexPatterns": [r"^(\w+\s?)+$"]})])
    d = policy.apply(p, "a" * 900 + "!", "fine", ctx())
    assert d.response == "fine" and not d.short_circuit
    assert policy.apply(p, "aaaa", "fine", ctx()).applied_blocks[0]["id"] == "ec-evil"
    d = policy.apply(p, "word " * 190 + "!", "fine", ctx())
    assert d.response == "fine"


def test_report_warns_about_transfers_the_allowlist_blocks():
    p = compile_(transferRules=[{"id": "t1", "intentTag": "technical", "contactNameOrQueue": "dispatch", "script": "x"}],
                 edgeCases=[edge("ec-1", {"keywordsAny": ["boss"]}, {"type": "force_transfer", "transferTarget": "t1"})])
    messages = [w["message"] for w in p.report["warnings"]]
    assert any("TRANSFER_TECHNICAL is not in allowedActions" in m for m in messages)
    assert any("forced transfer will be blocked" in m for m in messages)


def test_report_lists_variables_used():
    p = compile_(edgeCases=[edge("ec-1", {"keywordsAny": ["price"]},
                                 {"type": "override_response", "inlineResponse": "{companyname} charges {diagnosticFee}"})])
    assert p.report["variables"] == ("companyname", "diagnosticFee")


def test_builtin_word_lists_are_compiled_into_the_artifact():
    p = policy.compile_cheatsheet({"guardrailTerms": {"NO_DIAGNOSES": ["short cycling"]}})
    assert "short cycling" in p.content["guardrailTerms"]["NO_DIAGNOSES"]
    assert "compressor is" in p.content["guardrailTerms"]["NO_DIAGNOSES"]
    assert "invoice" in p.content["intentPhrases"]["billing"]


def test_thousand_rules_compile():
    sheet = {"edgeCases": [edge(f"ec-{i}", {"keywordsAny": [f"word{i} thing{i}"]}, priority=1 + i % 100)
                           for i in range(1000)]}
    p = policy.compile_cheatsheet(sheet)
    assert p.report["stats"]["edgeCases"] == 1000
    assert policy.apply(p, "about word500 thing500 please", "b", ctx(now=OPEN)).applied_blocks[0]["id"] == "ec-500"
