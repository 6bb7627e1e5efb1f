"""Real gunicorn workers sharing one Redis and one embedded store: calls go on across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

from records.docstore import EmbeddedClient
from tests.conftest import ROOT, TOKEN, free_port
from voice.simulator import CallSimulator, http_transport


@pytest.fixture
def gunicorn(tmp_path, redis_url):
    port = free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "REDIS_URL": redis_url, "MONGODB_URI": "",
           "TWILIO_AUTH_TOKEN": TOKEN, "ADMIN_TOKEN": "x", "VALIDATE_TWILIO_SIGNATURE": "true",
           "WEB_CONCURRENCY": "2", "PUBLIC_BASE_URL": "", "TRUSTED_PROXY_HOPS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind",
                             f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "app:app"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if requests.get(base + "/readyz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("gunicorn did not start: " + proc.stderr.read().decode()[-2000:])
    yield base, tmp_path / "data"
    proc.terminate()
    proc.wait(10)


def test_calls_across_two_gunicorn_workers(gunicorn):
    base, data = gunicorn
    results = []
    for i in range(6):
        sim = CallSimulator(http_transport(), auth_token=TOKEN, base_url=base, caller=f"+1512555{1000 + i}")
        results.append(sim.run(["what are your hours", "", "do you have a maintenance plan", "", "", ""]))
    db = EmbeddedClient(str(data))["voiceagent"]
    for res in results:
        assert "http-error" not in res.kinds()
        # Three silences in a row end the call, whichever worker took each turn.
        assert res.heard()[-1].startswith("I haven't heard anything")
        seqs = [t["seq"] for t in db["turns"].find({"call_sid": res.call_sid}, sort=[("seq", 1)])]
        assert seqs == list(range(7))
        log = db["calls"].find_one({"_id": res.call_sid})
        assert log["status"] == "completed" and log["session"]["seq"] == 6
    assert db["companies"].count_documents({}) == 1  # the demo was seeded once, not once per worker
    # /metrics merges every worker's samples (prometheus_client multiprocess mode).
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(base + "/metrics", timeout=5).text
    turns = sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                if s.name == "voice_turns_total")
    assert turns == 6 * 2  # two spoken turns per call (the rest are silence), whichever worker answered


def test_every_worker_serves_a_rolled_back_version_within_two_seconds(gunicorn):
    base, data = gunicorn
    auth = {"Authorization": "Bearer x"}
    import yaml

    from tests.conftest import ROOT

    sheet = yaml.safe_load((ROOT / "examples" / "companies" / "demo-hvac.yaml").read_text())["cheatSheet"]
    sheet["edgeCases"][3]["action"]["inlineResponse"] = "I'm an automated assistant."
    assert requests.put(base + "/admin/companies/demo-hvac/cheatsheet", json=sheet, headers=auth).status_code == 201
    assert requests.post(base + "/admin/companies/demo-hvac/cheatsheet/compile", headers=auth).status_code == 200
    straight = {"shadow": {"share": 0}, "canary": {"share": 0}}   # through the gate, then full at once
    r = requests.post(base + "/admin/companies/demo-hvac/rollout", json={"version": 2, "plan": straight}, headers=auth)
    assert r.status_code == 201 and r.json()["active"]["version"] == 2, r.text
    r = requests.post(base + "/admin/companies/demo-hvac/rollout/rollback", json={"why": "test"}, headers=auth)
    assert r.status_code == 200, r.text
    done, revision = time.monotonic(), r.json()["revision"]
    first_seen: dict[int, float] = {}
    while len(first_seen) < 2:
        ready = requests.get(base + "/readyz", timeout=5).json()["serving"]
        seen = ready["companies"]["demo-hvac"]
        late = time.monotonic() - done
        if seen["revision"] == revision:
            assert seen["active"] == 1 and seen["rollout"] is None
            first_seen.setdefault(ready["pid"], late)
        else:
            assert late < 2.0, f"worker {ready['pid']} still serves revision {seen['revision']} after {late:.2f} s"
        assert late < 10, f"only saw workers {sorted(first_seen)}"
    assert max(first_seen.values()) < 2.0
    for i in range(4):
        sim = CallSimulator(http_transport(), auth_token=TOKEN, base_url=base, caller=f"+1512555{4000 + i}")
        assert "virtual assistant" in sim.run(["are you a robot"]).heard()[1]
