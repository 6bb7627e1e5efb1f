"""Prometheus exposition at /metrics."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ADMIN
from tests.twilio_helpers import call


def samples(app):
    text = app.test_client().get("/metrics").get_data(as_text=True)
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(s, name, **labels):
    return s.get((name, tuple(sorted(labels.items()))), 0.0)


def test_turns_rules_guardrails_and_compiles_are_counted(app):
    before = samples(app)
    call(app, "what are your hours", "are you a robot", "there's water everywhere")
    app.test_client().put("/admin/companies/demo-hvac/cheatsheet", json={"edgeCases": [{"id": "x"}]},
                          headers={"Authorization": f"Bearer {ADMIN}"})
    after = samples(app)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("voice_turns_total", tier="1") == 1
    assert delta("voice_edge_case_hits_total", company="demo-hvac", rule="ec-machine") == 1
    assert delta("voice_transfer_rule_hits_total", company="demo-hvac", rule="tr-emergency") == 1
    assert delta("voice_engine_latency_seconds_count") >= 4
    assert delta("voice_session_loads_total", tier="l0") >= 3
    assert delta("policy_rollout_arm_turns_total", arm="full") >= 4
    assert delta("policy_compiles_total", result="failure") == 1


def test_metrics_endpoint_is_prometheus_text(app):
    r = app.test_client().get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert re.search(r"^# TYPE voice_engine_latency_seconds histogram$", r.get_data(as_text=True), re.M)
