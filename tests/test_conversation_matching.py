"""Matching the way people talk (issue 12): canonical words, loose phrases, own keywords before built-in
words, "unless" phrases, emergency combinations, the compile report; hours answers; company fields."""

from __future__ import annotations

from datetime import datetime

import pytest

import policy
from policy.canon import canon
from policy.company import CompanyProfile
from policy.hours import hours_answer
from policy.matching import SpokenIndex
from tests.conftest import CHICAGO, COMPANY, compile_, ctx, edge


@pytest.mark.parametrize("phrase, said", [
    ("not working", "the heater isn't working"),          # contraction
    ("no heat", "There's NO heat!!"),                      # ASR casing and punctuation
    ("leak", "it's been leaking all night"),               # verb form
    ("burst pipe", "two pipes burst in the garage"),       # plural and word order
    ("smell gas", "I can smell the natural gas"),          # words in between
    ("gas smell", "I smell gas"),                          # either order (two words)
    ("ac unit", "the A/C unit is dead"),                   # spelled letters
    ("twenty degrees", "it's 20 degrees in here"),         # digits vs words
    ("talk to someone", "um, can I, like, talk to someone"),  # fillers
    ("speak to a person", "could I speak with a person"),  # function words may differ
])
def test_phrases_match_the_way_people_say_them(phrase, said):
    index = SpokenIndex([phrase])
    assert index.search(said) == {0}


@pytest.mark.parametrize("phrase, said", [
    ("no heat", "the heat is fine, no problems"),          # a negation in another clause
    ("go to hell", "to hell with it, go ahead"),           # three words keep their order
    ("ai", "she said so"),                                 # whole words only
    ("heat out", "I'm out of town, can you check the heat pump later"),
])
def test_paraphrase_matching_stays_precise(phrase, said):
    assert SpokenIndex([phrase]).search(said) == set()


def test_temperatures_become_markers():
    assert "#cold" in canon("it's like 15 degrees out").markers
    assert "#hot" in canon("it's a hundred and five in here").markers
    assert not canon("can you come at 5 in the evening").markers


@pytest.mark.parametrize("said, marker", [
    ("my mom is 90", "#elderly"), ("my grandma is ninety one", "#elderly"), ("she's 85", "#elderly"),
    ("we have a 92 year old living with us", "#elderly"), ("my husband just turned 72", "#elderly"),
    ("my son is 2", "#child"), ("a 3 year old", "#child"),
    ("it's 90 in here", None), ("the thermostat is at 80", None), ("I have 2 kids", None), ("come at 9", None),
])
def test_ages_become_markers(said, marker):
    markers = canon(said).markers - {"#cold", "#hot"}
    assert markers == ({marker} if marker else set())


@pytest.mark.parametrize("said, connects", [
    ("I'm sick of this, my AC stopped working", False),
    ("I am sick and tired of this, the furnace quit again", False),
    ("my AC stopped working and my son is sick", True),
    ("my furnace stopped working and my mom is 90", True),
    ("the AC died and my dad is 88", True),
    ("the heat went out, my daughter is 2", True),
    ("the furnace is out and it's 90 in here", False),  # a temperature, not an age
])
def test_an_age_is_a_danger_sign_and_sick_of_this_is_not(said, connects):
    emergency = {"id": "tr-e", "intentTag": "emergency", "contactNameOrQueue": "oncall", "script": "Now."}
    p = compile_(transferRules=[emergency], allowedActions=["TRANSFER_EMERGENCY"])
    assert (policy.apply(p, said, "b", ctx()).action == "TRANSFER") is connects


BILLING_OWN = {"id": "tr-billing", "intentTag": "billing", "contactNameOrQueue": "billing", "script": "Billing.",
               "keywords": ["bill", "invoice", "charged"]}
ALLOWED = ["TRANSFER_BILLING", "TRANSFER_SCHEDULING", "TRANSFER_EMERGENCY", "TRANSFER_GENERAL"]


def test_a_price_question_is_not_a_billing_dispute():
    p = compile_(transferRules=[BILLING_OWN], allowedActions=ALLOWED)
    assert policy.apply(p, "how much do you charge to snake a drain", "b", ctx()).action == "RESPOND"
    assert policy.apply(p, "I was charged twice", "b", ctx()).action == "TRANSFER"
    assert policy.apply(p, "how much was I charged last month", "b", ctx()).action == "TRANSFER"  # own word, as written


def test_a_rules_own_keywords_come_before_another_intents_built_in_words():
    sched = {"id": "tr-sched", "intentTag": "scheduling", "contactNameOrQueue": "dispatch", "script": "Scheduling.",
             "priority": 20, "keywords": ["payment plan"]}
    p = compile_(transferRules=[dict(BILLING_OWN, keywords=[], priority=1), sched], allowedActions=ALLOWED)
    d = policy.apply(p, "I want to set up a payment plan", "b", ctx())
    assert [b["id"] for b in d.applied_blocks if b["type"] == "TRANSFER_RULE"] == ["tr-sched"]


def test_emergencies_come_first_whatever_the_priorities():
    emergency = {"id": "tr-e", "intentTag": "emergency", "contactNameOrQueue": "oncall", "script": "Now.",
                 "priority": 90}
    p = compile_(transferRules=[dict(BILLING_OWN, priority=1), emergency], allowedActions=ALLOWED)
    d = policy.apply(p, "there's smoke and I have a question about my bill", "b", ctx())
    assert [b["id"] for b in d.applied_blocks if b["type"] == "TRANSFER_RULE"] == ["tr-e"]


def test_emergency_combinations_need_every_group():
    emergency = {"id": "tr-e", "intentTag": "emergency", "contactNameOrQueue": "oncall", "script": "Now."}
    p = compile_(transferRules=[emergency], allowedActions=ALLOWED)
    assert policy.apply(p, "the furnace quit and my newborn is here", "b", ctx()).action == "TRANSFER"
    assert policy.apply(p, "no power and my dad is on oxygen", "b", ctx()).action == "TRANSFER"
    assert policy.apply(p, "the furnace quit", "b", ctx()).action == "RESPOND"
    assert policy.apply(p, "my baby is asleep", "b", ctx()).action == "RESPOND"
    # An iced-over heat pump with the house freezing is heating gone in the cold; iced over alone is a repair.
    assert policy.apply(p, "the heat pump is iced over and it's like 20 degrees in here", "b", ctx()).action == "TRANSFER"
    assert policy.apply(p, "the heat pump is iced over", "b", ctx()).action == "RESPOND"


def test_the_compile_report_says_which_built_in_words_a_rule_inherits():
    p = compile_(transferRules=[BILLING_OWN, dict(BILLING_OWN, id="tr-own-only", inheritIntentWords=False)],
                 allowedActions=ALLOWED)
    inherited = {r["rule"]: r for r in p.report["intentWords"]}
    assert "refund" in inherited["tr-billing"]["inherits"] and "charged" not in inherited["tr-billing"]["inherits"]
    assert "how much" in inherited["tr-billing"]["unless"]
    assert list(inherited["tr-own-only"]["inherits"]) == []
    assert list(inherited["tr-own-only"]["ownKeywords"]) == ["bill", "charged", "invoice"]


def test_rules_that_opt_out_match_only_their_own_keywords():
    p = compile_(transferRules=[dict(BILLING_OWN, inheritIntentWords=False)], allowedActions=ALLOWED)
    assert policy.apply(p, "I'd like a refund", "b", ctx()).action == "RESPOND"
    assert policy.apply(p, "question about my invoice", "b", ctx()).action == "TRANSFER"


def test_edge_case_phrases_catch_their_paraphrases_and_keep_precedence():
    p = compile_(edgeCases=[edge("ec-gas", {"keywordsAny": ["gas leak"]}, {"type": "force_transfer",
                                                                           "transferTarget": "dispatch"})],
                 transferRules=[BILLING_OWN], allowedActions=ALLOWED)
    d = policy.apply(p, "the gas is leaking and I want to talk about my bill", "b", ctx())
    assert d.short_circuit and d.applied_blocks[0]["id"] == "ec-gas"


# --- acknowledgements -------------------------------------------------------------------------------

def test_acknowledgements_fit_the_reply():
    p = compile_(behaviorRules=["ACK_OK"])
    assert policy.apply(p, "hi", "Hello! How can I help?", ctx()).response == "Hello! How can I help?"
    assert policy.apply(p, "thanks", "You're welcome!", ctx()).response == "You're welcome!"
    assert policy.apply(p, "help", "I'm sorry to hear that.", ctx()).response == "I'm sorry to hear that."
    assert policy.apply(p, "gas", "Please leave the house now.", ctx()).response == "Please leave the house now."
    assert policy.apply(p, "my ac broke", "We can help.", ctx(variation=1)).response == "I see. We can help."
    assert policy.apply(p, "my ac broke", "We can help.", ctx(variation=3)).response == "We can help."


# --- hours ---------------------------------------------------------------------------------------

PROFILE = CompanyProfile.from_dict({**COMPANY, "holidays": [{"date": "2026-12-24", "name": "Christmas Eve",
                                                               "hours": ["08:00", "12:00"]}]})


@pytest.mark.parametrize("when, words, answer", [
    ((2026, 1, 5, 10), "are you open saturday", "We're closed on Saturdays. We open again Monday at 8 a.m."),
    ((2026, 1, 5, 10), "what time do you close today", "We close at 5 p.m. today."),
    ((2026, 1, 5, 18), "are you open right now", "No, we're closed right now. We open again Tuesday at 8 a.m."),
    ((2026, 1, 5, 9), "are you open", "Yes, we're open right now, until 5 p.m. today."),
    ((2026, 12, 24, 9), "what time do you close today", "We close at noon today for Christmas Eve."),
    ((2026, 1, 5, 10), "what are your hours",
     "We're open Monday to Friday, 8 a.m. to 5 p.m. We're closed on Saturday and Sunday."),
])
def test_hours_answers(when, words, answer):
    assert hours_answer(PROFILE, datetime(*when, tzinfo=CHICAGO), words) == answer


def test_holidays_close_the_company_for_after_hours_rules():
    profile = CompanyProfile.from_dict({**COMPANY, "holidays": [{"date": "2026-01-05", "name": "Staff day"}]})
    assert not profile.is_open(datetime(2026, 1, 5, 10, 0, tzinfo=CHICAGO))
    assert profile.is_open(datetime(2026, 1, 6, 10, 0, tzinfo=CHICAGO))


@pytest.mark.parametrize("doc, path", [
    ({"holidays": [{"date": "2026-02-30", "name": "x"}]}, "holidays[0].date"),
    ({"holidays": [{"date": "2026-02-03"}]}, "holidays[0].name"),
    ({"voice": {"speechModel": "phone_call", "speechTimeout": "auto"}}, "voice"),
    ({"voice": {"speechModel": "telepathy"}}, "voice.speechModel"),
    ({"voice": {"hints": ["a, b"]}}, "voice.hints[0]"),
    ({"voice": {"hints": ["x" * 101]}}, "voice.hints[0]"),
])
def test_company_fields_are_validated(doc, path):
    with pytest.raises(policy.PolicyError) as err:
        policy.validate_company({"id": "c", "name": "C", **doc})
    assert err.value.errors[0]["path"] == path


@pytest.mark.parametrize("said, matches", [
    ("my smoke detector keeps chirping", False),           # the device, not smoke
    ("the smoke alarms beep every minute", False),
    ("there's smoke coming out of the vents", True),
    ("the detector chirps and I see smoke in the hall", True),   # smoke said on its own as well
    ("smoke, the alarm is going off", True),               # another clause: smoke itself
])
def test_the_smoke_of_a_smoke_detector_is_not_smoke(said, matches):
    assert bool(SpokenIndex(["smoke"]).search(said)) is matches


def test_a_smoke_detector_keyword_still_matches_and_a_security_alarm_is_not_an_alarm_going_off():
    assert SpokenIndex(["smoke detector"]).search("my smoke detectors keep chirping") == {0}
    going_off = SpokenIndex(["alarm going off"])
    assert going_off.search("the smoke alarm keeps going off") == {0}
    assert not going_off.search("my burglar alarm keeps going off")
    assert not going_off.search("the security alarm went off twice last night")
    assert canon("I'm sick of this").joined == " i am fed up this "
