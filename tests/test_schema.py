"""Schema validation: every field, enums, bounds, defaults, legacy shape, errors by field path."""

from __future__ import annotations

import pytest

import policy
from policy.source import parse_text
from tests.conftest import edge


def errors_of(sheet) -> list[dict[str, str]]:
    with pytest.raises(policy.PolicyError) as exc:
        policy.compile_cheatsheet(sheet)
    return exc.value.errors


def paths(sheet) -> dict[str, str]:
    return {e["path"]: e["message"] for e in errors_of(sheet)}


def test_defaults_fill_every_optional_field():
    sheet = policy.validate({"edgeCases": [edge("ec-1", {"keywordsAny": ["robot"]})]})
    ec = sheet.edgeCases[0]
    assert (ec.enabled, ec.priority, ec.description) == (True, 10, "")
    assert ec.sideEffects.logSeverity == "info" and ec.sideEffects.autoBlacklist is False
    assert sheet.guardrails == list(policy.schema.GUARDRAILS)  # all on unless said otherwise
    assert sheet.behaviorRules == [] and sheet.allowedActions == [] and sheet.version == 1


def test_unknown_field_is_an_error_not_dropped():
    errs = paths({"edgeCases": [edge("ec-1", {"keywordsAnny": ["robot"]})]})
    assert errs["edgeCases[0].match.keywordsAnny"] == "unknown field (check the spelling) (in edge case 'ec-1')"
    assert "unknown field" in paths({"behaviourRules": []})["behaviourRules"]


def test_every_error_is_listed_with_its_path():
    errs = paths({
        "behaviorRules": ["ACK_OK", "SHOUT"],
        "guardrails": ["NO_PRICES", "NO_SWEARING"],
        "allowedActions": ["LAUNCH_ROCKET"],
        "edgeCases": [
            edge("ec-1", {"keywordsAny": ["x"]}, priority=0),
            edge("ec-2", {"keywordsAny": ["x"]}, {"type": "teleport"}),
            edge("ec-3", {"regexPatterns": ["(abc"]}),
            edge("bad id!", {"keywordsAny": ["x"]}),
        ],
        "transferRules": [{"id": "tr-1", "intentTag": "sales", "contactNameOrQueue": "x", "script": "y" * 301,
                           "collectEntities": [{"name": "n", "type": "SHOE", "maxRetries": 9}]}],
    })
    assert "behaviorRules[1]" in errs and "guardrails[1]" in errs and "allowedActions[0]" in errs
    assert "greater than or equal to 1" in errs["edgeCases[0].priority"]
    assert "override_response" in errs["edgeCases[1].action.type"]
    assert errs["edgeCases[2].match.regexPatterns[0]"] == "missing ): (abc (in edge case 'ec-3')"
    assert "edgeCases[3].id" in errs
    assert "transferRules[0].intentTag" in errs
    assert "at most 300" in errs["transferRules[0].script"]
    assert "transferRules[0].collectEntities[0].type" in errs
    assert "transferRules[0].collectEntities[0].maxRetries" in errs


@pytest.mark.parametrize("pattern, needle", [
    (r"(a)\1", "backreferences are not supported"),
    (r"(?=x)abc", "lookahead is not supported"),
    (r"(?<!x)abc", "lookbehind is not supported"),
    (r"[z-a]", "invalid character class range"),
    (r"a{1001}", "invalid repetition size"),
    (r".*", "matches any input"),
    ("/abc/x", "unsupported regex flag"),
    ("a" * 301, "at most 300"),
])
def test_patterns_re2_cannot_take_are_refused_with_rule_and_field(pattern, needle):
    errs = paths({"edgeCases": [edge("ec-ok", {"keywordsAny": ["fine"]}), edge("ec-bad", {"regexPatterns": [pattern]})]})
    assert needle in errs["edgeCases[1].match.regexPatterns[0]"]


def test_slashed_regex_form_is_accepted():
    p = policy.compile_cheatsheet({"edgeCases": [edge("ec-1", {"regexPatterns": [r"/\b(attorney|lawyer)\b/i"]})]})
    assert p.runtime.patterns.sources == [r"/\b(attorney|lawyer)\b/i"]
    assert p.runtime.patterns.search(0, "I'll call my ATTORNEY") and not p.runtime.patterns.search(0, "attorneys")


def test_caps_on_patterns_and_keywords_per_rule():
    errs = paths({"edgeCases": [edge("ec-1", {"regexPatterns": [f"word{i}" for i in range(21)],
                                              "keywordsAny": ["k" * 101]})]})
    assert "at most 20" in errs["edgeCases[0].match.regexPatterns"]
    assert "at most 100 allowed" in errs["edgeCases[0].match.keywordsAny[0]"]


def test_edge_case_needs_a_condition_and_action_needs_its_text():
    errs = paths({"edgeCases": [edge("ec-1", {}), edge("ec-2", {"keywordsAny": ["x"]}, {"type": "force_transfer"}),
                                edge("ec-3", {"keywordsAny": ["!!!"]})]})
    assert "at least one condition" in errs["edgeCases[0]"]
    assert "transferTarget" in errs["edgeCases[1].action"]
    assert "no letters or digits" in errs["edgeCases[2].match.keywordsAny[0]"]


def test_duplicate_ids_are_refused():
    errs = paths({"edgeCases": [edge("ec-1", {"keywordsAny": ["a"]}), edge("ec-1", {"keywordsAny": ["b"]})],
                  "transferRules": [{"id": "t", "intentTag": "billing", "contactNameOrQueue": "b", "script": "s"}] * 2})
    assert "duplicate id 'ec-1'" in errs["edgeCases[1].id"]
    assert "duplicate id 't'" in errs["transferRules[1].id"]


@pytest.mark.parametrize("window, ok", [
    ({"start": "08:00", "end": "17:00"}, True),
    ({"start": "22:00", "end": "06:00", "daysOfWeek": [5, 6]}, True),
    ({"start": "8am", "end": "17:00"}, False),
    ({"start": "25:00", "end": "17:00"}, False),
    ({"start": "08:00", "end": "17:00", "daysOfWeek": [7]}, False),
])
def test_time_windows(window, ok):
    sheet = {"edgeCases": [edge("ec-1", {"timeWindows": [window]})]}
    if ok:
        policy.compile_cheatsheet(sheet)
    else:
        assert any(e["path"].startswith("edgeCases[0].match.timeWindows[0]") for e in errors_of(sheet))


def test_legacy_edge_case_is_normalized():
    sheet = policy.validate({"edgeCases": [{"name": "Machine Detection", "triggerPatterns": ["machine|robot", "ai"],
                                            "responseText": "I'm here to help!", "priority": 10}]})
    ec = sheet.edgeCases[0]
    assert ec.id == "ec-machine-detection"
    assert ec.match.keywordsAny == ["machine", "robot", "ai"]
    assert (ec.action.type, ec.action.inlineResponse) == ("override_response", "I'm here to help!")


def test_legacy_regex_trigger_keeps_any_pattern_semantics():
    sheet = policy.validate({"edgeCases": [{"id": "ec-l", "name": "L", "triggerPatterns": ["robot", r"\bai\b"],
                                            "responseText": "hi"}]})
    assert sheet.edgeCases[0].match.regexPatterns == [r"\b(?:robot)\b", r"\bai\b"]
    assert sheet.edgeCases[0].match.keywordsAny == []


def test_legacy_and_new_shape_together_is_an_error():
    errs = paths({"edgeCases": [{"id": "x", "name": "x", "triggerPatterns": ["a"], "responseText": "b",
                                 "match": {"keywordsAny": ["a"]}}]})
    assert "not both" in errs["edgeCases[0]"]


def test_response_and_script_length_bounds():
    errs = paths({"edgeCases": [edge("ec-1", {"keywordsAny": ["a"]}, {"type": "override_response",
                                                                     "inlineResponse": "x" * 501})]})
    assert "at most 500" in errs["edgeCases[0].action.inlineResponse"]


def test_golden_tests_and_audit_meta_are_part_of_the_schema():
    sheet = policy.validate({
        "edgeCases": [edge("ec-1", {"keywordsAny": ["a"]}, auditMeta={"createdBy": "ann", "createdAt": "2026-11-01T09:00:00Z"})],
        "tests": [{"utterance": "a", "context": {"callerType": "new"}, "expect": {"action": "RESPOND", "blocks": ["ec-1"]}}],
    })
    assert sheet.edgeCases[0].auditMeta.createdBy == "ann"
    assert sheet.tests[0].expect.blocks == ["ec-1"]
    assert "tests[0].expect.action" in paths({"tests": [{"utterance": "a", "expect": {"action": "DANCE"}}]})


def test_yaml_traps_are_closed():
    # YAML 1.1 would read `no` as False and 17:00 as 1020.
    data = parse_text("keywords: [yes, no, on, off]\nhours: [08:00, 17:00]\nflag: true\nn: 3\n")
    assert data == {"keywords": ["yes", "no", "on", "off"], "hours": ["08:00", "17:00"], "flag": True, "n": 3}


@pytest.mark.parametrize("value", [7, "x", {"a": 1}, [7, None, "x"]])
def test_wrong_types_for_rule_lists_are_field_errors(value):
    errs = paths({"edgeCases": value, "transferRules": value})
    assert any(p.startswith("edgeCases") for p in errs) and any(p.startswith("transferRules") for p in errs)


def test_bad_yaml_and_non_mapping_are_clear_errors():
    assert "line 2" in errors_of("a: [1, 2\nb: }")[0]["message"]
    assert errors_of("- just\n- a list\n")[0]["message"] == "a cheat sheet must be a mapping of fields"


def test_company_document_validation():
    with pytest.raises(policy.PolicyError) as exc:
        policy.validate_company({"id": "x", "name": "X", "timezone": "Mars/Base", "numbers": ["5125550100"],
                                 "contacts": {"a": {}}, "businessHours": {"mon": ["8am", "5pm"]}, "color": "red"})
    got = {e["path"] for e in exc.value.errors}
    assert {"timezone", "numbers[0]", "contacts.a", "businessHours.mon[0][0]", "color"} <= got
