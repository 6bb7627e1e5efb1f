"""The five alerts: each fires over its rolling window (shared through Redis) and clears; webhook posts."""

from __future__ import annotations

import json

import pytest
import responses

from monitoring.alerts import two_proportion_p
from tests.conftest import ADMIN, make_app
from tests.twilio_helpers import call

HOOK = "https://hooks.example/alerts"
LLM = "https://llm.example/v1/chat/completions"


@pytest.fixture
def app(tmp_path, redis_url):
    # Tier 3 is configured (and failing, see the TIER3_SPIKE test): the spike counts turns that asked it.
    return make_app(tmp_path / "d", REDIS_URL=redis_url, ALERT_WEBHOOK_URL=HOOK, LLM_URL=LLM)


def engine(app):
    return app.extensions["alerts"]


def clock(app):
    return app.extensions["conversation"].clock


def posted():
    return [json.loads(c.request.body) for c in responses.calls if c.request.url == HOOK]


def fires_then_clears(app, name, minutes):
    results = engine(app).evaluate()
    assert results[name][0], results[name]
    # (On a loaded machine a slow engine turn may fire CHEATSHEET_PERF_FAULT too: the alert asked about is checked.)
    [record] = [r for r in engine(app).list("firing") if r["name"] == name]
    assert record["figures"]["source"] == "redis"
    clock(app).t += (minutes + 1) * 60
    results = engine(app).evaluate()
    assert not results[name][0]
    [done] = [r for r in engine(app).list("resolved") if r["name"] == name]
    assert done["ended_at"] > done["started_at"]
    statuses = [(p["alert"], p["status"]) for p in posted() if p["alert"] == name]
    assert statuses == [(name, "firing"), (name, "resolved")]
    return record


@responses.activate
def test_tier3_spike_fires_on_real_turns_and_clears(app):
    responses.add(responses.POST, HOOK)
    responses.add(responses.POST, LLM, status=503)
    for i in range(10):
        call(app, "my neighbor told me something weird last week", "what are your hours", caller=f"+1512555{2000 + i}")
    record = fires_then_clears(app, "TIER3_SPIKE", 15)
    assert record["figures"]["turns"] == 20 and record["figures"]["ratio"] == 0.5


@responses.activate
def test_a_normal_mix_does_not_fire(app):
    responses.add(responses.POST, HOOK)
    for i in range(12):
        call(app, "what are your hours", "are you a robot")
    assert not any(firing for firing, _ in engine(app).evaluate().values())
    assert posted() == []


@responses.activate
def test_cheatsheet_perf_fault(app):
    responses.add(responses.POST, HOOK)
    for i in range(100):
        engine(app).observe_turn({"kind": "turn", "tier": "1", "latency_ms": {"engine": 15.0 if i < 3 else 0.04}})
    record = fires_then_clears(app, "CHEATSHEET_PERF_FAULT", 5)
    assert record["figures"]["engine_p99_ms_upper_bound"] == 20


@responses.activate
def test_policy_compile_failed_on_refused_drafts(app):
    responses.add(responses.POST, HOOK)
    client = app.test_client()
    for _ in range(3):
        r = client.put("/admin/companies/demo-hvac/cheatsheet", json={"edgeCases": [{"id": "bad"}]},
                       headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 422
    record = fires_then_clears(app, "POLICY_COMPILE_FAILED", 10)
    assert record["figures"]["failures"] == 3


@responses.activate
def test_canary_regression_needs_significance_and_a_minimum_sample(app):
    responses.add(responses.POST, HOOK)
    a = engine(app)
    for i in range(50):  # below the minimum sample: the stage holds, nothing fires
        a.observe_turn({"kind": "turn", "tier": "1", "perf_fault": i < 10, "arm": "canary"})
        a.observe_turn({"kind": "turn", "tier": "1", "arm": "full"})
    firing, figures = a.evaluate()["CANARY_REGRESSION"]
    assert not firing and figures["held"]
    for i in range(150):
        a.observe_turn({"kind": "turn", "tier": "1", "perf_fault": i < 30, "arm": "canary"})
        a.observe_turn({"kind": "turn", "tier": "1", "perf_fault": i < 3, "arm": "full"})
    fires_then_clears(app, "CANARY_REGRESSION", 10)


def test_two_proportion_test():
    assert two_proportion_p(1, 50, 0, 50) > 0.05          # one error in 50 is not evidence
    assert two_proportion_p(40, 200, 3, 200) < 0.001
    assert two_proportion_p(0, 0, 0, 0) == 1.0            # 0/0 is inconclusive, never a pass


@responses.activate
def test_redis_down_fires_while_redis_is_dead_and_clears_when_back(tmp_path, own_redis):
    responses.add(responses.POST, HOOK)
    app = make_app(tmp_path / "d", REDIS_URL=own_redis.url, ALERT_WEBHOOK_URL=HOOK, BREAKER_COOLDOWN=0.1)
    call(app, "what are your hours")
    own_redis.stop()
    for i in range(3):
        call(app, "what are your hours", "are you a robot")
    results = engine(app).evaluate()
    firing, figures = results["REDIS_DOWN"]
    assert firing and figures["hit_rate"] < 0.5
    [record] = engine(app).list("firing")
    assert record["name"] == "REDIS_DOWN" and record["figures"]["source"] == "local"
    own_redis.start()
    import time

    time.sleep(0.2)  # the breaker's cooldown
    clock(app).t += 6 * 60
    for i in range(3):
        call(app, "what are your hours")
    assert not engine(app).evaluate()["REDIS_DOWN"][0]
    assert [p["status"] for p in posted()] == ["firing", "resolved"]


def test_alerts_are_listed_through_the_admin_api(app):
    for _ in range(3):
        app.test_client().put("/admin/companies/demo-hvac/cheatsheet", json={"x": 1},
                              headers={"Authorization": f"Bearer {ADMIN}"})
    engine(app).evaluate()
    body = app.test_client().get("/admin/alerts?state=firing", headers={"Authorization": f"Bearer {ADMIN}"}).get_json()
    assert [a["name"] for a in body["alerts"]] == ["POLICY_COMPILE_FAILED"]
    assert app.test_client().get("/admin/alerts?state=x", headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 400


def test_the_prometheus_rules_file_uses_only_exposed_metrics(app):
    import re

    import yaml

    from tests.conftest import ROOT

    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    assert sorted(r["alert"] for r in rules) == sorted(["TIER3_SPIKE", "CHEATSHEET_PERF_FAULT",
                                                        "POLICY_COMPILE_FAILED", "CANARY_REGRESSION", "REDIS_DOWN"])
    exposed = app.test_client().get("/metrics").get_data(as_text=True)
    for rule in rules:
        for name in re.findall(r"\b((?:voice|policy)_[a-z_]+)\b", rule["expr"]):
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            assert f"# TYPE {base} " in exposed or f"# TYPE {base.removesuffix('_total')} " in exposed, name


@responses.activate
def test_without_redis_workers_share_their_counts_through_the_store_and_alerts_do_not_flap(tmp_path):
    responses.add(responses.POST, LLM, status=503)
    a = make_app(tmp_path / "shared", LLM_URL=LLM)
    b = make_app(tmp_path / "shared", LLM_URL=LLM)
    for i in range(10):  # Tier 3 is asked on worker A only; worker B answers ordinary turns
        call(a, "my neighbor told me something weird last week", caller=f"+1512555{3000 + i}")
        call(b, "what are your hours", caller=f"+1512555{4000 + i}")
    for worker in (a, b):
        engine(worker).windows.flush()  # what each worker's background thread does every second
    for worker in (b, a, b):  # each evaluator sees both workers' turns: one verdict, no flapping
        results = engine(worker).evaluate()
        assert results["TIER3_SPIKE"][0] and results["TIER3_SPIKE"][1]["turns"] == 20
    # (on a loaded machine a slow engine turn may fire CHEATSHEET_PERF_FAULT as well: not this test's subject)
    [record] = [r for r in engine(a).list("firing") if r["name"] == "TIER3_SPIKE"]
    assert record["figures"]["source"] == "docstore"
    assert [r for r in engine(b).list("resolved") if r["name"] == "TIER3_SPIKE"] == []
    assert not engine(a).evaluate()["CANARY_REGRESSION"][0]
