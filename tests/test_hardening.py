"""What trying to break the app found (issue 11): each case failed before its fix."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import redis as redislib

from tests.conftest import make_app
from tests.twilio_helpers import form, signed_post, turns_coll

SID = "CA" + "d" * 32
WORDS = ["what are your hours", "do you have a maintenance plan", "how often should I change my filter",
         "what areas do you serve", "thanks", "bye"]


def turn(client, seq, sid=SID):
    return signed_post(client, f"/voice/turn?seq={seq}", form(sid, SpeechResult=WORDS[seq - 1], Confidence="0.9"))


def redis_seq(url: str, sid: str = SID) -> int:
    raw = redislib.Redis.from_url(url).get(f"session:{sid}")
    return int(raw.split(b"|", 1)[0])


def test_a_late_copy_of_an_old_turn_never_rolls_the_call_back(tmp_path, redis_url):
    a = make_app(tmp_path / "shared", REDIS_URL=redis_url)
    b = make_app(tmp_path / "shared", REDIS_URL=redis_url)
    ca, cb = a.test_client(), b.test_client()
    signed_post(ca, "/voice", form(SID))
    turn(ca, 1)                                   # worker A's cache stops at turn 1
    first_two = turn(cb, 2).get_data(as_text=True)
    turn(cb, 3)
    turn(cb, 4)                                   # worker B moved the call to turn 4
    again = turn(ca, 2)                           # Twilio re-delivers turn 2 to worker A
    assert again.status_code == 200 and again.get_data(as_text=True) == first_two
    assert redis_seq(redis_url) == 4              # nothing was rolled back
    assert ET.fromstring(turn(ca, 5).get_data(as_text=True)).find("./Gather") is not None
    seqs = [t["seq"] for t in turns_coll(a).find({"call_sid": SID}, sort=[("seq", 1)])]
    assert seqs == [0, 1, 2, 3, 4, 5]


def test_a_turn_ahead_of_the_call_is_refused_and_writes_nothing(app):
    client = app.test_client()
    signed_post(client, "/voice", form(SID))
    turn(client, 1)
    for seq in (3, 99_999):
        resp = signed_post(client, f"/voice/turn?seq={seq}", form(SID, SpeechResult="hello", Confidence="0.9"))
        assert resp.status_code == 400 and "ahead of the call" in resp.get_data(as_text=True)
    assert [t["seq"] for t in turns_coll(app).find({"call_sid": SID}, sort=[("seq", 1)])] == [0, 1]
    session, _ = app.extensions["sessions"].load(SID, 1)
    assert session["seq"] == 1
    assert turn(client, 2).status_code == 200  # the call goes on


def test_a_write_the_store_refuses_for_good_is_set_aside_and_the_queue_goes_on(tmp_path):
    from records.backend import open_docstore
    from records.outbox import Outbox
    from records.writer import MAX_ATTEMPTS, DurableWriter, insert, update

    db = open_docstore("", str(tmp_path / "db"))
    outbox = Outbox(str(tmp_path / "outbox.sqlite3"))
    writer = DurableWriter(db, outbox)
    db["calls"].insert_one({"_id": "x"})
    outbox.add(update("calls", {"_id": "x"}, {"not_an_operator": 1}))  # refused whatever the store's health
    outbox.add(insert("calls", {"_id": "y", "ok": True}))
    for _ in range(MAX_ATTEMPTS):
        writer.flush()
    assert outbox.count() == 0 and outbox.refused() == 1
    assert db["calls"].find_one({"_id": "y"}) == {"_id": "y", "ok": True}
