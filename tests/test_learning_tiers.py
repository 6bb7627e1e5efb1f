"""What learning needs from the tiers, and what it does with staff's answers: a single keyword gives way to
learned examples that read clearly like another scenario, a doubtful keyword answer is LOW_CONFIDENCE (so the
queue sees it), a rejected proposal's turns wait for another scenario, turns in no cluster still reach the
scenario they are like, and a full scenario takes no more examples."""

from __future__ import annotations

import pytest

from learning import network
from learning.decide import MAX_EXAMPLES, apply_to_template
from learning.reasons import LOW_CONFIDENCE, classify
from learning.suggest import Turn, suggest
from policy.scenarios import DISPUTED, compile_template
from tests.conftest import make_app

REMINDERS = {"id": "r", "name": "R", "scenarios": [
    {"id": "reminder", "name": "reminder", "keywords": ["reminder"], "replies": ["Here are your reminders."]},
    {"id": "reminder_update", "name": "reminder update", "keywords": ["reminder update"],
     "examples": ["add a reminder to call mom", "set a reminder to call my dentist tomorrow",
                  "please add a reminder to pick up milk", "create a reminder to pay rent on friday"],
     "replies": ["Reminder set."]},
    {"id": "pricing", "name": "pricing", "keywords": ["how much", "price"], "replies": ["A visit is $89."]},
    {"id": "booking", "name": "booking", "keywords": ["book", "appointment"],
     "examples": ["can you come out and look at it", "can someone come out tomorrow and look at my furnace",
                  "i need somebody to come out and take a look"],
     "replies": ["What day suits you?"]},
]}


@pytest.fixture(scope="module")
def reminders():
    return compile_template(REMINDERS)


def test_a_keyword_another_scenarios_examples_say_gives_way_to_them(reminders):
    got = reminders.answer("please add a reminder to call my mom tomorrow", call_sid="CA1", seq=1)
    assert (got.tier, got.scenario) == ("2", "reminder_update")
    # Said the way that scenario's callers never say it, the keyword keeps the turn.
    got = reminders.answer("what is on my reminder list", call_sid="CA1", seq=1)
    assert (got.tier, got.scenario) == ("1", "reminder")


def test_a_keyword_no_other_scenarios_examples_say_keeps_the_turn_and_is_sure(reminders):
    # "how much" is no word of booking's examples: the keyword decides, and Tier 2 is not asked.
    got = reminders.answer("how much is it for you to come out and look at it", call_sid="CA1", seq=1)
    assert (got.tier, got.scenario, got.confidence) == ("1", "pricing", 1.0)


def test_a_doubtful_keyword_answer_is_low_confidence_for_the_queue(reminders):
    words = "what is on my reminder list"   # reads somewhat like setting one, sharing nothing but "reminder"
    got = reminders.answer(words, call_sid="CA1", seq=1)
    assert (got.tier, got.scenario, got.confidence) == ("1", "reminder", DISPUTED)
    record = {"kind": "turn", "caller": {"text": words}, "tier": got.tier, "confidence": got.confidence,
              "scenario": got.scenario, "base_used": True, "blocks": [], "guardrails": []}
    assert [i.reason for i in classify(record)] == [LOW_CONFIDENCE]
    sure = reminders.answer("what is the price", call_sid="CA1", seq=1)
    assert (sure.tier, sure.confidence) == ("1", 1.0)


ARRIVAL = {"id": "t", "name": "T", "scenarios": [
    {"id": "card_arrival", "name": "card arrival", "keywords": ["card arrival"], "replies": ["It is on its way."]},
    {"id": "lost_card", "name": "lost card", "keywords": ["lost card"], "replies": ["We will block it."]},
]}
WAITING = ["when will my new card arrive", "when will my card arrive", "when will the new card arrive",
           "when will my new card arrive in the mail", "when is my new card going to arrive"]


def test_turns_staff_said_are_not_a_scenario_are_proposed_elsewhere():
    turns = [Turn(f"i{n}", t, refused=("card_arrival",)) for n, t in enumerate(WAITING)]
    assert all(s.scenario != "card_arrival" for s in suggest(ARRIVAL, turns))


def test_turns_in_no_cluster_reach_the_scenario_they_are_like():
    strays = ["has my card arrival been delayed", "what about the arrival of the card i ordered"]
    [s] = suggest(ARRIVAL, [Turn(f"i{n}", t) for n, t in enumerate(strays)], min_size=2)
    assert (s.kind, s.scenario, sorted(s.item_ids)) == ("add_to_scenario", "card_arrival", ["i0", "i1"])
    assert s.stray and 0.0 <= s.coherence <= 1.0
    # Such a group is not a cluster: network learning does not pool it.
    docs = [{**s.to_doc(), "coherence": 1.0} for _ in range(3)]
    companies = [network.CompanyInput(f"c{n}", "t", [d], frozenset(w for t in strays for w in t.split()))
                 for n, d in enumerate(docs)]
    assert network.aggregate("Banking", companies) == []
    assert network.aggregate("Banking", [network.CompanyInput(c.company_id, "t", [{**docs[0], "stray": False}],
                                                              c.vocabulary) for c in companies])


def test_a_full_scenario_takes_no_more_examples():
    doc = {**ARRIVAL, "scenarios": [{**ARRIVAL["scenarios"][0], "examples": [f"card arrival {n}" for n in range(98)]},
                                    ARRIVAL["scenarios"][1]]}
    new = apply_to_template(doc, {"scenario": "card_arrival", "examples": WAITING})
    assert new["scenarios"][0]["examples"][-2:] == WAITING[:2] and len(new["scenarios"][0]["examples"]) == MAX_EXAMPLES


def test_a_rejected_proposal_for_a_scenario_sends_its_turns_back_until_refused_everywhere(tmp_path):
    app = make_app(tmp_path / "data", LEARNING_BATCH_S=0, LEARNING_RUN_S=0)
    store, decisions = app.extensions["learning"].store, app.extensions["learning_decisions"]
    ids = ["CA1:00001:scenario:NEW_INTENT:", "CA2:00001:scenario:NEW_INTENT:"]
    for n, iid in enumerate(ids):
        store.add_item({"_id": iid, "company_id": "demo-hvac", "queue": "scenario", "reason": "NEW_INTENT",
                        "text": f"words {n}", "at": n, "status": "suggested", "suggestion": None})
    for n, scenario in enumerate(("hours", "pricing", "booking")):
        sid = f"demo-hvac:s{n}"
        store.add_suggestion({"_id": sid, "company_id": "demo-hvac", "queue": "scenario", "status": "pending",
                              "kind": "add_to_scenario", "scenario": scenario, "item_ids": ids, "examples": []})
        decisions.reject(sid, by="staff")
        items = list(store.items.find({"_id": {"$in": ids}}))
        assert {tuple(i["refused"]) for i in items} == {("hours", "pricing", "booking")[:n + 1]}
        assert {i["status"] for i in items} == ({"pending"} if n < 2 else {"rejected"})


def test_learning_checks_every_sure_keyword_answer_against_the_examples(reminders):
    """Tier 1 asks Tier 2 only for shared keywords (to stay fast); learning asks for every keyword answer."""
    doc = {**REMINDERS, "scenarios": [*REMINDERS["scenarios"][:2],
                                      {"id": "alarm", "name": "alarm", "keywords": ["alarm"],
                                       "examples": ["wake me up at six tomorrow", "wake me up at seven please"],
                                       "replies": ["Alarm set."]}]}
    compiled = compile_template(doc)
    words = "reminder to wake me up at six tomorrow"
    got = compiled.answer(words, call_sid="CA1", seq=1)
    assert (got.tier, got.scenario) == ("1", "reminder") and compiled.disputed(words, "reminder")
    record = {"kind": "turn", "caller": {"text": words}, "tier": "1", "confidence": got.confidence,
              "scenario": "reminder", "base_used": True, "blocks": [], "guardrails": []}
    assert [i.reason for i in classify(record, disputed=True)] == [LOW_CONFIDENCE]
    assert not compiled.disputed("wake me up at six tomorrow", "alarm")
