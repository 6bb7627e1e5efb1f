"""Crash consistency: a process killed at any step of a turn loses no answered turn and records none twice.

A real app process is killed (``os._exit``, as abrupt as kill -9) at a named step of turn 3
(test-mode crash points), a new process takes over the same store and Redis, and Twilio's
retry of turn 3 is delivered to it: the call log must hold every turn exactly once, the
session must be at the last turn, and the call must go on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

from records.docstore import EmbeddedClient
from tests.conftest import ROOT, TOKEN, free_port
from tests.twilio_helpers import form
from twilio.request_validator import RequestValidator

SID = "CA" + "c" * 32
WORDS = ["what are your hours", "do you have a maintenance plan", "how often should I change my filter",
         "what areas do you serve", "thanks"]
SERVER = ("import sys; from app import create_app; "
          "create_app().run(host='127.0.0.1', port=int(sys.argv[1]), threaded=False)")


class Server:
    """The app in one process of its own (a crash point kills it outright)."""

    def __init__(self, data_dir, redis_url: str, crash_at: str = "", port: int | None = None) -> None:
        self.port = port or free_port()
        env = {**os.environ, "DATA_DIR": str(data_dir), "REDIS_URL": redis_url, "MONGODB_URI": "",
               "TWILIO_AUTH_TOKEN": TOKEN, "ADMIN_TOKEN": "x", "VALIDATE_TWILIO_SIGNATURE": "true",
               "TESTING": "true", "CRASH_AT": crash_at, "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}"}
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, str(self.port)], cwd=ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(200):
            try:
                requests.get(self.base + "/healthz", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.05)
        self.stop()
        pytest.fail("the app did not start")

    def post(self, path: str, data: dict) -> requests.Response:
        sig = RequestValidator(TOKEN).compute_signature(self.base + path, data)
        return requests.post(self.base + path, data=data, headers={"X-Twilio-Signature": sig}, timeout=5)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


def turn(server: Server, seq: int) -> requests.Response:
    return server.post(f"/voice/turn?seq={seq}", form(SID, SpeechResult=WORDS[seq - 1], Confidence="0.9"))


@pytest.mark.parametrize("step", ["before_record", "after_record", "after_save"])
@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "store-only"])
def test_a_process_killed_mid_turn_loses_nothing_and_records_nothing_twice(tmp_path, redis_url, step, with_redis):
    data = tmp_path / "data"
    url = redis_url if with_redis else ""
    first = Server(data, url, crash_at=f"{step}:3")
    try:
        assert first.post("/voice", form(SID)).status_code == 200
        replies = [turn(first, 1).text, turn(first, 2).text]
        with pytest.raises(requests.ConnectionError):
            turn(first, 3)  # the process dies at the crash point, before it can answer
        first.proc.wait(5)
        assert first.proc.returncode == 70
    finally:
        first.stop()
    second = Server(data, url, port=first.port)  # the same public URL, as behind Twilio
    try:
        retried = turn(second, 3)  # Twilio retries the turn nobody answered
        assert retried.status_code == 200 and "<Gather" in retried.text
        assert turn(second, 4).status_code == 200
        assert turn(second, 2).text == replies[1]  # a late copy of an old turn is answered as before
        assert second.post("/voice/status", form(SID, CallStatus="completed", CallDuration="30")).status_code == 200
    finally:
        second.stop()
    db = EmbeddedClient(str(data))["voiceagent"]
    seqs = [t["seq"] for t in db["turns"].find({"call_sid": SID}, sort=[("seq", 1)])]
    assert seqs == [0, 1, 2, 3, 4]  # every answered turn, once
    header = db["calls"].find_one({"_id": SID})
    assert header["session"]["seq"] == 4 and header["status"] == "completed"


def test_a_process_killed_after_answering_before_its_turn_landed_loses_nothing(tmp_path, redis_url):
    """The turn journal: a turn's record is answered from a journal append and lands just after; the process
    dies in between (no exit hook runs). The next process replays the journal at start."""
    data = tmp_path / "data"
    first = Server(data, redis_url, crash_at="before_landing")
    try:
        assert first.post("/voice", form(SID)).status_code == 200  # a new call's first turn is written at once
        answered = turn(first, 1)
        assert answered.status_code == 200 and "<Gather" in answered.text  # the caller heard turn 1 ...
        first.proc.wait(5)
        assert first.proc.returncode == 70  # ... and the process died before writing it to the store
    finally:
        first.stop()
    journal = data / "journal"
    assert [p.name for p in journal.iterdir()], "the answered turn is in the dead process's journal"
    db = EmbeddedClient(str(data))["voiceagent"]
    assert [t["seq"] for t in db["turns"].find({"call_sid": SID})] == [0]
    second = Server(data, redis_url, port=first.port)
    try:
        assert [t["seq"] for t in db["turns"].find({"call_sid": SID}, sort=[("seq", 1)])] == [0, 1]  # replayed
        assert list(journal.iterdir()) == []
        assert turn(second, 1).text == answered.text  # a late copy is answered as before
        assert "<Gather" in turn(second, 2).text
        assert second.post("/voice/status", form(SID, CallStatus="completed", CallDuration="30")).status_code == 200
    finally:
        second.stop()
    assert [t["seq"] for t in db["turns"].find({"call_sid": SID}, sort=[("seq", 1)])] == [0, 1, 2]
    header = db["calls"].find_one({"_id": SID})
    assert header["session"]["seq"] == 2 and header["status"] == "completed"
