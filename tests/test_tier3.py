"""Tier 3: the chat-completions endpoint, its failures, and its actions going through the allowlist."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from tests.conftest import make_app
from tests.twilio_helpers import call, turns_coll

LLM = "https://llm.example/v1/chat/completions"


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path / "d", LLM_URL=LLM, LLM_API_KEY="sk-test", LLM_MODEL="test-model",
                    TIER_COSTS="1=0,2=0.0001,3=0.003,fallback=0")


def completion(content):
    return {"id": "c1", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def turn1(app, result):
    return turns_coll(app).find_one({"call_sid": result.call_sid, "seq": 1})


@responses.activate
def test_tier3_answers_when_tiers_1_and_2_do_not(app):
    responses.add(responses.POST, LLM, json=completion(json.dumps(
        {"reply": "We can look at your heat pump's defrost cycle when a technician visits.", "action": "BOOK_APPT"})))
    result = call(app, "my neighbor told me something weird last week")
    # The acknowledgement in front varies by call and turn (issue 12).
    assert result.heard()[1].lower().endswith("we can look at your heat pump's defrost cycle when a technician visits.")
    turn = turn1(app, result)
    assert turn["tier"] == "3" and turn["tier3"] == "used" and turn["cost"] == 0.003
    body = json.loads(responses.calls[0].request.body)
    assert responses.calls[0].request.headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "test-model"
    system = body["messages"][0]["content"]
    assert "diagnosticFee: $89" in system and "Business hours" in system and "BOOK_APPT" in system
    assert body["messages"][1]["content"] == "my neighbor told me something weird last week"


@responses.activate
def test_tier1_never_calls_the_llm(app):
    result = call(app, "what are your hours")
    assert len(responses.calls) == 0 and turn1(app, result)["tier"] == "1"


@pytest.mark.parametrize("reply", [
    requests.exceptions.ReadTimeout("slow"),
    requests.exceptions.ConnectionError("refused"),
    {"status": 500},
    completion("Sure! I think you should..."),            # not JSON
    completion(json.dumps({"answer": "x"})),             # JSON without a reply
    completion(json.dumps({"reply": "", "action": None})),
    {"unexpected": "shape"},
])
@responses.activate
def test_a_bad_slow_or_failed_answer_falls_back_to_the_safe_reply(app, reply):
    if isinstance(reply, Exception):
        responses.add(responses.POST, LLM, body=reply)
    elif reply.get("status"):
        responses.add(responses.POST, LLM, status=500, json={"error": "boom"})
    else:
        responses.add(responses.POST, LLM, json=reply)
    result = call(app, "my neighbor told me something weird last week")
    assert "take a message" in result.heard()[1]
    turn = turn1(app, result)
    assert turn["tier"] == "fallback" and turn["tier3"] == "failed" and turn["cost"] == 0.003


@pytest.mark.parametrize("action", ["DELETE_ALL_DATA", "TRANSFER_SALES"])
@responses.activate
def test_a_forbidden_action_from_the_llm_is_blocked(app, action):
    responses.add(responses.POST, LLM, json=completion(json.dumps({"reply": "Done, I did it.", "action": action})))
    result = call(app, "please wipe my account and everything in it now")
    assert "I can't take care of that for you directly" in result.heard()[1] or \
        "not able to connect you" in result.heard()[1]
    turn = turn1(app, result)
    assert {"type": "ACTION_BLOCKED", "id": action, "name": f"{action} is not allowed"} in turn["blocks"]
    assert any(e["type"] == "SECURITY_EVENT" for e in turn["side_effects"])


def test_without_an_llm_configured_the_fallback_is_used(tmp_path):
    app = make_app(tmp_path / "d")
    result = call(app, "my neighbor told me something weird last week")
    turn = turn1(app, result)
    assert turn["tier"] == "fallback" and turn["tier3"] is None
