"""Staff commands: ``flask policy check`` and ``flask policy try``."""

from __future__ import annotations

import json

from tests.conftest import ROOT

DEMO = str(ROOT / "examples" / "companies" / "demo-hvac.yaml")


def test_check_demo_company_passes_with_checksum_and_golden_tests(runner):
    result = runner.invoke(args=["policy", "check", DEMO])
    assert result.exit_code == 0, result.output
    assert "checksum: " in result.output and "golden tests: 13/13 passed" in result.output
    checksum = result.output.split("checksum: ")[1].split()[0]
    assert len(checksum) == 64


def test_check_prints_every_error_with_path_and_exits_1(runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("edgeCases:\n  - id: ec-1\n    name: x\n    match: {keywordsAnny: [robot], regexPatterns: ['(a']}\n"
                   "    action: {type: override_response, inlineResponse: hi}\n")
    result = runner.invoke(args=["policy", "check", str(bad)])
    assert result.exit_code == 1
    assert "edgeCases[0].match.keywordsAnny: unknown field" in result.output
    assert "edgeCases[0].match.regexPatterns[0]: missing ): (a (in edge case 'ec-1')" in result.output
    assert "nothing was compiled" in result.output


def test_check_reports_conflicts_and_failing_golden_tests(runner, tmp_path):
    sheet = tmp_path / "sheet.json"
    sheet.write_text(json.dumps({
        "edgeCases": [
            {"id": "ec-1", "name": "a", "match": {"keywordsAny": ["machine", "robot"]}, "action": {"inlineResponse": "A"}},
            {"id": "ec-2", "name": "b", "match": {"keywordsAny": ["robot", "ai"]}, "action": {"inlineResponse": "B"}}],
        "tests": [{"utterance": "robot", "expect": {"responseContains": "B"}}]}))
    result = runner.invoke(args=["policy", "check", str(sheet)])
    assert result.exit_code == 1
    assert "EDGE_CASE_CONFLICT: ec-2 overlaps ec-1" in result.output and "demoted to 11" in result.output
    assert "golden tests: 0/1 passed" in result.output and "does not contain 'B'" in result.output
    as_json = json.loads(runner.invoke(args=["policy", "check", "--json", str(sheet)]).output)
    assert as_json["conflicts"][0]["rule2"] == "ec-2" and as_json["tests"][0]["passed"] is False


def test_try_prints_the_decision(runner):
    result = runner.invoke(args=["policy", "try", DEMO, "I", "smell", "gas", "--now", "2026-01-05T10:00:00-06:00"])
    assert result.exit_code == 0, result.output
    assert "action:    TRANSFER  (short-circuit)" in result.output
    assert "transfer:  oncall -> +15125550199" in result.output
    assert "EDGE_CASE:ec-gas-smell" in result.output
    data = json.loads(runner.invoke(args=["policy", "try", "--json", DEMO, "what's", "your", "fee?",
                                          "--base", "A new system is $9,000."]).output)
    assert data["guardrails_fired"] == ["NO_PRICES"] and "$9,000" not in data["response"]


def test_try_rejects_a_bad_time(runner):
    result = runner.invoke(args=["policy", "try", DEMO, "hi", "--now", "yesterday"])
    assert result.exit_code == 2 and "not an ISO 8601 time" in result.output


def test_healthz(app):
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}
