"""Transfers that work: whole calls with entity collection, dial outcomes, messages, SMS and side effects."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest
import responses

from tests.conftest import ADMIN, CLOSED, OPEN, Clock, make_app
from tests.twilio_helpers import call, calls_coll, turns_coll

ACCOUNT = "AC" + "1" * 32
SMS_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path / "data", TWILIO_ACCOUNT_SID=ACCOUNT, SLEEP=lambda s: None)


def activate(app, sheet):
    """Save, compile and activate a cheat sheet for the demo company through the admin API."""
    client = app.test_client()
    version = client.put("/admin/companies/demo-hvac/cheatsheet", json=sheet, headers=AUTH).get_json()["version"]
    assert client.post("/admin/companies/demo-hvac/cheatsheet/compile", headers=AUTH).status_code == 200
    assert client.post("/admin/companies/demo-hvac/cheatsheet/activate", json={"version": version},
                       headers=AUTH).status_code == 200


def sms_ok(rsps):
    rsps.add(responses.POST, SMS_URL, status=201,
             json={"sid": "SM" + "2" * 32, "status": "queued", "account_sid": ACCOUNT})


def sent(rsps):
    return [{k: v[0] for k, v in parse_qs(c.request.body).items()} for c in rsps.calls]


# --- the seed's three end-to-end plans (enterprise upgrade plan, Phase 5) -----------------------

SEED_SHEET = {
    "behaviorRules": [], "guardrails": [],
    "allowedActions": ["TRANSFER_GENERAL", "TAKE_MESSAGE"],
    "edgeCases": [
        {"id": "test-override", "name": "Test Override", "priority": 1, "enabled": True,
         "triggerPatterns": ["edge case test"], "responseText": "EDGE CASE TEST OVERRIDE"},
        {"id": "test-transfer", "name": "Test Transfer", "priority": 1, "enabled": True,
         "match": {"keywordsAny": ["transfer test"]},
         "action": {"type": "force_transfer", "transferTarget": "manager",
                    "transferMessage": "Let me connect you to our manager"}},
        {"id": "test-hangup", "name": "Test Abuse Hangup", "priority": 1, "enabled": True,
         "match": {"keywordsAny": ["hangup test"]},
         "action": {"type": "polite_hangup", "hangupMessage": "Thank you for calling. Goodbye."},
         "sideEffects": {"autoBlacklist": True, "autoTag": ["test", "abuse"], "logSeverity": "critical"}},
    ],
}


def test_seed_plan_1_override(app):
    activate(app, SEED_SHEET)
    result = call(app, "edge case test")
    assert result.heard()[1] == "EDGE CASE TEST OVERRIDE"
    turn = turns_coll(app).find_one({"call_sid": result.call_sid, "seq": 1})
    assert turn["blocks"][0] == {"type": "EDGE_CASE", "id": "test-override", "name": "Test Override"}


def test_seed_plan_2_force_transfer(app):
    activate(app, SEED_SHEET)
    result = call(app, "transfer test")
    assert result.heard()[1] == "Let me connect you to our manager"
    dial = [e for e in result.events if e.kind == "dial"][0]
    assert dial.text == "sip:manager@demo-hvac.example" and dial.detail["type"] == "Sip"


def test_seed_plan_3_hangup_blacklists_tags_and_alerts(app, caplog):
    activate(app, SEED_SHEET)
    result = call(app, "hangup test", caller="+15125550777")
    assert result.heard()[-1] == "Thank you for calling. Goodbye." and result.kinds()[-2] == "hangup"
    assert "+15125550777" in app.extensions["catalog"].companies.get("demo-hvac", fresh=True)["doc"]["blacklist"]
    log = calls_coll(app).find_one({"_id": result.call_sid})
    assert set(log["tags"]) == {"test", "abuse"}
    alert = app.extensions["docstore"]["alerts"].find_one({"call_sid": result.call_sid})
    assert alert["type"] == "CRITICAL_EDGE_CASE" and alert["rule"]["id"] == "test-hangup"
    assert any(r.levelname == "CRITICAL" for r in caplog.records)
    again = call(app, "hello", caller="+15125550777")
    assert again.heard() == ["We're sorry, but we're unable to take your call. Goodbye."]


# --- entity collection -------------------------------------------------------------------------

def test_wrong_then_right_answers_and_read_back(app):
    result = call(app, "I have a question about my bill", "my name is jane doe", "I don't know it",
                  "five one two, five five five, zero one nine nine", "yes")  # read-back confirmed (issue 12)
    heard = result.heard()
    assert heard[1].endswith("May I have your name, please?")
    assert heard[2] == "What's the best number to reach you?"
    assert heard[3] == "Sorry, I didn't catch that. Could you say the number again, digits only?"
    assert "Just to confirm, I have your name as Jane Doe and your callback phone as 5 1 2, 5 5 5, 0 1 9 9" in heard[4]
    assert [e.text for e in result.events if e.kind == "enqueue"] == ["billing"]
    log = calls_coll(app).find_one({"_id": result.call_sid})
    assert log["collected"] == {"name": "Jane Doe", "callbackPhone": "+15125550199"}
    turns = list(turns_coll(app).find({"call_sid": result.call_sid}, sort=[("seq", 1)]))
    assert turns[3]["collect"]["events"][0].startswith("invalid:callbackPhone")


def test_entity_collected_is_persisted_to_the_document_store_at_once(app):
    from tests.twilio_helpers import form, signed_post

    client = app.test_client()
    sid = "CA" + "c" * 32
    signed_post(client, "/voice", form(sid))
    signed_post(client, "/voice/turn?seq=1", form(sid, SpeechResult="question about my bill"))
    signed_post(client, "/voice/turn?seq=2", form(sid, SpeechResult="Jane Doe"))  # turn_count 2: not on schedule
    assert calls_coll(app).find_one({"_id": sid})["collected"] == {"name": "Jane Doe"}


def test_max_retries_then_escalate_by_transferring(app):
    result = call(app, "question about my bill", "Jane", "no idea", "still no idea", "I can't remember it")
    heard = result.heard()
    assert heard[3].startswith("Sorry") and heard[4].startswith("Sorry")
    assert heard[5].startswith("Thank you. I'll connect you now.")
    assert [e.text for e in result.events if e.kind == "enqueue"] == ["billing"]
    turn = turns_coll(app).find_one({"call_sid": result.call_sid, "seq": 5})
    assert "escalated:transfer" in turn["collect"]["events"]


COLLECT_SHEET = {
    "behaviorRules": ["CONFIRM_ENTITIES"], "guardrails": [],
    "allowedActions": ["TRANSFER_SCHEDULING", "TAKE_MESSAGE"],
    "transferRules": [{
        "id": "tr-book", "intentTag": "scheduling", "contactNameOrQueue": "dispatch", "priority": 1,
        "script": "Let's get you booked.", "keywords": ["book a visit"],
        "collectEntities": [
            {"name": "callbackPhone", "type": "PHONE", "prompt": "What number should the technician call?",
             "maxRetries": 1, "escalateOnFail": False},
            {"name": "visitDate", "type": "DATE", "prompt": "What day works for you?"},
            {"name": "email", "type": "EMAIL", "required": False, "prompt": "And an email for the confirmation?",
             "maxRetries": 0},
        ]}],
}


def test_correction_of_the_last_answer_and_an_optional_entity_skipped(app):
    activate(app, COLLECT_SHEET)
    app.extensions["conversation"].clock.set(OPEN)  # Monday 2026-01-05
    result = call(app, "I want to book a visit", "512 555 0199", "no, it's 0198", "next Tuesday", "I'd rather not",
                  "yes")  # read-back confirmed (issue 12)
    heard = result.heard()
    assert heard[3] == "Got it, 5 1 2, 5 5 5, 0 1 9 8. What day works for you?"
    assert heard[4] == "And an email for the confirmation?"
    assert ("your callback phone as 5 1 2, 5 5 5, 0 1 9 8 and your visit date as Tuesday, January 6th"
            in heard[5])
    assert [e.text for e in result.events if e.kind == "dial"] == ["+15125550101"]
    assert calls_coll(app).find_one({"_id": result.call_sid})["collected"] == {
        "callbackPhone": "+15125550198", "visitDate": "2026-01-06"}


def test_failed_required_entity_without_escalation_takes_a_message(app):
    activate(app, COLLECT_SHEET)
    result = call(app, "book a visit", "no idea", "none", "Ann Lee", "512 555 0142", "call me about a tune up",
                  "yes")  # read-back confirmed (issue 12)
    heard = result.heard()
    assert heard[3].startswith("I'm sorry, I'm having trouble with that, so let me take a message instead.")
    assert heard[-1].startswith("Thank you, Ann.")
    msg = app.extensions["docstore"]["messages"].find_one({"call_sid": result.call_sid})
    assert msg["reason"] == "collection_failed" and msg["callback_phone"] == "+15125550142"


def test_caller_can_ask_for_a_person_at_any_point(app):
    result = call(app, "question about my bill", "just transfer me please")
    assert result.heard()[-2].startswith("Thank you. I'll connect you now.")
    assert [e.text for e in result.events if e.kind == "enqueue"] == ["billing"]


def test_silence_while_collecting_repeats_the_question(app):
    result = call(app, "question about my bill", "")
    assert result.heard()[2] == "Sorry, I didn't catch that. May I have your name, please?"


def test_an_edge_case_still_wins_while_collecting(app):
    result = call(app, "question about my bill", "shut up you idiot", caller="+15125550888")
    assert result.kinds()[-2] == "hangup"
    assert result.heard()[-1].endswith("Thank you for calling Demo Heating & Air.")


def test_a_name_like_bill_does_not_open_the_billing_line(app):
    activate(app, COLLECT_SHEET | {"transferRules": COLLECT_SHEET["transferRules"] + [
        {"id": "tr-billing", "intentTag": "billing", "contactNameOrQueue": "billing", "script": "Billing.",
         "priority": 2}], "allowedActions": ["TRANSFER_SCHEDULING", "TRANSFER_BILLING", "TAKE_MESSAGE"]})
    result = call(app, "book a visit", "bill me at 512 555 0199")
    assert result.heard()[-1] == "What day works for you?"


# --- dial outcomes, messages and SMS -------------------------------------------------------------

@responses.activate
def test_dial_busy_then_message_taken_then_sms_sent(app):
    sms_ok(responses)
    result = call(app, "there's water everywhere", "Ann Lee", "five one two five five five zero one two three",
                  "please call me about the leak in the basement", "yes", dial_status="busy")  # read-back (issue 12)
    heard = result.heard()
    assert heard[2] == ("I'm sorry, no one was able to take your call just now. I can take a message and have "
                        "someone call you back. May I have your name, please?")
    assert heard[-1].startswith("Thank you, Ann. I'll make sure our team gets your message")
    assert result.kinds()[-2] == "hangup"
    app.extensions["notifier"].drain()
    [sms] = sent(responses)
    assert sms["To"] == "+15125550199" and sms["From"] == "+15125550100"
    assert sms["Body"].startswith("Demo Heating & Air: message from Ann Lee (+15125550123) "
                                  "(transfer to oncall: busy): please call me about the leak")
    log = calls_coll(app).find_one({"_id": result.call_sid})
    assert log["transfer_outcome"] == {"status": "busy", "target": "oncall", "reason": "CONTACT_BUSY"}
    assert log["outcome"] == "message_taken" and "message_taken" in log["tags"]
    note = app.extensions["docstore"]["notifications"].find_one({"call_sid": result.call_sid})
    assert note["status"] == "sent" and note["attempts"] == 1


@pytest.mark.parametrize("status", ["no-answer", "failed", "canceled"])
def test_other_dial_failures_take_a_message_with_a_typed_reason(app, status):
    result = call(app, "water everywhere", dial_status=status)
    assert "no one was able to take your call" in result.heard()[2]
    log = calls_coll(app).find_one({"_id": result.call_sid})
    assert log["transfer_outcome"]["status"] == status


@responses.activate
def test_sms_failures_are_retried_a_bounded_number_of_times_and_never_reach_the_call(app):
    responses.add(responses.POST, SMS_URL, status=500, json={"code": 20500, "message": "Internal error"})
    result = call(app, "water everywhere", "Ann", "512 555 0123", "leak", "yes", dial_status="busy")  # read-back
    assert result.heard()[-1].startswith("Thank you, Ann.")
    app.extensions["notifier"].drain()
    assert len(responses.calls) == 3
    note = app.extensions["docstore"]["notifications"].find_one({"call_sid": result.call_sid})
    assert note["status"] == "failed" and note["attempts"] == 3 and "500" in note["error"]


@responses.activate
def test_notify_contacts_side_effect_sends_one_sms_even_when_the_turn_is_replayed(app):
    sms_ok(responses)
    sheet = {"behaviorRules": [], "guardrails": [], "allowedActions": ["TAKE_MESSAGE"],
             "edgeCases": [{"id": "ec-legal", "name": "Legal threat", "match": {"keywordsAny": ["lawyer"]},
                            "action": {"type": "flag_only"},
                            "sideEffects": {"notifyContacts": ["dispatch", "billing"], "autoTag": ["legal"]}}]}
    activate(app, sheet)
    from tests.twilio_helpers import form, signed_post

    client = app.test_client()
    sid = "CA" + "d" * 32
    signed_post(client, "/voice", form(sid))
    for _ in range(2):
        signed_post(client, "/voice/turn?seq=1", form(sid, SpeechResult="my lawyer will call you"))
    app.extensions["notifier"].drain()
    [sms] = sent(responses)
    assert sms["To"] == "+15125550101" and "Legal threat" in sms["Body"] and "(legal)" in sms["Body"]
    turn = turns_coll(app).find_one({"call_sid": sid, "seq": 1})
    assert "sms:dispatch" in turn["side_effects_done"] and "sms_skipped:billing" in turn["side_effects_done"]


def test_without_account_credentials_sms_is_recorded_as_not_sent(tmp_path):
    app = make_app(tmp_path / "d", TWILIO_ACCOUNT_SID="")
    result = call(app, "water everywhere", "Ann", "512 555 0123", "leak", "yes", dial_status="busy")  # read-back
    assert result.heard()[-1].startswith("Thank you, Ann.")
    note = app.extensions["docstore"]["notifications"].find_one({"call_sid": result.call_sid})
    assert note["status"] == "not_sent" and "TWILIO_ACCOUNT_SID" in note["error"]


def test_fallback_offer_becomes_a_message_or_yields_to_a_new_question(app):
    result = call(app, "can you fix my car", "Ann Lee", "512 555 0123", "call me back", "yes")  # read-back (issue 12)
    assert result.heard()[2] == "What's the best number to reach you?"
    assert result.heard()[-1].startswith("Thank you, Ann.")
    other = call(app, "can you fix my car", "what are your hours")
    assert "8 a.m. to 5 p.m." in other.heard()[2]


# --- after hours ---------------------------------------------------------------------------------

def test_after_hours_rule_only_outside_business_hours(tmp_path):
    closed = make_app(tmp_path / "closed", CLOCK=Clock(CLOSED))
    result = call(closed, "my furnace stopped working")
    assert [e.text for e in result.events if e.kind == "dial"] == ["+15125550101"]  # tr-technical -> dispatch
    opened = make_app(tmp_path / "open", CLOCK=Clock(OPEN))
    result = call(opened, "my furnace stopped working")
    assert not [e for e in result.events if e.kind == "dial"]


def test_emergency_still_transfers_after_hours(tmp_path):
    closed = make_app(tmp_path / "closed", CLOCK=Clock(CLOSED))
    result = call(closed, "carbon monoxide alarm is going off")
    dials = [e.text for e in result.events if e.kind == "dial"]
    assert dials and re.fullmatch(r"\+1512555019\d", dials[0])


def test_declining_the_message_offer_ends_the_collection(app):
    result = call(app, "can you fix my car", "no thanks", "what are your hours")
    assert result.heard()[2] == "Certainly. Is there anything else I can help you with?"  # no "Ok," before it (issue 12)
    assert "8 a.m. to 5 p.m." in result.heard()[3]
    assert app.extensions["docstore"]["messages"].count_documents({"call_sid": result.call_sid}) == 0


def test_i_dont_know_is_not_a_name(app):
    result = call(app, "question about my bill", "I don't know", "Ann Lee")
    assert result.heard()[2] == "Sorry, I didn't quite get that. May I have your name, please?"
    assert result.heard()[3] == "What's the best number to reach you?"


# --- a caller who hangs up part-way ----------------------------------------------------------------

@responses.activate
def test_a_caller_who_hangs_up_mid_booking_still_reaches_the_team(app):
    sms_ok(responses)
    result = call(app, "my AC stopped working", "14 oak street, tomorrow morning", "Sam Lee")  # then hangs up
    [message] = list(app.extensions["docstore"]["messages"].find({"call_sid": result.call_sid}))
    assert message["name"] == "Sam Lee" and message["message"] == "14 oak street, tomorrow morning"
    assert message["hung_up"] is True and message["confirmed"] is False
    assert message["callback_phone"] == "+15125550123"   # the caller's own number: they hung up before giving one
    app.extensions["notifier"].drain()
    [sms] = sent(responses)
    assert "(hung up before finishing)" in sms["Body"] and "Sam Lee" in sms["Body"]
    # Twilio repeats a status callback: nothing is stored or texted twice.
    from tests.twilio_helpers import form, signed_post
    signed_post(app.test_client(), "/voice/status", form(result.call_sid, CallStatus="completed"))
    app.extensions["notifier"].drain()
    assert app.extensions["docstore"]["messages"].count_documents({"call_sid": result.call_sid}) == 1
    assert len(sent(responses)) == 1


def test_a_hang_up_at_the_first_question_leaves_no_message(app):
    result = call(app, "my AC stopped working")
    assert not list(app.extensions["docstore"]["messages"].find({"call_sid": result.call_sid}))
