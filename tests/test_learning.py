"""Learning, whole calls: turns feed the queues, approve -> template -> Tier 1, degraded -> incident queue."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, make_app
from tests.twilio_helpers import call, turns_coll

GARAGE = "do you fix garage door openers"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def app(tmp_path):
    """The app with learning driven by hand (no background thread, no timed runs)."""
    return make_app(tmp_path / "data", LEARNING_BATCH_S=0, LEARNING_RUN_S=0)


def _items(app, **flt):
    return list(app.extensions["learning"].store.items.find({"company_id": "demo-hvac", **flt}))


def test_a_turn_feeds_the_queues_off_the_callers_path(app):
    call(app, GARAGE)
    call(app, "this is ridiculous, I am so frustrated with you people")
    feed = app.extensions["learning_feed"]
    assert _items(app) == [] and feed.pending() == 2  # noted during the call, processed later
    assert feed.drain() == 2
    scenario = _items(app, queue="scenario")
    assert {i["reason"] for i in scenario} == {"NEW_INTENT"}
    assert GARAGE in {i["text"] for i in scenario}
    upset = _items(app, queue="cheatsheet")
    assert [(i["reason"], i["cue"]) for i in upset] == [("BEHAVIOR_INCONSISTENCY", "upset")]
    call(app, GARAGE)
    feed.drain()
    assert "REPEATED_TIER3" in {i["reason"] for i in _items(app, queue="scenario")}


def test_a_batch_is_written_together_and_reads_its_own_turns(app, monkeypatch):
    from learning import store as learning_store

    monkeypatch.setattr(learning_store, "WRITES_PER_TRANSACTION", 2)
    groups = []
    real = learning_store.atomic
    mine = app.extensions["learning"].store.db
    # Only this app's transactions count (an earlier test's app may still run a background batch meanwhile).
    monkeypatch.setattr(learning_store, "atomic", lambda db: (db is mine and groups.append(1)) or real(db))
    for words in (GARAGE, "what are your hours", GARAGE, "when are you open"):
        call(app, words)
    assert app.extensions["learning_feed"].drain() == 4
    # The same unanswered words twice in one batch: the second time is a repeat, as turn after turn.
    # The answered ones are spot checks too: the hours scenario has few examples.
    assert sorted(i["reason"] for i in _items(app, queue="scenario")) == ["NEW_INTENT", "REPEATED_TIER3",
                                                                          "SPOT_CHECK", "SPOT_CHECK"]
    assert len(app.extensions["learning"].store.sample("demo-hvac")) == 2
    assert len(groups) == 3  # two answered turns and four items: three transactions of two writes


def test_answered_turns_are_not_queued(app, monkeypatch):
    from learning import service

    monkeypatch.setattr(service, "SPOT_CHECK_BELOW", 0)  # no scenario with too few examples
    call(app, "what are your hours")
    app.extensions["learning_feed"].drain()
    assert _items(app) == []
    assert app.extensions["learning"].store.sample("demo-hvac")  # kept as context for estimates


def test_sure_answers_of_a_scenario_with_few_examples_are_spot_checked(app, monkeypatch):
    from learning import service

    monkeypatch.setattr(service, "SPOT_CHECK_BELOW", 5)  # the hours scenario has 4 examples
    client = app.test_client()
    asked = ["what are your hours today", "what are your hours on friday", "tell me your hours please"]
    for words in asked:
        call(app, words)
    app.extensions["learning_feed"].drain()
    items = _items(app, queue="scenario")
    assert {i["reason"] for i in items} == {"SPOT_CHECK"} and {i["scenario"] for i in items} == {"hours"}
    assert app.extensions["learning"].store.sample("demo-hvac")  # still context for estimates
    assert client.post("/admin/learning/companies/demo-hvac/run", headers=AUTH).get_json()["suggestions"][
        "scenario"] == 1
    [sug] = client.get("/admin/learning/companies/demo-hvac/suggestions?queue=scenario",
                       headers=AUTH).get_json()["suggestions"]
    assert sug["kind"] == "add_to_scenario" and sug["scenario"] == "hours" and sug["check"]
    assert set(sug["change"]["examples"]) == set(asked)
    done = client.post(f"/admin/learning/suggestions/{sug['_id']}/approve", headers=AUTH)
    assert done.status_code == 200, done.get_json()
    # Confirmed: the hours scenario has enough examples now, and its next sure answer is not queued.
    call(app, "what are your hours on monday")
    app.extensions["learning_feed"].drain()
    assert [i["status"] for i in _items(app, queue="scenario")] == ["approved"] * 3


def test_a_spot_check_staff_refuse_looks_for_its_scenario(app):
    client = app.test_client()
    for words in ("what are your hours today", "what are your hours on friday"):
        call(app, words)
    app.extensions["learning_feed"].drain()
    client.post("/admin/learning/companies/demo-hvac/run", headers=AUTH)
    [sug] = client.get("/admin/learning/companies/demo-hvac/suggestions?queue=scenario",
                       headers=AUTH).get_json()["suggestions"]
    assert client.post(f"/admin/learning/suggestions/{sug['_id']}/reject", headers=AUTH).status_code == 200
    items = _items(app, queue="scenario")
    assert {i["status"] for i in items} == {"pending"} and all(i["refused"] == ["hours"] for i in items)
    # Not proposed for the hours scenario again (they are clustered with the other turns).
    client.post("/admin/learning/companies/demo-hvac/run", headers=AUTH)
    again = client.get("/admin/learning/companies/demo-hvac/suggestions?queue=scenario&status=pending",
                       headers=AUTH).get_json()["suggestions"]
    assert all(s["scenario"] != "hours" for s in again)


def test_approve_updates_the_template_and_the_next_call_is_tier_1(app):
    client = app.test_client()
    for words in (GARAGE, GARAGE, GARAGE + " please"):
        call(app, words)
    assert client.post("/admin/learning/companies/demo-hvac/run", headers=AUTH).get_json()["suggestions"] == {
        "scenario": 1, "cheatsheet": 0}
    listed = client.get("/admin/learning/companies/demo-hvac/suggestions?queue=scenario", headers=AUTH).get_json()
    sug = listed["suggestions"][0]
    assert sug["kind"] == "new_scenario" and sug["count"] == 3 and GARAGE in sug["examples"]
    assert sug["impact"]["to_tier1"] == 3 and 0 < sug["coherence"] <= 1
    # A new scenario needs a reply: approving it as proposed is refused with the field's path.
    refused = client.post(f"/admin/learning/suggestions/{sug['_id']}/approve", headers=AUTH)
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["path"].startswith("change.scenario.replies")
    change = sug["change"]
    change["scenario"]["replies"] = ["We don't service garage doors, but I can take a message for our team."]
    done = client.post(f"/admin/learning/suggestions/{sug['_id']}/approve", json={"change": change}, headers=AUTH)
    assert done.status_code == 200, done.get_json()
    applied = done.get_json()["applied"]
    assert applied["template_version"] == applied["previous_version"] + 1
    result = call(app, GARAGE)
    record = turns_coll(app).find_one({"call_sid": result.call_sid, "seq": 1})
    assert record["tier"] == "1" and record["scenario"] == change["scenario"]["id"]
    assert "garage doors" in " ".join(result.heard())
    # Reversible: the previous version comes back as a new version.
    back = client.post("/admin/templates/hvac-basic/revert", json={"version": applied["previous_version"]},
                       headers=AUTH)
    assert back.status_code == 200 and back.get_json()["version"] == applied["template_version"] + 1
    app.extensions["catalog"].templates._cache.clear()  # another worker would see it within its cache time
    record = turns_coll(app).find_one({"call_sid": call(app, GARAGE).call_sid, "seq": 1})
    assert record["tier"] != "1"


def test_degraded_backend_sends_items_to_the_incident_queue(app):
    breaker = app.extensions["docstore"].breaker
    breaker.opened_at = breaker.clock()  # the document store's breaker is open: degraded
    breaker.failures = breaker.threshold
    try:
        feed = app.extensions["learning_feed"]
        feed.turn({"kind": "turn", "company_id": "demo-hvac", "call_sid": "CA" + "7" * 32, "seq": 1, "at": 1.0,
                   "caller": {"text": GARAGE}, "tier": "fallback", "base_used": True, "confidence": 0.2})
    finally:
        breaker.success()
    feed.drain()
    items = _items(app)
    assert [i["queue"] for i in items] == ["incident"]
    assert items[0]["detail"]["infrastructure"] == ["DOCSTORE_DEGRADED"]
    assert items[0]["detail"]["queue"] == "scenario"


def test_cheatsheet_suggestion_becomes_a_compiled_draft(app):
    client = app.test_client()
    for words in ("I am so frustrated", "this is ridiculous", "I'm really frustrated and upset"):
        call(app, words)
    client.post("/admin/learning/companies/demo-hvac/run", headers=AUTH)
    sug = client.get("/admin/learning/companies/demo-hvac/suggestions?queue=cheatsheet",
                     headers=AUTH).get_json()["suggestions"][0]
    assert sug["kind"] == "edge_case" and "frustrated" in sug["change"]["edgeCase"]["match"]["keywordsAny"]
    before = app.extensions["catalog"].companies.get("demo-hvac", fresh=True)
    done = client.post(f"/admin/learning/suggestions/{sug['_id']}/approve", headers=AUTH).get_json()
    assert done["status"] == "approved"
    assert done["applied"]["cheatsheet_version"] == before["sheet_version"] + 1
    assert done["applied"]["deployed"] is False  # staff deploy the compiled draft like any other version
    versions = client.get("/admin/companies/demo-hvac/cheatsheet/versions", headers=AUTH).get_json()["versions"]
    assert versions[0]["status"] == "compiled"
    again = client.post(f"/admin/learning/suggestions/{sug['_id']}/approve", headers=AUTH)
    assert again.status_code == 409


def test_timed_runs_wait_a_period_after_the_process_starts(tmp_path):
    """A process that just started serves calls: a company's first clustering run waits ``LEARNING_RUN_S`` too."""
    now = [1_000_000.0]
    app = make_app(tmp_path / "data", LEARNING_BATCH_S=0, LEARNING_RUN_S=60, CLOCK=lambda: now[0])
    learning, feed = app.extensions["learning"], app.extensions["learning_feed"]
    for _ in range(3):
        call(app, GARAGE)
    feed.drain()
    assert _items(app, status="pending") and not list(learning.store.suggestions.find({}))
    now[0] += 61
    call(app, GARAGE)
    feed.drain()
    assert list(learning.store.suggestions.find({"company_id": "demo-hvac"}))


def test_only_sure_keyword_answers_are_spot_checked(app):
    learning = app.extensions["learning"]

    def record(n, tier):
        return {"kind": "turn", "company_id": "demo-hvac", "caller": {"text": f"what are your hours {n}"},
                "tier": tier, "confidence": 1.0, "scenario": "hours", "call_sid": f"CA{n:032d}", "seq": 1, "at": 1.0}

    learning.ingest([(record(1, "2"), ())])   # Tier 2's own answer would only repeat the examples it came from
    assert _items(app) == []
    learning.ingest([(record(2, "1"), ())])
    assert [i["reason"] for i in _items(app)] == ["SPOT_CHECK"]
    learning.ingest([(record(3, "1"), ("REDIS_DEGRADED",))])   # nothing is learned from a degraded turn
    assert len(_items(app)) == 1
