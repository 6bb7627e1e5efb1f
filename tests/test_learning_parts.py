"""Learning's pure parts: PII removal, reason codes, clustering, network thresholds."""

from __future__ import annotations

import pytest

from learning import network
from learning.cluster import cluster
from learning.reasons import classify
from learning.scrub import scrub

PII = [
    ("Hi my name is John Smith and my number is 512 555 0198", ["John", "Smith", "0198"]),
    ("call me back at five one two five five five zero one nine eight", ["five one two", "0198"]),
    ("my card number is 4111 1111 1111 1111", ["4111"]),
    ("my social is 123-45-6789", ["6789"]),
    ("I live at 1234 Oak Ridge Drive apt 4", ["Oak Ridge", "1234"]),
    ("email me at jane.doe@example.com", ["jane", "example.com"]),
    ("reach me at jane dot doe at gmail dot com", ["jane", "gmail"]),
    ("This is Maria Gonzalez calling about my furnace", ["Maria", "Gonzalez"]),
]


@pytest.mark.parametrize("text,secrets", PII)
def test_scrub_removes_personal_data(text, secrets):
    out = scrub(text)
    assert out.found
    for secret in secrets:
        assert secret not in out.text


def test_scrub_keeps_ordinary_words():
    assert scrub("my furnace is blowing cold air").text == "my furnace is blowing cold air"


def _record(**kw):
    base = {"kind": "turn", "company_id": "c", "call_sid": "CA1", "seq": 1, "caller": {"text": "hello"},
            "tier": "1", "base_used": True, "confidence": 1.0, "blocks": [], "guardrails": []}
    base.update(kw)
    return base


@pytest.mark.parametrize("kw,expected", [
    ({"tier": "fallback", "confidence": 0.1}, [("scenario", "NEW_INTENT")]),
    ({"tier": "fallback", "confidence": 0.7}, [("scenario", "NEW_VARIANT")]),
    ({"tier": "3", "confidence": None}, [("scenario", "NEW_INTENT")]),
    ({"tier": "2", "confidence": 0.83}, [("scenario", "LOW_CONFIDENCE")]),
    ({"collect": {"events": ["invalid:phone:format"]}}, [("scenario", "MISSING_ENTITY")]),
    ({"caller": {"text": "let me talk to a real person"}}, [("cheatsheet", "TRANSFER_PATTERN")]),
    ({"guardrails": ["NO_PRICES"]}, [("cheatsheet", "GUARDRAIL_VIOLATION")]),
    ({"caller": {"text": "there is smoke coming out"}}, [("cheatsheet", "EDGE_CASE_DETECTED")]),
    ({}, []),
])
def test_reason_codes(kw, expected):
    assert [(i.queue, i.reason) for i in classify(_record(**kw))] == expected


def test_degraded_items_go_to_the_incident_queue():
    items = classify(_record(tier="fallback", confidence=0.1), degraded=("REDIS_DEGRADED",))
    assert [(i.queue, i.reason, i.detail["infrastructure"]) for i in items] == [
        ("incident", "NEW_INTENT", ["REDIS_DEGRADED"])]
    assert classify(_record(tier="fallback", confidence=0.1, tier3="failed"))[0].queue == "incident"


def test_clustering_is_deterministic_and_groups_paraphrases():
    texts = ["do you fix garage doors", "can you fix my garage door", "garage door fix", "what time do you open",
             "when do you open", "what time are you open", "random words here"]
    first = cluster(texts, radius=0.5, min_size=2)
    again = cluster(list(reversed(texts)), radius=0.5, min_size=2)
    groups = sorted(sorted(texts[i] for i in c.members) for c in first)
    assert groups == sorted(sorted(texts[::-1][i] for i in c.members) for c in again)
    assert ["can you fix my garage door", "do you fix garage doors", "garage door fix"] in groups
    assert all(0 < c.coherence <= 1 for c in first)


def _company(cid, vocab, coherence=0.9, scenario="garage", examples=("do you fix garage doors",)):
    sugg = {"kind": "add_to_scenario", "scenario": scenario, "count": 5, "coherence": coherence,
            "examples": list(examples), "change": {"keywords": ["garage door"], "examples": list(examples)}}
    return network.CompanyInput(cid, "hvac-basic", [sugg], frozenset(vocab))


VOCAB = {"do", "you", "fix", "garage", "doors", "door"}


def test_network_needs_three_companies():
    two = [_company(f"c{i}", VOCAB) for i in range(2)]
    assert network.aggregate("HVAC", two) == []
    three = two + [_company("c2", VOCAB)]
    found = network.aggregate("HVAC", three)
    assert len(found) == 1 and found[0]["companies"] == 3 and found[0]["keywords"] == ["garage door"]


def test_network_thresholds_on_coherence_and_quality():
    loose = [_company(f"c{i}", VOCAB, coherence=0.6) for i in range(3)]
    assert network.aggregate("HVAC", loose) == []
    # Occurrence counts: 3 of 20 opt-in companies with no history scores below 0.7.
    rare = [_company(f"c{i}", VOCAB) for i in range(3)] + [
        network.CompanyInput(f"x{i}", "hvac-basic", [], frozenset()) for i in range(17)]
    assert network.aggregate("HVAC", rare) == []
    assert network.quality(1.0, 0.9, None) >= network.MIN_QUALITY


def test_words_of_one_company_never_leave_it():
    planted = "do you fix garage doors zxqv"
    companies = [_company("c0", VOCAB | {"zxqv"}, examples=(planted, "do you fix garage doors"))] + [
        _company(f"c{i}", VOCAB) for i in (1, 2)]
    found = network.aggregate("HVAC", companies)
    assert found and all("zxqv" not in " ".join(d["examples"] + d["keywords"]) for d in found)
