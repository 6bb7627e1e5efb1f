"""``flask rollout ...``, lazy ticks on requests, and the webhook's fallback counted against its arm."""

from __future__ import annotations

import time

from tests.conftest import make_app
from tests.test_rollout import app, clock, H, save, talk, turns_of, v2_sheet  # noqa: F401 - app, clock: fixtures
from tests.twilio_helpers import calls_coll, form, signed_post


def run(app, *args):
    return app.test_cli_runner().invoke(args=["rollout", *args])


def test_staff_drive_a_rollout_from_the_shell(app, clock):
    v2 = save(app, v2_sheet())
    out = run(app, "try", "demo-hvac", "--version", str(v2))
    assert out.exit_code == 0 and "gate: deployable: 35 of 36" in out.output   # 97%: its golden test 0 changed
    assert "FAIL test:0" in out.output and "differences from the active policy: 1" in out.output
    out = run(app, "deploy", "demo-hvac", str(v2), "--skip-shadow", "--canary-share", "0.2", "--by", "sam")
    assert out.exit_code == 0, out.output
    assert "stage canary (share 20%)" in out.output
    assert run(app, "pause", "demo-hvac").exit_code == 0
    talk(app, clock, "are you a robot", n=3)
    clock.t += 3600
    out = run(app, "status", "demo-hvac")
    assert "PAUSED" in out.output and "next      hold: paused by staff" in out.output
    assert run(app, "resume", "demo-hvac").exit_code == 0
    out = run(app, "promote", "demo-hvac", "--share", "0.8")
    assert out.exit_code == 0 and "share 80%" in out.output
    out = run(app, "promote", "demo-hvac", "--share", "0.5")
    assert out.exit_code == 1 and "can only be raised" in out.output
    assert "no rollout running" not in run(app, "tick").output
    out = run(app, "promote", "demo-hvac")
    assert out.exit_code == 0 and "none running" in out.output and "version 2 (" in out.output
    out = run(app, "history", "demo-hvac")
    assert out.exit_code == 0
    for what in ("deploy", "pause", "resume", "share", "full"):
        assert f" {what} " in out.output, what
    assert "by sam" in out.output
    assert run(app, "tick").output.strip() == "no rollout running"
    assert run(app, "status", "nobody").exit_code == 1


def test_a_request_ticks_a_running_rollout_in_the_background(tmp_path, clock):
    app = make_app(tmp_path / "data", CLOCK=clock, ROLLOUT_TICK_S=0.01)
    v2 = save(app, v2_sheet())
    plan = {"shadow": {"share": 1.0, "minDurationS": 0, "minSamples": 2},
            "canary": {"share": 0.5, "minDurationS": 3600, "minSamples": 10}}
    assert app.test_client().post("/admin/companies/demo-hvac/rollout", json={"version": v2, "plan": plan},
                                  headers=H).status_code == 201
    talk(app, clock, "my neighbor told me something weird last week", n=2)
    companies = app.extensions["catalog"].companies
    deadline = time.monotonic() + 5
    while companies.get("demo-hvac", fresh=True)["rollout"]["stage"] != "canary":
        assert time.monotonic() < deadline, "no tick moved the rollout on"
        time.sleep(0.02)
        talk(app, clock, "what are your hours")      # each new call may tick it (at most every 10 ms here)


def test_the_webhooks_fallback_counts_against_the_calls_arm(app, clock, monkeypatch):
    v2 = save(app, v2_sheet())
    plan = {"shadow": {"share": 0}, "canary": {"share": 1.0, "minDurationS": 600, "minSamples": 10}}
    assert app.test_client().post("/admin/companies/demo-hvac/rollout", json={"version": v2, "plan": plan},
                                  headers=H).status_code == 201
    [ok] = talk(app, clock, "what are your hours")
    assert turns_of(app, ok.call_sid)[0]["arm"] == "canary"

    def broken(*a, **k):
        raise RuntimeError("the candidate fell over")
    monkeypatch.setattr("conversation.pipeline.policy.finish", broken)
    r = signed_post(app.test_client(), "/voice/turn?seq=2", form(ok.call_sid, SpeechResult="hello again"))
    assert r.status_code == 200 and "problem on our end" in r.get_data(as_text=True)
    assert calls_coll(app).find_one({"_id": ok.call_sid})["late_errors"] == ["fallback"]
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'policy_rollout_errors_total{arm="canary",kind="fallback"}' in metrics


def test_a_rollout_holds_while_the_store_is_down_and_calls_keep_their_arms(tmp_path, clock, redis_url):
    from tests.test_faults import LockedStore

    app = make_app(tmp_path / "d", CLOCK=clock, ROLLOUT_TICK_S=0, REDIS_URL=redis_url, BREAKER_COOLDOWN=0.2,
                   OUTBOX_FLUSH_S=0.1)
    v2 = save(app, v2_sheet())
    plan = {"shadow": {"share": 0}, "canary": {"share": 0.5, "minDurationS": 0, "minSamples": 1}}
    assert app.test_client().post("/admin/companies/demo-hvac/rollout", json={"version": v2, "plan": plan},
                                  headers=H).status_code == 201
    locked = LockedStore(tmp_path / "d" / "voiceagent.sqlite3")
    try:
        time.sleep(1.1)                                   # every cached copy of the company has expired
        calls = talk(app, clock, "are you a robot", n=8)
        arms = {heard_arm(c) for c in calls}
        # Served by the pinned policies, not SAFE_DEFAULT (whose acknowledgement no longer marks them: issue 12).
        assert all("assistant for Demo Heating & Air" in c.heard()[1] for c in calls) and arms == {"canary", "control"}
        r = app.test_client().get("/admin/companies/demo-hvac/rollout", headers=H)
        assert r.status_code == 503 and "nothing was changed" in r.get_json()["errors"][0]["message"]
        ticked = run(app, "tick")
        assert ticked.exit_code == 1 and "the document store is unavailable, nothing was changed" in ticked.output
    finally:
        locked.release()
    deadline = time.monotonic() + 5
    while app.extensions["writer"].outbox.count() and time.monotonic() < deadline:
        time.sleep(0.1)
    r = app.test_client().get("/admin/companies/demo-hvac/rollout", headers=H)
    assert r.status_code == 200
    assert r.get_json()["rollout"]["arms"]["canary"]["calls"] + r.get_json()["rollout"]["arms"]["control"]["calls"] == 8


def heard_arm(result):
    """The arm a call heard, from the TwiML it got (the store may still be catching up on its records)."""
    return "canary" if "automated assistant" in result.heard()[1] else "control"
