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


def _chattr(flag: str, paths) -> bool:
    import shutil
    import subprocess

    if not shutil.which("chattr"):
        return False
    return all(subprocess.run(["chattr", flag, str(p)], capture_output=True).returncode == 0 for p in paths)


def test_a_store_that_fails_in_any_way_takes_the_outbox_and_callers_hear_nothing_of_it(tmp_path):
    import time

    import pytest

    from tests.twilio_helpers import call

    app = make_app(tmp_path / "d", OUTBOX_FLUSH_S=0.1, BREAKER_COOLDOWN=0.1)
    files = [tmp_path / "d" / "voiceagent.sqlite3", tmp_path / "d" / "voiceagent.sqlite3-wal"]
    if not _chattr("+i", files) or not _chattr("-i", files):
        pytest.skip("chattr +i is not available here (needs root on ext2/3/4)")
    broken: list[bool] = []

    def transport(url, data, headers):
        # The store's file and its WAL become unwritable once the transfer is dialled, so the first
        # write that fails is an update (the transfer's outcome): "disk I/O error" at COMMIT.
        if "dial-result" in url and not broken:
            broken.append(_chattr("+i", files))
        resp = app.test_client().post(url.replace("http://localhost", ""), data=data, headers=headers)
        return resp.status_code, resp.get_data(as_text=True)

    from voice.simulator import CallSimulator
    from tests.conftest import TOKEN

    try:
        result = CallSimulator(transport, auth_token=TOKEN, dial_status="busy").run(
            ["there's water everywhere", "Ann Smith", "512 555 0198", "please call me back about the leak",
             "yes"])  # the read-back is confirmed before the message is stored (issue 12)
    finally:
        _chattr("-i", files)
    heard = " ".join(result.heard())
    assert broken == [True] and "problem on our end" not in heard
    assert "no one was able to take your call" in heard and "make sure our team gets your message" in heard
    outbox = app.extensions["writer"].outbox
    deadline = time.monotonic() + 10
    while outbox.count() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert outbox.count() == 0 and outbox.refused() == 0
    db = app.extensions["docstore"]
    assert [t["seq"] for t in db["turns"].find({"call_sid": result.call_sid}, sort=[("seq", 1)])] == list(range(7))
    header = db["calls"].find_one({"_id": result.call_sid})
    assert header["transfer_outcome"]["status"] == "busy" and header["outcome"] == "message_taken"
    assert db["messages"].find_one({"call_sid": result.call_sid})["message"] == "please call me back about the leak"


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


def test_a_group_of_writes_lands_whole_or_waits_whole_in_the_outbox(tmp_path):
    """A turn's record and its session snapshot are one durable write: one transaction in the embedded
    store, so a failure in the middle leaves neither half, and the whole group waits in the outbox."""
    from records.backend import guarded_docstore
    from records.outbox import Outbox
    from records.writer import DUPLICATE, MAX_ATTEMPTS, QUEUED, SKIPPED, WRITTEN, DurableWriter, insert, update

    db = guarded_docstore("", str(tmp_path / "db"))
    outbox = Outbox(str(tmp_path / "outbox.sqlite3"))
    writer = DurableWriter(db, outbox)
    outbox.count()  # an empty outbox: nothing queued ahead of the group
    turn, header = insert("turns", {"_id": "CA1:1", "seq": 1}), update("calls", {"_id": "CA1"}, {"$set": {"seq": 1}},
                                                                      upsert=True)
    assert writer.write_all([turn, header], key="CA1") == [WRITTEN, WRITTEN]
    assert db["calls"].find_one({"_id": "CA1"})["seq"] == 1
    # The same group again (a retried turn): the record is there, so the snapshot is not written again.
    again = update("calls", {"_id": "CA1"}, {"$set": {"seq": 99}})
    assert writer.write_all([turn, again], key="CA1") == [DUPLICATE, SKIPPED]
    assert db["calls"].find_one({"_id": "CA1"})["seq"] == 1
    # The second write of a group fails: the first is undone with it, and both wait, in order.
    bad = update("calls", {"_id": "CA1"}, {"not_an_operator": 1})
    assert writer.write_all([insert("turns", {"_id": "CA1:2", "seq": 2}), bad], key="CA1") == [QUEUED, QUEUED]
    assert db["turns"].find_one({"_id": "CA1:2"}) is None and outbox.count() == 2
    for _ in range(MAX_ATTEMPTS):
        writer.flush()
    assert db["turns"].find_one({"_id": "CA1:2"}) == {"_id": "CA1:2", "seq": 2}  # replayed in order
    assert outbox.count() == 0 and outbox.refused() == 1


def test_a_persisted_turn_writes_its_record_and_snapshot_together(app):
    """On the snapshot schedule the turn's record and the header's snapshot come from one write: both
    at the same turn, whatever else happens after."""
    from tests.twilio_helpers import call

    result = call(app, "what are your hours", "do you have a maintenance plan", "thanks")
    db = app.extensions["docstore"]
    header = db["calls"].find_one({"_id": result.call_sid})
    last = max(t["seq"] for t in db["turns"].find({"call_sid": result.call_sid}))
    assert header["session"]["seq"] == last and header["turns"] == last + 1


# --- the admin API refuses what it cannot serve, and never answers 500 -------------------------------

AUTH = {"Authorization": "Bearer test-admin-token"}


def _sheet(**edge_action):
    return {"allowedActions": ["TAKE_MESSAGE", "TRANSFER_GENERAL"], "edgeCases": [
        {"id": "ec-1", "name": "One", "match": {"keywordsAny": ["coupon"]}, "action": edge_action}]}


def test_a_sheet_with_warnings_compiles_and_answers_its_report(app):
    client = app.test_client()
    sheet = _sheet(type="override_response", inlineResponse="Use code {couponCode} for 10% off. Anything else?")
    assert client.put("/admin/companies/demo-hvac/cheatsheet", json=sheet, headers=AUTH).status_code == 201
    resp = client.post("/admin/companies/demo-hvac/cheatsheet/compile", headers=AUTH)
    assert resp.status_code == 200
    warning = resp.get_json()["warnings"][0]
    assert warning["variable"] == "couponCode" and "dropped when spoken" in warning["message"]


def test_references_the_company_cannot_resolve_are_refused_with_the_field_path(app):
    client = app.test_client()
    before = client.get("/admin/companies/demo-hvac/cheatsheet/versions", headers=AUTH).get_json()["versions"]
    resp = client.put("/admin/companies/demo-hvac/cheatsheet", headers=AUTH,
                      json=_sheet(type="force_transfer", transferTarget="nobody"))
    assert resp.status_code == 422
    assert resp.get_json()["errors"][0]["path"] == "edgeCases[0].action.transferTarget"
    rules = {"transferRules": [{"id": "tr-1", "intentTag": "billing", "contactNameOrQueue": "accounts",
                                "script": "One moment."}], "allowedActions": ["TRANSFER_BILLING"]}
    resp = client.put("/admin/companies/demo-hvac/cheatsheet", headers=AUTH, json=rules)
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["path"] == "transferRules[0].contactNameOrQueue"
    after = client.get("/admin/companies/demo-hvac/cheatsheet/versions", headers=AUTH).get_json()["versions"]
    assert after == before  # nothing stored


def test_an_unknown_scenario_template_is_refused(app):
    doc = app.test_client().get("/admin/companies/demo-hvac", headers=AUTH).get_json()
    doc = {k: v for k, v in doc.items() if k not in ("activePolicy", "latestCheatSheetVersion")}
    resp = app.test_client().put("/admin/companies/demo-hvac", headers=AUTH, json={**doc, "scenarioTemplate": "nope"})
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["path"] == "scenarioTemplate"


def test_the_designs_stored_metadata_is_accepted_and_ignored_by_the_checksum():
    import policy

    sheet = _sheet(type="override_response", inlineResponse="Ask us about our coupons.")
    stored = {**sheet, "version": 7, "status": "active", "updatedBy": "ops", "updatedAt": "2026-01-05T10:00:00Z",
              "lastCompiledAt": "2026-01-05T10:00:01Z", "checksum": "f" * 64,
              "compileLock": {"lockedBy": "worker-2", "lockedAt": "2026-01-05T10:00:00Z"}}
    assert policy.compile_cheatsheet(stored).checksum == policy.compile_cheatsheet(sheet).checksum


def test_costs_of_a_company_that_does_not_exist_is_404(app):
    resp = app.test_client().get("/admin/companies/nope/costs", headers=AUTH)
    assert resp.status_code == 404 and resp.get_json()["errors"][0]["message"] == "no company 'nope'"


def test_a_number_is_owned_by_one_company_even_when_claimed_concurrently(app):
    import threading

    def company(cid):
        return {"id": cid, "name": cid, "numbers": ["+15125550900"], "timezone": "America/Chicago"}

    barrier = threading.Barrier(6)
    statuses = []

    def claim(i):
        client = app.test_client()
        barrier.wait()
        statuses.append(client.put(f"/admin/companies/co-{i}", json=company(f"co-{i}"), headers=AUTH).status_code)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 422, 422, 422, 422, 422]
    owners = [d["_id"] for d in app.extensions["docstore"]["companies"].find({"numbers": "+15125550900"})]
    assert len(owners) == 1
    assert app.extensions["catalog"].companies.for_number("+15125550900")["_id"] == owners[0]
    twice = app.test_client().put("/admin/companies/co-x", headers=AUTH, json={
        "id": "co-x", "name": "X", "numbers": ["+15125550901", "+15125550901"]})
    assert twice.status_code == 422 and twice.get_json()["errors"][0]["path"] == "numbers"


def test_compile_limits_are_422_naming_the_limit(app):
    from policy.compiler import MAX_CONFLICTS
    from policy.schema import MAX_EDGE_CASES, MAX_KEYWORDS_PER_SHEET

    client = app.test_client()

    def edge(i, words):
        return {"id": f"ec-{i}", "name": f"rule {i}", "match": {"keywordsAny": words},
                "action": {"type": "override_response", "inlineResponse": "Hello."}}
    too_many = {"edgeCases": [edge(i, [f"word{i}"]) for i in range(MAX_EDGE_CASES + 1)]}
    resp = client.put("/admin/companies/demo-hvac/cheatsheet", json=too_many, headers=AUTH)
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["path"] == "edgeCases"
    assert str(MAX_EDGE_CASES) in resp.get_json()["errors"][0]["message"]
    words = {"edgeCases": [edge(i, [f"w{i} x{j}" for j in range(MAX_KEYWORDS_PER_SHEET // 100 + 1)])
                           for i in range(100)]}
    resp = client.put("/admin/companies/demo-hvac/cheatsheet", json=words, headers=AUTH)
    assert resp.status_code == 422 and str(MAX_KEYWORDS_PER_SHEET) in resp.get_json()["errors"][0]["message"]
    overlapping = {"edgeCases": [edge(i, ["heater broken", "no heat"]) for i in range(500)]}
    assert client.put("/admin/companies/demo-hvac/cheatsheet", json=overlapping, headers=AUTH).status_code == 201
    resp = client.post("/admin/companies/demo-hvac/cheatsheet/compile", headers=AUTH)
    assert resp.status_code == 422 and f"more than {MAX_CONFLICTS} conflicts" in resp.get_json()["errors"][0]["message"]


def test_staff_commands_stay_quiet_and_the_first_webhook_says_what_is_wrong(tmp_path, caplog):
    import logging

    caplog.set_level(logging.WARNING)
    app = make_app(tmp_path / "d", TWILIO_AUTH_TOKEN="")
    result = app.test_cli_runner().invoke(args=["calls", "list", "demo-hvac"])
    assert result.exit_code == 0 and "TWILIO_AUTH_TOKEN" not in result.output
    assert not [r for r in caplog.records if "TWILIO_AUTH_TOKEN" in r.getMessage()]
    for _ in range(2):
        assert app.test_client().post("/voice", data=form(SID)).status_code == 403
    assert len([r for r in caplog.records if "TWILIO_AUTH_TOKEN is not set" in r.getMessage()]) == 1


def test_a_count_read_before_a_write_was_queued_does_not_hide_it_from_the_flusher(tmp_path):
    from records.outbox import Outbox

    outbox = Outbox(str(tmp_path / "outbox.sqlite3"))
    assert outbox.count() == 0 and not outbox.pending_hint
    real = outbox._conn

    class Racing:  # the count's SELECT runs, then another thread queues a write before the hint is set
        def __init__(self, conn):
            self.conn = conn

        def execute(self, sql, *args):
            got = self.conn.execute(sql, *args)
            if sql.startswith("SELECT COUNT(*) FROM outbox"):
                outbox._conn = real
                outbox.add({"op": "insert", "collection": "calls", "doc": {"_id": "x"}})
            return got

    outbox._conn = lambda: Racing(real())
    assert outbox.count() == 0
    assert outbox.pending_hint, "the write queued during the count must keep the flusher going"
