"""Scenario suggestions: which scenario a cluster is proposed for, what is proposed, and rejections remembered."""

from __future__ import annotations

from learning.suggest import PROPOSED_EXAMPLES, Turn, suggest

TEMPLATE = {"id": "t", "name": "T", "scenarios": [
    {"id": "card_arrival", "name": "card arrival", "keywords": ["card arrival"], "replies": ["It is on its way."]},
    {"id": "lost_card", "name": "lost card", "keywords": ["lost card"], "replies": ["We will block it."]},
    {"id": "exchange_rate", "name": "exchange rate", "keywords": ["exchange rate"], "replies": ["Rates vary."]},
]}
WAITING = ["when will my new card arrive", "when will my card arrive", "when will the new card arrive",
           "when will my new card arrive in the mail", "when is my new card going to arrive"]


def _turns(texts, prefix="i"):
    return [Turn(f"{prefix}{n}", t) for n, t in enumerate(texts)]


def test_a_cluster_goes_to_the_scenario_whose_words_it_shares_with_examples_not_keywords():
    [s] = suggest(TEMPLATE, _turns(WAITING))
    assert s.kind == "add_to_scenario" and s.scenario == "card_arrival"
    assert s.change["keywords"] == []                          # a learned keyword would outrank every example
    assert 3 <= len(s.change["examples"]) <= PROPOSED_EXAMPLES and len(s.examples) <= 10
    assert s.impact["to_tier2"] >= 1


def test_a_scenario_full_of_examples_gets_no_more():
    full = {**TEMPLATE, "scenarios": [{**TEMPLATE["scenarios"][0], "examples": [f"card arrival {n}" for n in range(100)]},
                                      *TEMPLATE["scenarios"][1:]]}
    assert suggest(full, _turns(WAITING)) == []   # nothing to propose: its 100 examples are the schema's limit


def test_a_rejected_proposal_is_not_made_again_for_a_cluster_like_it():
    [first] = suggest(TEMPLATE, _turns(WAITING))
    [again] = suggest(TEMPLATE, _turns([w + " please" for w in WAITING], "j"),
                      rejected=[(first.scenario, first.examples)])
    assert again.scenario != first.scenario


def test_words_like_no_scenario_make_a_new_scenario_with_keywords():
    texts = ["do you fix garage door openers", "do you fix garage door openers", "can you fix garage door openers"]
    [s] = suggest(TEMPLATE, _turns(texts))
    assert s.kind == "new_scenario" and s.change["scenario"]["keywords"]
    assert all(len(k.split()) >= 2 for k in s.change["scenario"]["keywords"])


def test_turns_staff_said_are_no_new_scenario_go_to_the_existing_one_they_read_like():
    refused = [Turn(f"i{n}", t, refused=("+new",)) for n, t in enumerate(WAITING)]
    [s] = suggest(TEMPLATE, refused)
    assert s.kind == "add_to_scenario" and s.scenario == "card_arrival"
    # Refused there too: "lost card" shares only "card" with them, but the template knows nothing of how callers ask
    # for a lost card (no examples, no answered turns), so they are offered there; refused there too, they wait
    # (never proposed as new again).
    twice = [Turn(f"i{n}", t, refused=("+new", "card_arrival")) for n, t in enumerate(WAITING)]
    [s] = suggest(TEMPLATE, twice)
    assert s.kind == "add_to_scenario" and s.scenario == "lost_card"
    thrice = [Turn(f"i{n}", t, refused=("+new", "card_arrival", "lost_card")) for n, t in enumerate(WAITING)]
    assert suggest(TEMPLATE, thrice) == []
    # Once the template knows how callers ask for a lost card, one shared word no longer offers them there.
    known = {**TEMPLATE, "scenarios": [TEMPLATE["scenarios"][0], {**TEMPLATE["scenarios"][1], "examples": [
        "i lost my card", "my card is lost"]}, TEMPLATE["scenarios"][2]]}
    assert suggest(known, twice) == []
    answered = [Turn("s1", "i can't find my card anywhere", scenario="lost_card")]
    assert suggest(TEMPLATE, twice, answered) == []


def test_one_shared_word_is_not_enough_to_offer_turns_to_a_scenario():
    garage = [Turn(f"i{n}", "do you fix garage door openers", refused=("+new",)) for n in range(3)]
    hours = {**TEMPLATE, "scenarios": [*TEMPLATE["scenarios"], {"id": "hours", "name": "hours", "keywords": [
        "open", "hours"], "examples": ["when are you open", "are you open on saturday"], "replies": ["9 to 5."]}]}
    assert all(s.scenario != "hours" for s in suggest(hours, garage))


def test_a_large_cluster_is_proposed_in_parts_staff_can_check_each_of():
    # 24 phrasings of one request (they differ only in words that carry nothing, so they cluster as one).
    texts = [f"{a}when will {b} new card arrive" for a in ("", "hi ", "hey ", "so ", "ok ", "well ")
             for b in ("my", "the", "our", "your")]
    parts = suggest(TEMPLATE, _turns(texts))
    assert len(parts) == 3 and all(s.scenario == "card_arrival" for s in parts)
    assert [len(s.examples) for s in parts] == [10, 10, 4]
    for s in parts:   # each part proposes only what it shows staff
        assert set(s.change["examples"]) <= set(s.examples)
    assert sorted(i for s in parts for i in s.item_ids) == sorted(f"i{n}" for n in range(len(texts)))
    # No more parts than the scenario has room for: the rest of the cluster waits in the queue.
    roomy = {**TEMPLATE, "scenarios": [{**TEMPLATE["scenarios"][0], "examples": [f"card arrival {n}" for n in range(85)]},
                                       *TEMPLATE["scenarios"][1:]]}
    assert len(suggest(roomy, _turns(texts))) == 2
