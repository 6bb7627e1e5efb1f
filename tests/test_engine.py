"""Engine: precedence, every action type, match condition, guardrail and behavior rule."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import policy
from policy.text import MAX_UTTERANCE_CHARS
from tests.conftest import CHICAGO, CLOSED, COMPANY, OPEN, compile_, ctx, edge

ALL_TRANSFERS = ["TRANSFER_BILLING", "TRANSFER_EMERGENCY", "TRANSFER_GENERAL", "TRANSFER_SCHEDULING",
                 "TRANSFER_TECHNICAL"]
BILLING = {"id": "tr-billing", "intentTag": "billing", "contactNameOrQueue": "billing",
           "script": "Let me get you to billing."}


def blocks(d: policy.Decision) -> list[tuple[str, str]]:
    return [(b["type"], b["id"]) for b in d.applied_blocks]


# --- the guide's cases -------------------------------------------------------------------------

def test_guide_end_to_end_edge_case_then_behavior():
    p = policy.compile_cheatsheet({"edgeCases": [{"id": "ec-test", "name": "Machine Detection",
                                                   "triggerPatterns": ["machine", "robot"],
                                                   "responseText": "I'm here to help!", "priority": 10}],
                                   "behaviorRules": ["ACK_OK"]})
    d = policy.apply(p, "This is a machine, isn't it?", "How can I help?", ctx())
    assert d.response == "Ok, I'm here to help!"
    types = [b["type"] for b in d.applied_blocks]
    assert "EDGE_CASE" in types and "BEHAVIOR_RULES" in types
    assert d.short_circuit and d.action == "RESPOND"
    assert d.applied_blocks[0] == {"type": "EDGE_CASE", "id": "ec-test", "name": "Machine Detection"}


def test_edge_case_beats_transfer_rule_and_skips_it():
    p = compile_(edgeCases=[edge("ec-bill", {"keywordsAny": ["bill"]})], transferRules=[BILLING],
                 allowedActions=ALL_TRANSFERS)
    d = policy.apply(p, "question about my bill", "base", ctx())
    assert (d.action, d.response, d.short_circuit) == ("RESPOND", "override ec-bill", True)
    assert ("TRANSFER_RULE", "tr-billing") not in blocks(d)


def test_edge_cases_in_priority_order_first_match_wins():
    p = compile_(edgeCases=[edge("low", {"keywordsAny": ["furnace"]}, priority=50),
                            edge("high", {"keywordsAny": ["furnace noise"]}, priority=2)])
    assert policy.apply(p, "my furnace noise is loud", "b", ctx()).applied_blocks[0]["id"] == "high"
    assert policy.apply(p, "my furnace is fine", "b", ctx()).applied_blocks[0]["id"] == "low"


def test_disabled_rules_never_fire():
    p = compile_(edgeCases=[edge("off", {"keywordsAny": ["robot"]}, enabled=False)])
    d = policy.apply(p, "robot", "base", ctx())
    assert d.response == "base" and d.applied_blocks == ()


# --- keyword matching --------------------------------------------------------------------------

@pytest.mark.parametrize("utterance, fires", [
    ("I said hello", False),        # "ai" inside "said"
    ("is this AI?", True),
    ("are you an A.I.", False),     # punctuation splits letters: "a i"
    ("Ai, are you there", True),
    ("maid service", False),
])
def test_keywords_match_whole_words_case_insensitive(utterance, fires):
    p = compile_(edgeCases=[edge("ec-ai", {"keywordsAny": ["ai"]})])
    assert bool(policy.apply(p, utterance, "b", ctx()).short_circuit) is fires


@pytest.mark.parametrize("utterance, fires", [
    ("there's no heat upstairs", True),
    ("There's NO   heat!", True),
    ("no, heat is fine", True),           # punctuation is ignored between words
    ("no heater issues", False),
    ("we know heat pumps", False),
])
def test_phrases_match_as_phrases(utterance, fires):
    p = compile_(edgeCases=[edge("ec-noheat", {"keywordsAny": ["no heat"]})])
    assert bool(policy.apply(p, utterance, "b", ctx()).short_circuit) is fires


def test_apostrophes_are_ignored_on_both_sides():
    p = compile_(edgeCases=[edge("ec-1", {"keywordsAny": ["it's not working", "dont"]})])
    assert policy.apply(p, "its not working", "b", ctx()).short_circuit
    assert policy.apply(p, "I don’t know", "b", ctx()).short_circuit


# --- the seven match conditions ---------------------------------------------------------------

def test_keywords_all_needs_every_keyword():
    p = compile_(edgeCases=[edge("ec-1", {"keywordsAll": ["urgent", "water"]})])
    assert policy.apply(p, "urgent: water in the basement", "b", ctx()).matched_pattern == "urgent + water"
    assert not policy.apply(p, "urgent question", "b", ctx()).short_circuit


def test_regex_patterns_match_raw_text_case_insensitively():
    p = compile_(edgeCases=[edge("ec-ssn", {"regexPatterns": [r"\b\d{3}-\d{2}-\d{4}\b"]}),
                            edge("ec-law", {"regexPatterns": [r"\b(attorney|lawyer)s?\b"]})])
    d = policy.apply(p, "my number is 123-45-6789", "b", ctx())
    assert d.applied_blocks[0]["id"] == "ec-ssn" and d.matched_pattern == r"\b\d{3}-\d{2}-\d{4}\b"
    assert policy.apply(p, "My LAWYERS will call", "b", ctx()).applied_blocks[0]["id"] == "ec-law"
    assert not policy.apply(p, "lawyering", "b", ctx()).short_circuit


def test_all_given_conditions_must_hold():
    p = compile_(edgeCases=[edge("ec-1", {"keywordsAny": ["warranty"], "regexPatterns": [r"extend\w*"],
                                          "callerType": ["new"]})])
    assert policy.apply(p, "extended warranty offer", "b", ctx(caller_type="new")).short_circuit
    assert not policy.apply(p, "warranty offer", "b", ctx(caller_type="new")).short_circuit
    assert not policy.apply(p, "extended warranty offer", "b", ctx(caller_type="existing")).short_circuit


@pytest.mark.parametrize("caller_type, fires", [("vendor", True), ("new", False), (None, False), ("weird", False)])
def test_caller_type(caller_type, fires):
    p = compile_(edgeCases=[edge("ec-v", {"callerType": ["vendor"]})])
    d = policy.apply(p, "hello there", "b", ctx(caller_type=caller_type))
    assert d.short_circuit is fires
    if fires:
        assert d.matched_pattern == "callerType=vendor"


def test_unknown_caller_type_matches_unknown_rules():
    p = compile_(edgeCases=[edge("ec-u", {"callerType": ["unknown"], "keywordsAny": ["hi"]})])
    assert policy.apply(p, "hi", "b", ctx()).short_circuit


def test_spam_flags_required_all_present():
    p = compile_(edgeCases=[edge("ec-s", {"spamFlagsRequired": ["suspected_spam", "high_frequency"]})])
    assert policy.apply(p, "hi", "b", ctx(spam_flags={"suspected_spam", "high_frequency", "x"})).short_circuit
    assert not policy.apply(p, "hi", "b", ctx(spam_flags={"suspected_spam"})).short_circuit


def test_trade_required_uses_company_trade():
    p = compile_(edgeCases=[edge("ec-t", {"tradeRequired": ["hvac", "Plumbing"], "keywordsAny": ["pool"]})])
    assert policy.apply(p, "do you fix pool heaters", "b", ctx()).short_circuit
    assert not policy.apply(p, "pool", "b", ctx(company={**COMPANY, "trade": "Roofing"})).short_circuit


# Sunday = 0 ... Saturday = 6. 2026-01-05 is a Monday (1).
@pytest.mark.parametrize("local, window, fires", [
    ("2026-01-05 10:00", {"start": "08:00", "end": "17:00"}, True),
    ("2026-01-05 17:00", {"start": "08:00", "end": "17:00"}, False),           # end is exclusive
    ("2026-01-05 10:00", {"start": "08:00", "end": "17:00", "daysOfWeek": [0, 6]}, False),
    ("2026-01-10 10:00", {"start": "08:00", "end": "17:00", "daysOfWeek": [0, 6]}, True),  # Saturday
    ("2026-01-05 23:30", {"start": "22:00", "end": "06:00"}, True),            # spans midnight
    ("2026-01-06 05:59", {"start": "22:00", "end": "06:00"}, True),
    ("2026-01-06 06:00", {"start": "22:00", "end": "06:00"}, False),
    ("2026-01-09 23:00", {"start": "22:00", "end": "06:00", "daysOfWeek": [5]}, True),   # Friday night
    ("2026-01-10 02:00", {"start": "22:00", "end": "06:00", "daysOfWeek": [5]}, True),   # ...into Saturday
    ("2026-01-10 23:00", {"start": "22:00", "end": "06:00", "daysOfWeek": [5]}, False),  # Saturday night
])
def test_time_windows_in_company_timezone(local, window, fires):
    p = compile_(edgeCases=[edge("ec-w", {"timeWindows": [window]})])
    now = datetime.fromisoformat(local).replace(tzinfo=CHICAGO).astimezone(timezone.utc)  # engine converts back
    assert policy.apply(p, "hi", "b", ctx(now=now)).short_circuit is fires


def test_time_window_respects_dst_in_company_timezone():
    p = compile_(edgeCases=[edge("ec-w", {"timeWindows": [{"start": "08:00", "end": "09:00"}]})])
    summer = datetime(2026, 7, 6, 13, 30, tzinfo=timezone.utc)  # 08:30 CDT
    winter = datetime(2026, 1, 5, 13, 30, tzinfo=timezone.utc)  # 07:30 CST
    assert policy.apply(p, "hi", "b", ctx(now=summer)).short_circuit
    assert not policy.apply(p, "hi", "b", ctx(now=winter)).short_circuit


def test_naive_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        policy.TurnContext(company=COMPANY, now=datetime(2026, 1, 5, 10))
    with pytest.raises(ValueError, match="now="):
        policy.TurnContext(company=COMPANY)


# --- the four action types --------------------------------------------------------------------

def test_force_transfer_to_a_transfer_rule_uses_its_contact_and_entities():
    rule = {**BILLING, "collectEntities": [{"name": "name", "type": "PERSON", "prompt": "Your name?"}]}
    p = compile_(transferRules=[rule], allowedActions=ALL_TRANSFERS,
                 edgeCases=[edge("ec-t", {"keywordsAny": ["transfer test"]},
                                 {"type": "force_transfer", "transferTarget": "tr-billing",
                                  "transferMessage": "Let me connect you to our manager"})])
    d = policy.apply(p, "transfer test", "base", ctx())
    assert (d.action, d.response, d.short_circuit) == ("TRANSFER", "Let me connect you to our manager", True)
    assert (d.transfer_target, d.transfer_queue, d.transfer_phone) == ("billing", "billing", None)
    assert d.collect_entities[0]["name"] == "name"


@pytest.mark.parametrize("target, field, value", [
    ("manager", "transfer_sip", "sip:manager@acme.example"),
    ("dispatch", "transfer_phone", "+15125550101"),
    ("+1 512 555 0142", "transfer_phone", "+1 512 555 0142"),
    ("billing", "transfer_queue", "billing"),
])
def test_force_transfer_to_contact_or_number(target, field, value):
    p = compile_(allowedActions=["TRANSFER_GENERAL"],
                 edgeCases=[edge("ec-t", {"keywordsAny": ["boss"]}, {"type": "force_transfer", "transferTarget": target})])
    d = policy.apply(p, "get me the boss", "base", ctx())
    assert d.action == "TRANSFER" and getattr(d, field) == value
    assert d.response == "Let me connect you with someone who can help."


def test_force_transfer_blocked_by_allowlist():
    p = compile_(edgeCases=[edge("ec-t", {"keywordsAny": ["boss"]}, {"type": "force_transfer", "transferTarget": "manager"})])
    d = policy.apply(p, "boss", "base", ctx())
    assert d.action == "RESPOND" and d.short_circuit
    assert ("ACTION_BLOCKED", "TRANSFER_GENERAL") in blocks(d)
    assert any(e["type"] == "SECURITY_EVENT" and e["action"] == "TRANSFER_GENERAL" for e in d.side_effects)
    assert "take a message" in d.response


def test_polite_hangup_with_side_effects():
    p = compile_(edgeCases=[edge("test-hangup", {"keywordsAny": ["hangup test"]},
                                 {"type": "polite_hangup", "hangupMessage": "Thank you for calling. Goodbye."},
                                 sideEffects={"autoBlacklist": True, "autoTag": ["test", "abuse"],
                                              "logSeverity": "critical", "notifyContacts": ["manager"]})])
    d = policy.apply(p, "hangup test", "base", ctx())
    assert (d.action, d.response, d.short_circuit) == ("HANGUP", "Thank you for calling. Goodbye.", True)
    assert d.tags == ("test", "abuse")
    kinds = {e["type"]: e for e in d.side_effects}
    assert kinds["AUTO_BLACKLIST"]["source"]["id"] == "test-hangup"
    assert kinds["NOTIFY_CONTACTS"]["contacts"] == ("manager",)
    assert kinds["LOG"]["severity"] == "critical"


def test_polite_hangup_default_message():
    p = compile_(edgeCases=[edge("h", {"keywordsAny": ["bye now"]}, {"type": "polite_hangup"})])
    assert policy.apply(p, "bye now", "b", ctx()).response == "Thank you for calling. Goodbye."


def test_flag_only_tags_and_falls_through_to_transfer_rules():
    p = compile_(transferRules=[BILLING], allowedActions=ALL_TRANSFERS,
                 edgeCases=[edge("flag", {"keywordsAny": ["invoice"]}, {"type": "flag_only"},
                                 sideEffects={"autoTag": ["billing_question"]}, priority=1)])
    d = policy.apply(p, "about my invoice", "base", ctx())
    assert d.action == "TRANSFER" and not d.short_circuit
    assert blocks(d)[:2] == [("EDGE_CASE_FLAG", "flag"), ("TRANSFER_RULE", "tr-billing")]
    assert d.tags == ("billing_question",)


def test_flag_only_then_a_lower_priority_override_still_applies():
    p = compile_(edgeCases=[edge("flag", {"keywordsAny": ["robot"]}, {"type": "flag_only"}, priority=1,
                                 sideEffects={"autoTag": ["bot"]}),
                            edge("over", {"keywordsAny": ["robot"]}, priority=5)])
    d = policy.apply(p, "robot", "base", ctx())
    assert [b["id"] for b in d.applied_blocks[:2]] == ["flag", "over"] and d.response == "override over"


# --- transfer rules ---------------------------------------------------------------------------

def test_transfer_rule_from_intent_patterns_and_own_keywords():
    rule = {**BILLING, "keywords": ["account statement"]}
    p = compile_(transferRules=[rule], allowedActions=ALL_TRANSFERS)
    for utterance in ("I was double charged", "a question about my account statement"):
        d = policy.apply(p, utterance, "base", ctx())
        assert d.action == "TRANSFER" and d.response == "Let me get you to billing."
        assert blocks(d)[0] == ("TRANSFER_RULE", "tr-billing")
    assert policy.apply(p, "my furnace is loud", "base", ctx()).action == "RESPOND"


EMERGENCY = {"id": "tr-em", "intentTag": "emergency", "contactNameOrQueue": "dispatch", "script": "Connecting you now."}


@pytest.mark.parametrize("utterance, connects", [
    ("no sparks or smell, it just died", False),
    ("it's not an emergency", False),
    ("I don't think it's an emergency, it's just loud", False),
    ("nobody here is sick or elderly, the furnace quit", False),
    ("the heat went out but no babies or elderly here", False),
    ("I don't smell gas", False),
    ("no, the smoke alarm is going off", True),  # a no to our question, then the danger
    ("no no no there's smoke everywhere", True),
    ("I'm not sure if that's smoke or steam", True),  # unsure is not a denial
    ("I can't stop the flooding", True),
    ("it won't stop sparking", True),
    ("not an emergency I guess but water is pouring through the ceiling", True),
    ("there's no heat and my baby is freezing", True),  # "no heat" is the failure, not a denial
    ("the furnace isn't working and my grandma is staying with us", True),
])
def test_a_denied_danger_is_no_emergency(utterance, connects):
    p = compile_(transferRules=[EMERGENCY], allowedActions=ALL_TRANSFERS)
    assert (policy.apply(p, utterance, "base", ctx()).action == "TRANSFER") is connects


def test_a_denial_takes_only_the_words_it_governs_from_any_rule():
    p = compile_(edgeCases=[edge("ec-gas", {"keywordsAny": ["smell gas", "gas leak"]})],
                 transferRules=[{**BILLING, "keywords": ["account statement"]}], allowedActions=ALL_TRANSFERS)
    assert policy.apply(p, "there's no gas leak, it's about my bill", "base", ctx()).response == "Let me get you to billing."
    assert policy.apply(p, "I don't know, I smell gas", "base", ctx()).response == "override ec-gas"


def test_transfer_rules_in_priority_order():
    p = compile_(allowedActions=ALL_TRANSFERS, transferRules=[
        {**BILLING, "priority": 20},
        {"id": "tr-emergency", "intentTag": "emergency", "contactNameOrQueue": "dispatch", "script": "Connecting you now.",
         "priority": 1}])
    d = policy.apply(p, "urgent billing problem", "base", ctx())
    assert blocks(d)[0] == ("TRANSFER_RULE", "tr-emergency") and d.transfer_phone == "+15125550101"


def test_transfer_rule_phone_number_overrides_contact():
    p = compile_(allowedActions=ALL_TRANSFERS, transferRules=[{**BILLING, "contactNameOrQueue": "dispatch",
                                                              "phoneNumber": "+15125550177"}])
    assert policy.apply(p, "billing", "b", ctx()).transfer_phone == "+15125550177"


def test_after_hours_only_uses_business_hours_and_timezone():
    p = compile_(allowedActions=ALL_TRANSFERS, transferRules=[
        {"id": "tr-after", "intentTag": "technical", "contactNameOrQueue": "dispatch", "script": "On-call tech.",
         "afterHoursOnly": True}])
    assert policy.apply(p, "my heater is broken", "base", ctx(now=OPEN)).action == "RESPOND"
    assert policy.apply(p, "my heater is broken", "base", ctx(now=CLOSED)).action == "TRANSFER"
    # 15:00 UTC is 09:00 in Chicago (open) although a 7-19 server clock in UTC would say otherwise.
    assert policy.apply(p, "broken", "b", ctx(now=datetime(2026, 1, 5, 15, 0, tzinfo=timezone.utc))).action == "RESPOND"
    # 02:00 UTC Tuesday is 20:00 Monday in Chicago: closed.
    assert policy.apply(p, "broken", "b", ctx(now=datetime(2026, 1, 6, 2, 0, tzinfo=timezone.utc))).action == "TRANSFER"
    # Saturday is null: closed all day.
    sat = datetime(2026, 1, 10, 11, 0, tzinfo=CHICAGO)
    assert policy.apply(p, "broken", "b", ctx(now=sat)).action == "TRANSFER"


def test_transfer_blocked_by_allowlist_records_security_event():
    p = compile_(transferRules=[BILLING], allowedActions=["BOOK_APPT"])
    d = policy.apply(p, "question about my bill", "base", ctx())
    assert d.action == "RESPOND"
    assert ("ACTION_BLOCKED", "TRANSFER_BILLING") in blocks(d)
    (event,) = [e for e in d.side_effects if e["type"] == "SECURITY_EVENT"]
    assert event["reason"] == "UNAUTHORIZED_ACTION" and event["source"]["id"] == "tr-billing"
    assert "take a message" in d.response


# --- base response actions (scenarios, Tier 3) -------------------------------------------------

def test_base_action_outside_allowlist_is_blocked():
    p = compile_(allowedActions=["BOOK_APPT"])
    d = policy.apply(p, "how much is it", policy.BaseResponse("It is cheap.", action="PROVIDE_PRICING", source="llm"), ctx())
    assert ("ACTION_BLOCKED", "PROVIDE_PRICING") in blocks(d) and "It is cheap" not in d.response
    assert d.side_effects[0]["source"]["id"] == "llm"
    ok = policy.apply(p, "book me", policy.BaseResponse("Sure, let's book.", action="BOOK_APPT"), ctx())
    assert ok.proposed_action == "BOOK_APPT" and ok.response == "Sure, let's book."


def test_base_transfer_action_goes_to_the_matching_rule():
    p = compile_(transferRules=[BILLING], allowedActions=ALL_TRANSFERS)
    d = policy.apply(p, "hmm", policy.BaseResponse("One moment.", action="TRANSFER_BILLING"), ctx())
    assert d.action == "TRANSFER" and d.transfer_queue == "billing"
    blocked = policy.apply(compile_(transferRules=[BILLING]), "hmm",
                           policy.BaseResponse("One moment.", action="TRANSFER_BILLING"), ctx())
    assert blocked.action == "RESPOND" and ("ACTION_BLOCKED", "TRANSFER_BILLING") in blocks(blocked)


# --- guardrails -------------------------------------------------------------------------------

def guard(flag: str, text: str, **company):
    p = compile_(guardrails=[flag])
    return policy.apply(p, "hi", text, ctx(company={**COMPANY, **company}))


@pytest.mark.parametrize("text, blocked", [
    ("The repair is $450.", True),
    ("That runs about 300 dollars.", True),
    ("It's around eighty nine dollars.", True),
    ("Our diagnostic visit is $89.", False),             # approved: in the company's variables
    ("Our diagnostic visit is {diagnosticFee}.", False),
    ("It's $89.00 for the visit.", False),
    ("We're open 8 to 5.", False),
])
def test_no_prices(text, blocked):
    d = guard("NO_PRICES", text)
    assert ("NO_PRICES" in d.guardrails_fired) is blocked
    if blocked:
        assert d.response == "One of our team members can give you exact pricing."
        assert "[" not in d.response


@pytest.mark.parametrize("text, blocked", [
    ("Call our tech at 512-555-0123.", True),
    ("Try (512) 555-0123 after five.", True),
    ("Dial +44 20 7946 0958 for London.", True),
    ("Call us at +1 512 555 0100.", False),
    ("Call us at 512.555.0100.", False),
    ("Our emergency line is 512-555-0199.", False),
    ("Your ticket is 2026-01-05.", False),
])
def test_no_phone_numbers(text, blocked):
    d = guard("NO_PHONE_NUMBERS", text)
    assert ("NO_PHONE_NUMBERS" in d.guardrails_fired) is blocked
    if blocked:
        assert d.response == "You can reach our office at +1 512 555 0100."


@pytest.mark.parametrize("text, blocked", [
    ("See https://cheap-parts.example.com/deal for details.", True),
    ("Visit www.other.com today.", True),
    ("Go to example.org please.", True),
    ("Book at https://acme.example/book.", False),
    ("Book at https://www.acme.example/book.", False),
    ("Book at booking.acme.example.", False),
    ("Email info@other.com any time.", False),
])
def test_no_urls(text, blocked):
    d = guard("NO_URLS", text)
    assert ("NO_URLS" in d.guardrails_fired) is blocked


@pytest.mark.parametrize("flag, text, line", [
    ("NO_DIAGNOSES", "It sounds like your compressor is failing. We can help.", "A technician will need to take a look"),
    ("NO_MEDICAL_ADVICE", "Take some ibuprofen for the headache. We can help.", "not able to give medical advice"),
    ("NO_LEGAL_ADVICE", "You could sue the builder for negligence. We can help.", "not able to give legal advice"),
])
def test_content_guardrails_replace_the_sentence_naturally(flag, text, line):
    d = guard(flag, text)
    assert d.guardrails_fired == (flag,)
    assert line in d.response and d.response.endswith("We can help.")
    assert "[" not in d.response and "ibuprofen" not in d.response


def test_one_scan_places_each_leak_in_its_own_sentence():
    """Each kind of leak is found in one scan of the whole reply; only the sentences that hold one are
    replaced, in the order the caller would hear them, and an approved price or number stays."""
    p = compile_(guardrails=["NO_PRICES", "NO_PHONE_NUMBERS", "NO_URLS", "NO_DIAGNOSES", "NO_APOLOGIES_SPAM"])
    text = ("Sorry about the wait. Our visit is $89. A new unit is $4,200. Call 512-555-0123 or +1 512 555 0100. "
            "Your compressor is failing. See www.other.com. Sorry again! Thanks for calling.")
    d = policy.apply(p, "hi", text, ctx())
    assert d.guardrails_fired == ("NO_PRICES", "NO_PHONE_NUMBERS", "NO_DIAGNOSES", "NO_URLS", "NO_APOLOGIES_SPAM")
    said = d.response
    assert "Sorry about the wait" in said and "Our visit is $89." in said and "Thanks for calling." in said
    for leak in ("4,200", "512-555-0123", "compressor", "other.com", "Sorry again"):
        assert leak not in said
    order = [said.index(x) for x in ("Sorry about", "$89", "exact pricing", "reach our office", "take a look",
                                     "right link", "Thanks for calling")]
    assert order == sorted(order)
    # The same reply with nothing to hide comes back untouched.
    clean = "Our visit is $89. Call +1 512 555 0100. Thanks for calling."
    assert policy.apply(p, "hi", clean, ctx()).guardrails_fired == ()


@pytest.mark.parametrize("text, blocked", [
    ("Your code is +1 23 45 and the visit is $89.", False),   # five digits: not a phone number
    ("Order 12345 ships Monday, $89 on delivery.", False),
    ("Fax +1 (303) 555 0142 with the $89 form.", True),
    ("Reference 4471 or call 555-0123.", True),               # seven digits with a dash, at a sentence's end
    ("Or call our office on 555-0100.", False),                # the local part of the company's own number
    ("The part is 555-0199.5 inches.", False),
])
def test_a_phone_number_has_seven_digits(text, blocked):
    d = guard("NO_PHONE_NUMBERS", text)
    assert ("NO_PHONE_NUMBERS" in d.guardrails_fired) is blocked


def test_company_extends_guardrail_terms():
    p = compile_(guardrails=["NO_DIAGNOSES"], guardrailTerms={"NO_DIAGNOSES": ["short cycling"]})
    assert policy.apply(p, "hi", "Your unit is short cycling.", ctx()).guardrails_fired == ("NO_DIAGNOSES",)


def test_no_apologies_spam_keeps_one():
    d = guard("NO_APOLOGIES_SPAM", "I'm sorry about that. Sorry, we are booked today. I apologize for the wait.")
    assert d.guardrails_fired == ("NO_APOLOGIES_SPAM",)
    assert d.response == "I'm sorry about that. We are booked today."


def test_guardrails_apply_to_edge_case_responses_too():
    p = compile_(guardrails=["NO_PRICES"],
                 edgeCases=[edge("ec-p", {"keywordsAny": ["price"]}, {"type": "override_response",
                                                                      "inlineResponse": "It's $999. Anything else?"})])
    d = policy.apply(p, "price", "b", ctx())
    assert d.short_circuit and "NO_PRICES" in d.guardrails_fired and "$999" not in d.response


# --- behavior rules ---------------------------------------------------------------------------

def behave(flags, text, utterance="hi", **kw):
    return policy.apply(compile_(behaviorRules=flags), utterance, text, ctx(**kw))


def test_ack_ok():
    assert behave(["ACK_OK"], "We can help.").response == "Ok, we can help."
    assert behave(["ACK_OK"], "I'm here.").response == "Ok, I'm here."
    assert behave(["ACK_OK"], "Okay, noted.").response == "Okay, noted."
    assert behave(["ACK_OK"], "Acme Heating can help.").response == "Ok, Acme Heating can help."
    assert behave(["ACK_OK"], "How can I help?", utterance="").response == "How can I help?"  # nothing to acknowledge


def test_use_company_name_on_first_turn_only():
    assert behave(["USE_COMPANY_NAME"], "How can I help?", is_first_turn=True).response == \
        "Thanks for calling Acme Heating! How can I help?"
    assert behave(["USE_COMPANY_NAME"], "How can I help?").response == "How can I help?"
    assert behave(["USE_COMPANY_NAME"], "Acme Heating here.", is_first_turn=True).response == "Acme Heating here."


def test_confirm_entities_reads_values_back_naturally():
    d = behave(["CONFIRM_ENTITIES"], "Thanks.", collected_entities={"name": "Jane Doe", "callbackPhone": "+15125550199",
                                                                   "date": "2026-01-06", "time": "15:30"})
    assert d.response == ("Thanks. Just to confirm, I have your name as Jane Doe, your callback phone as "
                          "5 1 2, 5 5 5, 0 1 9 9, your date as Tuesday, January 6th and your time as 3:30 p.m.")


@pytest.mark.parametrize("value", ["2026-13-45", "25:99", "", "  ", 12345])
def test_confirm_entities_never_fails_on_odd_values(value):
    d = behave(["CONFIRM_ENTITIES"], "Thanks.", collected_entities={"date": value})
    assert d.response.startswith("Thanks.")


def test_polite_professional():
    d = behave(["POLITE_PROFESSIONAL"], "Yeah, no problem, we're gonna send a tech. Hey folks!")
    assert d.response == "Yes, certainly, we're going to send a tech. Hello everyone!"


def test_never_interrupt_turns_off_barge_in():
    assert behave(["NEVER_INTERRUPT"], "Hello.").barge_in is False
    assert behave([], "Hello.").barge_in is True


# --- variables, input limits ------------------------------------------------------------------

def test_variables_are_substituted_everywhere():
    p = compile_(edgeCases=[edge("e", {"keywordsAny": ["who"]}, {"type": "override_response",
                                                                 "inlineResponse": "This is {companyname}."})],
                 transferRules=[{**BILLING, "script": "Connecting you to {companyname} billing."}],
                 allowedActions=ALL_TRANSFERS)
    assert policy.apply(p, "who is this", "b", ctx()).response == "This is Acme Heating."
    assert policy.apply(p, "my bill", "b", ctx()).response == "Connecting you to Acme Heating billing."
    assert policy.apply(p, "x", "Call {companyname}.", ctx()).response == "Call Acme Heating."


def test_unknown_variable_never_spoken_raw():
    d = policy.apply(compile_(), "x", "Hello. Our fee is {missingFee}. Bye.", ctx())
    assert d.response == "Hello. Bye." and d.missing_variables == ("missingFee",)


def test_long_input_is_truncated_before_matching():
    p = compile_(edgeCases=[edge("tail", {"keywordsAny": ["robot"]})])
    assert policy.apply(p, "a " * MAX_UTTERANCE_CHARS + "robot", "b", ctx()).response == "b"
    d = policy.apply(p, "x" * 100_000, "b", ctx())
    assert d.response == "b" and d.elapsed_ms >= 0


@pytest.mark.parametrize("utterance", ["", None, "   ", "\x00\x01", "<speak>robot</speak> & more", "ロボット 🤖",
                                       "lone \ud800 surrogate robot"])
def test_odd_and_empty_input_is_fine(utterance):
    p = compile_(edgeCases=[edge("r", {"keywordsAny": ["robot"]}), edge("x", {"regexPatterns": [r"surrogate\s+\w+"]})])
    d = policy.apply(p, utterance, "How can I help?", ctx())
    assert d.action == "RESPOND" and d.response


def test_elapsed_time_uses_injected_timer_and_flags_perf_fault():
    ticks = iter([0.0, 0.020])
    d = policy.apply(compile_(), "hi", "b", ctx(), timer=lambda: next(ticks))
    assert d.elapsed_ms == pytest.approx(20.0) and d.perf_fault is True


def test_engine_is_deterministic():
    p = policy.compile_cheatsheet({"edgeCases": [edge("e", {"keywordsAny": ["robot"]})], "behaviorRules": ["ACK_OK"]})
    first = policy.apply(p, "robot?", "b", ctx()).to_dict()
    for _ in range(3):
        again = policy.apply(p, "robot?", "b", ctx()).to_dict()
        first["elapsed_ms"] = again["elapsed_ms"] = 0
        assert again == first


def test_safe_hints_for_speech_recognition():
    p = compile_(edgeCases=[edge("e", {"keywordsAny": ["carbon monoxide"]})])
    assert "carbon monoxide" in p.runtime.hints


def test_a_caller_in_danger_is_never_hung_up_on_for_how_they_talk():
    p = policy.compile_cheatsheet({
        "guardrails": [], "allowedActions": ["TRANSFER_EMERGENCY"],
        "edgeCases": [edge("abuse", {"keywordsAny": ["idiots"]}, {"type": "polite_hangup",
                                                                  "hangupMessage": "Goodbye."})],
        "transferRules": [{"id": "tr-em", "intentTag": "emergency", "contactNameOrQueue": "dispatch",
                           "script": "Connecting you to our on-call technician now."}]})
    danger = policy.apply(p, "my basement is flooding, you idiots", "b", ctx())
    assert danger.action == "TRANSFER" and {"type": "HANGUP_WITHHELD", "id": "abuse", "name": "abuse"} in [
        dict(b) for b in danger.applied_blocks]
    assert policy.apply(p, "you idiots", "b", ctx()).action == "HANGUP"


def test_a_denied_verb_and_what_is_listed_after_it():
    p = compile_(transferRules=[EMERGENCY], allowedActions=ALL_TRANSFERS)
    assert policy.apply(p, "no smell or smoke, it just stopped", "base", ctx()).action == "RESPOND"
    assert policy.apply(p, "I don't think so, but there's smoke now", "base", ctx()).action == "TRANSFER"
