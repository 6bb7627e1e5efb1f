"""Scenario tiers: keywords (Tier 1), fuzzy examples (Tier 2), safe fallback; the hvac-basic template."""

from __future__ import annotations

import pytest

from policy.errors import PolicyError
from policy.source import load_file
from tests.conftest import ROOT
from policy.scenarios import FALLBACK_REPLY, compile_template, validate_template, variation

HVAC = load_file(ROOT / "examples" / "scenarios" / "hvac-basic.yaml")


@pytest.fixture(scope="module")
def hvac():
    return compile_template(HVAC)


def test_hvac_basic_has_the_scenarios_a_company_needs(hvac):
    ids = {s.id for s in hvac.scenarios}
    assert len(ids) >= 15
    assert {"hours", "pricing", "booking", "no-heat", "no-cooling", "water-leak", "thermostat",
            "maintenance-plan"} <= ids


def test_every_example_finds_its_own_scenario(hvac):
    for sc in hvac.scenarios:
        for ex in sc.examples:
            got = hvac.answer(ex, call_sid="CA1", seq=1)
            assert got.scenario == sc.id or got.tier == "1", (ex, got)


@pytest.mark.parametrize("words, tier, scenario", [
    ("What time do you close today?", "1", "hours"),
    ("my AC is not cooling at all", "1", "no-cooling"),
    ("when r you guys open", "2", "hours"),
    ("is my technician still coming", "2", "status"),
    ("I'd like to order a large pizza", "fallback", None),
    ("yes", "fallback", None),
    ("", "fallback", None),
])
def test_tiers(hvac, words, tier, scenario):
    got = hvac.answer(words, call_sid="CA1", seq=3)
    assert (got.tier, got.scenario) == (tier, scenario)
    assert 0.0 <= got.confidence <= 1.0
    if tier == "fallback":
        assert got.text == FALLBACK_REPLY and got.action == "TAKE_MESSAGE"


def test_qna_answers_come_with_their_scenario(hvac):
    got = hvac.answer("do you sell filters", call_sid="CA1", seq=1)
    assert got.scenario == "filters" and "carry common filter sizes" in got.text


def test_reply_variation_is_deterministic_per_call_and_turn(hvac):
    a = [hvac.answer("what are your hours", call_sid="CA1", seq=s).text for s in range(1, 20)]
    b = [hvac.answer("what are your hours", call_sid="CA1", seq=s).text for s in range(1, 20)]
    assert a == b and len(set(a)) == 2
    assert variation("CA1", 1, "hours", 1) == 0


def test_template_errors_are_listed_by_path():
    bad = {"id": "t", "name": "T", "scenarios": [
        {"id": "a", "name": "A", "replies": ["hi"]},
        {"id": "a", "name": "B", "keywords": ["x"], "replies": []},
    ]}
    with pytest.raises(PolicyError) as err:
        validate_template(bad)
    paths = [e["path"] for e in err.value.errors]
    assert "scenarios[1].replies" in paths
    with pytest.raises(PolicyError) as err:
        validate_template({"id": "t", "name": "T", "scenarios": [
            {"id": "a", "name": "A", "replies": ["hi"]}, {"id": "a", "name": "B", "keywords": ["x"],
                                                         "replies": ["x"], "action": "LAUNCH_ROCKETS"}]})
    paths = [e["path"] for e in err.value.errors]
    assert "scenarios[1].action" in paths
