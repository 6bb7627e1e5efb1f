"""Whole calls through signed webhooks, asserted on parsed TwiML and the call log."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.conftest import CLOSED, TOKEN, Clock, make_app
from tests.twilio_helpers import activate_sheet, call, calls_coll, form, said, signed_post, turns_coll, twiml

SID = "CA" + "a" * 32


def greet(client, sid=SID, **fields):
    return twiml(signed_post(client, "/voice", form(sid, **fields)))


def say_turn(client, seq, words, sid=SID, **kw):
    data = form(sid, SpeechResult=words, Confidence="0.9") if words is not None else form(sid)
    return twiml(signed_post(client, f"/voice/turn?seq={seq}", data, **kw))


def test_greeting_is_say_inside_speech_gather(app):
    root = greet(app.test_client())
    gather = root.find("./Gather")
    assert gather is not None
    assert gather.get("input") == "speech"
    # Set deliberately per company (issue 12): Twilio refuses speechTimeout="auto" with a speechModel.
    assert gather.get("speechModel") == "phone_call" and gather.get("enhanced") == "true"
    assert gather.get("speechTimeout") == "2" and gather.get("profanityFilter") == "false"
    assert gather.get("actionOnEmptyResult") == "true"
    assert gather.get("language") == "en-US"
    assert gather.get("action") == "/voice/turn?seq=1"
    assert "no heat" in gather.get("hints") and "thermostat" in gather.get("hints")
    say = gather.find("./Say")
    assert say.text == "Thank you for calling Demo Heating & Air. How can I help you today?"
    assert say.get("voice") == "Polly.Joanna"
    call_doc = calls_coll(app).find_one({"_id": SID})
    assert call_doc["company_id"] == "demo-hvac" and call_doc["policy"]["version"] == 1
    assert turns_coll(app).count_documents({"call_sid": SID}) == 1


def test_whole_call_through_the_simulator(app):
    result = call(app, "what are your hours", "are you a robot", "thanks, that's all")
    heard = result.heard()
    assert "8 a.m. to 5 p.m." in heard[1]
    assert "virtual assistant for Demo Heating & Air" in heard[2]
    turns = list(turns_coll(app).find({"call_sid": result.call_sid}, sort=[("seq", 1)]))
    assert [t["seq"] for t in turns] == [0, 1, 2, 3]
    assert turns[1]["tier"] == "1" and turns[1]["scenario"] == "hours" and turns[1]["confidence"] == 1.0
    assert turns[2]["blocks"][0] == {"type": "EDGE_CASE", "id": "ec-machine", "name": "Machine question"} or \
        turns[2]["blocks"][0]["id"] == "ec-machine"
    log = calls_coll(app).find_one({"_id": result.call_sid})
    assert log["status"] == "completed" and log["duration_s"] == 42
    assert "machine_question" in log["tags"]
    assert log["session"]["state"] == "ended"


def test_fuzzy_tier_and_fallback_are_recorded(app):
    result = call(app, "when r you guys open", "I'd like to order a large pizza")
    turns = list(turns_coll(app).find({"call_sid": result.call_sid}, sort=[("seq", 1)]))
    assert turns[1]["tier"] == "2" and turns[1]["scenario"] == "hours" and 0.82 <= turns[1]["confidence"] < 1
    assert turns[2]["tier"] == "fallback" and turns[2]["confidence"] < 0.82
    assert "take a message" in turns[2]["final"]


def test_transfer_dials_the_contact_with_caller_id_and_action(app):
    client = app.test_client()
    greet(client)
    root = say_turn(client, 1, "there is water everywhere in my basement")
    assert said(root)[0] == "This sounds urgent. I'm connecting you to our on-call technician now."  # no "Ok," before urgency
    dial = root.find("./Dial")
    assert dial.get("callerId") == "+15125550100"
    assert dial.get("action") == "/voice/dial-result?seq=2"
    assert dial.find("./Number").text == "+15125550199"
    log = calls_coll(app).find_one({"_id": SID})
    assert log["session"]["state"] == "transfer"  # persisted when the transfer started


def test_queue_contact_after_the_rule_collects_its_entities(app):
    client = app.test_client()
    greet(client)
    ask = say_turn(client, 1, "I have a question about my bill")
    # The acknowledgement varies by call and turn (issue 12); the rule's script and question follow it.
    assert said(ask)[0].endswith("I'll connect you with our billing team. May I have your name, please?")
    assert say_turn(client, 2, "Jane Doe").find("./Gather") is not None
    check = say_turn(client, 3, "five one two five five five zero one nine nine")  # read back before connecting
    assert check.find("./Gather") is not None and "5 1 2, 5 5 5, 0 1 9 9" in said(check)[0]
    root = say_turn(client, 4, "yes")
    assert root.find("./Enqueue").text == "billing"
    assert root.find("./Enqueue").get("action") == "/voice/dial-result?seq=5"


def test_failed_dial_offers_to_take_a_message_and_completed_dial_ends(app):
    result = call(app, "water everywhere", "my name is Ann", dial_status="busy")
    assert "no one was able to take your call" in result.heard()[2]
    turns = list(turns_coll(app).find({"call_sid": result.call_sid, "kind": "dial-result"}))
    assert turns[0]["dial_status"] == "busy" and "transfer_busy" in turns[0]["tags"]
    ok = call(app, "water everywhere", dial_status="completed")
    assert ok.kinds()[-3:] == ["say", "hangup", "end"] and "Goodbye" in ok.heard()[-1]


def test_polite_hangup_blacklists_and_the_second_call_is_refused(app):
    result = call(app, "shut up you idiot", caller="+15125550666")
    assert result.kinds()[-3:] == ["say", "hangup", "end"]
    assert result.heard()[-1] == "I'm going to end this call now. Thank you for calling Demo Heating & Air."  # no "Ok," on a hangup
    company = app.extensions["catalog"].companies.get("demo-hvac", fresh=True)
    assert "+15125550666" in company["doc"]["blacklist"]
    again = call(app, "hello", caller="+15125550666")
    assert again.heard() == ["We're sorry, but we're unable to take your call. Goodbye."]
    assert calls_coll(app).find_one({"_id": again.call_sid})["outcome"] == "blacklisted"
    assert turns_coll(app).count_documents({"call_sid": again.call_sid}) == 0


def test_silence_is_reprompted_twice_then_goodbye(app):
    result = call(app, "", "", "")
    heard = result.heard()
    assert heard[1].startswith("Sorry, I didn't catch that")
    assert heard[2].startswith("Are you still there?")
    assert heard[3].startswith("I haven't heard anything") and result.kinds()[-2] == "hangup"


def test_speech_resets_the_silence_count(app):
    result = call(app, "", "", "what are your hours", "", "")
    assert not any(h.startswith("I haven't heard anything") for h in result.heard())


def test_unknown_number_is_politely_ended_and_logged(app):
    root = greet(app.test_client(), To="+15125559999")
    assert said(root) == ["Sorry, the number you have called is not in service. Goodbye."]
    assert root.find("./Hangup") is not None
    assert calls_coll(app).find_one({"_id": SID})["outcome"] == "unknown-number"


def test_forged_or_missing_signature_is_403_and_writes_nothing(app):
    client = app.test_client()
    bad = signed_post(client, "/voice", form(SID), token="wrong-token")
    assert bad.status_code == 403
    none = client.post("/voice", data=form(SID))
    assert none.status_code == 403
    tampered = form(SID)
    sig_resp = signed_post(client, "/voice/status", form("CA" + "9" * 32, CallStatus="completed"),
                           sign_url="http://localhost/voice")
    assert sig_resp.status_code == 403 and tampered
    assert calls_coll(app).count_documents({}) == 0 and turns_coll(app).count_documents({}) == 0


@pytest.mark.parametrize("missing", ["CallSid", "To"])
def test_missing_callsid_or_to_is_400(app, missing):
    data = form(SID)
    del data[missing]
    resp = signed_post(app.test_client(), "/voice", data)
    assert resp.status_code == 400 and missing in resp.get_data(as_text=True)
    resp = signed_post(app.test_client(), "/voice/turn?seq=1", data)
    assert resp.status_code == 400


@pytest.mark.parametrize("query", ["", "?seq=", "?seq=abc", "?seq=0", "?seq=-1"])
def test_turn_without_a_sequence_number_is_400(app, query):
    resp = signed_post(app.test_client(), "/voice/turn" + query, form(SID, SpeechResult="hi"))
    assert resp.status_code == 400


def test_duplicate_turn_returns_the_same_twiml_and_records_nothing_twice(app):
    client = app.test_client()
    greet(client)
    first = signed_post(client, "/voice/turn?seq=1", form(SID, SpeechResult="what are your hours"))
    again = signed_post(client, "/voice/turn?seq=1", form(SID, SpeechResult="what are your hours"))
    assert first.get_data() == again.get_data()
    assert turns_coll(app).count_documents({"call_sid": SID}) == 2  # greeting + one turn
    replay_greeting = signed_post(client, "/voice", form(SID))
    assert b"Thank you for calling" in replay_greeting.get_data()


def test_same_idempotency_token_replays(app):
    client = app.test_client()
    greet(client)
    headers = {"I-Twilio-Idempotency-Token": "tok-123"}
    first = signed_post(client, "/voice/turn?seq=1", form(SID, SpeechResult="what are your hours"), headers=headers)
    # A replay with the same token but a URL the app never issued still gets the first answer.
    again = signed_post(client, "/voice/turn?seq=2", form(SID, SpeechResult="what are your hours"), headers=headers)
    assert first.get_data() == again.get_data()
    assert turns_coll(app).count_documents({"call_sid": SID}) == 2


def test_replayed_tagging_turn_adds_no_second_tag_or_turn(app):
    client = app.test_client()
    greet(client)
    for _ in range(3):
        say_turn(client, 1, "can I get a discount")
    log = calls_coll(app).find_one({"_id": SID})
    assert log["tags"] == ["pricing_inquiry"] and turns_coll(app).count_documents({"call_sid": SID}) == 2


@pytest.mark.parametrize("words", [
    "x" * 100_000,
    "Ñandú café — 你好 🙂 can you come tomorrow?",
    "Tom & Jerry <b>bold</b> </Say><Hangup/> ]]> \x00\x07 control",
    '<speak><break time="3s"/>hi</speak> & <prosody rate="x-fast">fast</prosody>',
])
def test_hostile_or_huge_speech_gets_valid_twiml(app, words):
    client = app.test_client()
    greet(client)
    root = say_turn(client, 1, words)
    assert root.tag == "Response" and root.find("./Gather") is not None
    turn = turns_coll(app).find_one({"call_sid": SID, "seq": 1})
    assert len(turn["caller"]["text"]) <= 1000


def test_invalid_utf8_in_the_form_gets_valid_twiml(app):
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    client = app.test_client()
    greet(client)
    fields = form(SID)
    body = urlencode(fields) + "&SpeechResult=%FF%FEhello"
    decoded = {**fields, "SpeechResult": "%FF%FEhello"}  # Werkzeug keeps undecodable escapes as text
    sig = RequestValidator(TOKEN).compute_signature("http://localhost/voice/turn?seq=1", decoded)
    resp = client.post("/voice/turn?seq=1", data=body, content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": sig})
    assert twiml(resp).find("./Gather") is not None


def test_markup_in_company_texts_is_spoken_as_text(app):
    sheet = {"behaviorRules": [], "guardrails": [], "allowedActions": ["TAKE_MESSAGE"],
             "edgeCases": [{"id": "ec-x", "name": "x", "match": {"keywordsAny": ["markup"]},
                            "action": {"type": "override_response",
                                       "inlineResponse": "Tom & Jerry <speak>say</speak> </Say> ok"}}]}
    activate_sheet(app, sheet)
    client = app.test_client()
    greet(client)
    root = say_turn(client, 1, "markup please")
    assert said(root) == ["Tom & Jerry <speak>say</speak> </Say> ok"]


def test_never_interrupt_puts_say_before_gather(app):
    sheet = {"behaviorRules": ["NEVER_INTERRUPT"], "guardrails": [], "allowedActions": ["TAKE_MESSAGE"]}
    activate_sheet(app, sheet)
    root = greet(app.test_client())
    assert [el.tag for el in root] == ["Say", "Gather"]
    assert list(root.find("./Gather")) == []


def test_a_call_keeps_its_policy_when_a_new_one_is_activated(app):
    client = app.test_client()
    greet(client)
    sheet = {"behaviorRules": [], "guardrails": [], "allowedActions": ["TAKE_MESSAGE"],
             "edgeCases": [{"id": "ec-robot", "name": "robot", "match": {"keywordsAny": ["robot"]},
                            "action": {"type": "override_response", "inlineResponse": "Version two here."}}]}
    v = activate_sheet(app, sheet)
    old = say_turn(client, 1, "are you a robot")
    assert "virtual assistant" in said(old)[0]
    new_sid = "CA" + "b" * 32
    greet(client, new_sid)
    assert said(say_turn(client, 1, "are you a robot", sid=new_sid)) == ["Version two here."]
    assert turns_coll(app).find_one({"call_sid": new_sid, "seq": 1})["policy"]["version"] == v


def test_vendor_caller_is_transferred_at_the_greeting(app):
    root = greet(app.test_client(), From="+15125550142")
    assert root.find("./Dial/Number").text == "+15125550101"


def test_after_hours_edge_case_uses_the_company_clock(tmp_path):
    app = make_app(tmp_path / "d", CLOCK=Clock(CLOSED))
    client = app.test_client()
    greet(client)
    root = say_turn(client, 1, "can someone come look at my thermostat")
    text = " ".join(said(root))
    assert text  # answered; the after-hours rules of the demo decide what


def test_status_callback_finalizes_and_clears_caches(app):
    client = app.test_client()
    greet(client)
    say_turn(client, 1, "what are your hours")
    resp = signed_post(client, "/voice/status", form(SID, CallStatus="completed", CallDuration="17"))
    assert resp.status_code == 200 and ET.fromstring(resp.get_data(as_text=True)).tag == "Response"
    log = calls_coll(app).find_one({"_id": SID})
    assert log["status"] == "completed" and log["duration_s"] == 17 and log["session"]["seq"] == 1
    assert SID not in app.extensions["sessions"].l0


def test_fallback_route_apologizes_and_connects_a_person(app):
    root = twiml(signed_post(app.test_client(), "/voice/fallback", form(SID, ErrorCode="11200")))
    assert "having a problem" in said(root)[0]
    assert root.find("./Dial/Number").text == "+15125550101"  # dispatch, never the Twilio number itself
    unknown = twiml(signed_post(app.test_client(), "/voice/fallback", form(SID, To="+15125559999")))
    assert unknown.find("./Hangup") is not None


def test_internal_error_still_answers_with_safe_twiml(app, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("scenario engine exploded")
    monkeypatch.setattr(app.extensions["conversation"].catalog.templates, "get", boom)
    root = greet(app.test_client())
    assert "having a problem" in said(root)[0]


def test_public_base_url_is_what_gets_signed(tmp_path):
    app = make_app(tmp_path / "d", PUBLIC_BASE_URL="https://voice.example.com")
    client = app.test_client()
    resp = signed_post(client, "/voice", form(SID), sign_url="https://voice.example.com/voice")
    root = twiml(resp)
    assert root.find("./Gather").get("action") == "https://voice.example.com/voice/turn?seq=1"
    assert signed_post(client, "/voice", form(SID)).status_code == 403


def test_forwarded_headers_count_only_when_trusted(tmp_path):
    fwd = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "voice.example.com"}
    trusted = make_app(tmp_path / "a", TRUSTED_PROXY_HOPS=1).test_client()
    ok = signed_post(trusted, "/voice", form(SID), headers=fwd, sign_url="https://voice.example.com/voice")
    assert ok.status_code == 200
    untrusted = make_app(tmp_path / "b").test_client()
    refused = signed_post(untrusted, "/voice", form(SID), headers=fwd, sign_url="https://voice.example.com/voice")
    assert refused.status_code == 403


def test_signature_with_or_without_the_port(app):
    client = app.test_client()
    resp = signed_post(client, "/voice", form(SID), base="https://localhost:443",
                       sign_url="https://localhost/voice")
    assert resp.status_code == 200


def test_validation_off_only_when_set(tmp_path, capsys):
    app = make_app(tmp_path / "d", VALIDATE_TWILIO_SIGNATURE=False)
    assert "VALIDATE_TWILIO_SIGNATURE is off" in capsys.readouterr().err
    assert app.test_client().post("/voice", data=form(SID)).status_code == 200


def test_readyz_reports_backends_and_served_policy(app):
    call(app, "hello")
    body = app.test_client().get("/readyz").get_json()
    assert body["backends"]["docstore"] == "up" and body["backends"]["redis"] == "not configured"
    assert body["policies"]["demo-hvac"]["version"] == 1


# --- several workers sharing Redis -----------------------------------------------------------

def test_session_continuity_across_two_workers_sharing_redis(tmp_path, redis_url):
    data = tmp_path / "shared"
    a = make_app(data, REDIS_URL=redis_url).test_client()
    b = make_app(data, REDIS_URL=redis_url).test_client()
    greet(a)
    say_turn(b, 1, "")            # worker B: first silence
    say_turn(a, 2, "")            # worker A has an old L0 copy (seq 0): must see silence=1 from Redis
    root = say_turn(b, 3, "")     # third silence in a row, across workers: goodbye
    assert root.find("./Hangup") is not None


def test_stale_l0_is_detected_by_the_sequence_number(tmp_path, redis_url):
    data = tmp_path / "shared"
    app_a = make_app(data, REDIS_URL=redis_url)
    app_b = make_app(data, REDIS_URL=redis_url)
    a, b = app_a.test_client(), app_b.test_client()
    greet(a)
    say_turn(a, 1, "what are your hours")
    say_turn(b, 2, "can I get a discount")
    say_turn(a, 3, "are you a robot")
    assert app_a.extensions["sessions"].hits["stale"] >= 1
    session, tier = app_a.extensions["sessions"].load(SID, 3)
    assert session["seq"] == 3 and session["turn_count"] == 3
    assert [t["seq"] for t in turns_coll(app_a).find({"call_sid": SID}, sort=[("seq", 1)])] == [0, 1, 2, 3]


def test_without_redis_workers_share_sessions_through_the_document_store(tmp_path):
    data = tmp_path / "shared"
    a = make_app(data).test_client()
    b = make_app(data).test_client()
    greet(a)
    say_turn(b, 1, "")
    say_turn(a, 2, "")
    assert say_turn(b, 3, "").find("./Hangup") is not None


def test_transfer_to_a_sip_contact(app):
    sheet = {"behaviorRules": [], "guardrails": [], "allowedActions": ["TRANSFER_GENERAL"],
             "edgeCases": [{"id": "ec-mgr", "name": "Manager", "match": {"keywordsAny": ["the manager"]},
                            "action": {"type": "force_transfer", "transferTarget": "manager",
                                       "transferMessage": "Connecting you to the manager."}}]}
    activate_sheet(app, sheet)
    client = app.test_client()
    greet(client)
    root = say_turn(client, 1, "let me talk to the manager")
    assert said(root) == ["Connecting you to the manager."]
    assert root.find("./Dial/Sip").text == "sip:manager@demo-hvac.example"
    assert root.find("./Dial").get("callerId") == "+15125550100"
