"""The turn journal (records/journal.py) and the writer's deferred writes: durable on append, landed in
order, replayed from processes that died, never from live ones."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from records import journal as journal_mod
from records.docstore import EmbeddedClient
from records.journal import Journal
from records.writer import QUEUED, DurableWriter, insert, update
from tests.conftest import ROOT


def store(tmp_path):
    return EmbeddedClient(str(tmp_path / "store"))["voiceagent"]


def turn(n: int, call: str = "CA1") -> list[dict]:
    return [insert("turns", {"_id": f"{call}:{n}", "call_sid": call, "seq": n}),
            update("calls", {"_id": call, "$or": [{"session.seq": {"$lte": n}}, {"session": {"$exists": False}}]},
                   {"$set": {"session": {"seq": n}}}, upsert=True)]


def seqs(db, call: str = "CA1") -> list[int]:
    return [t["seq"] for t in db["turns"].find({"call_sid": call}, sort=[("seq", 1)])]


def test_deferred_writes_are_durable_at_once_and_land_in_order(tmp_path):
    db = store(tmp_path)
    writer = DurableWriter(db, None, journal=Journal(str(tmp_path / "journal")))
    for n in (1, 2, 3):
        assert writer.defer(turn(n), key="CA1") == [QUEUED, QUEUED]
    [path] = list((tmp_path / "journal").iterdir())
    assert len(path.read_bytes().splitlines()) == 3  # in the file before anything reached the store
    assert writer.journal.pending() == 3
    writer.flush_journal()
    assert seqs(db) == [1, 2, 3] and db["calls"].find_one({"_id": "CA1"})["session"]["seq"] == 3
    assert path.stat().st_size == 0 and writer.journal.pending() == 0  # emptied once landed
    writer.close()
    assert list((tmp_path / "journal").iterdir()) == []


def test_a_write_made_at_once_lands_after_the_deferred_ones(tmp_path):
    db = store(tmp_path)
    writer = DurableWriter(db, None, journal=Journal(str(tmp_path / "journal")))
    writer.defer(turn(1), key="CA1")
    # A late error on turn 1 (an update, no upsert) would match nothing if it ran before the turn's insert.
    writer.write(update("turns", {"_id": "CA1:1"}, {"$set": {"late_error": "hangup"}}))
    assert db["turns"].find_one({"_id": "CA1:1"})["late_error"] == "hangup"


def test_a_replayed_group_lands_once_and_never_rolls_a_snapshot_back(tmp_path):
    db = store(tmp_path)
    writer = DurableWriter(db, None, journal=Journal(str(tmp_path / "journal")))
    for n in (1, 2):
        writer.defer(turn(n), key="CA1")
    writer.flush_journal()
    for n in (1, 2):  # the same groups again (a journal replayed after they had landed)
        writer.defer(turn(n), key="CA1")
    writer.flush_journal()
    assert seqs(db) == [1, 2] and db["calls"].find_one({"_id": "CA1"})["session"]["seq"] == 2


def test_a_full_journal_file_is_replaced_and_removed_once_landed(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_mod, "ROTATE_BYTES", 200)
    db = store(tmp_path)
    writer = DurableWriter(db, None, journal=Journal(str(tmp_path / "journal")))
    for n in range(1, 6):
        writer.defer(turn(n), key="CA1")
    first = set(os.listdir(tmp_path / "journal"))
    writer.flush_journal()
    after = set(os.listdir(tmp_path / "journal"))
    assert len(first) == 1 and len(after) == 1 and after != first  # the big file went, a new one took its place
    writer.defer(turn(6), key="CA1")
    writer.flush_journal()
    assert seqs(db) == [1, 2, 3, 4, 5, 6]


CHILD = textwrap.dedent("""
    import os, sys, time
    from records.journal import Journal
    from records.writer import insert
    j = Journal(sys.argv[1])
    for n in range(1, int(sys.argv[2]) + 1):
        j.append([insert("turns", {"_id": f"CA9:{n}", "call_sid": "CA9", "seq": n})], "CA9")
    print("appended", flush=True)
    if sys.argv[3] == "die":
        os._exit(9)  # as abrupt as kill -9: nothing landed, no exit hook
    time.sleep(60)
""")


def child(tmp_path, count: int, how: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "journal"), str(count), how], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "appended"
    return proc


def test_the_journal_of_a_process_that_died_is_replayed_and_removed(tmp_path):
    proc = child(tmp_path, 3, "die")
    proc.wait(5)
    db = store(tmp_path)
    writer = DurableWriter(db, None, journal=Journal(str(tmp_path / "journal")))
    assert writer.recover() == 3
    assert seqs(db, "CA9") == [1, 2, 3]
    assert list((tmp_path / "journal").iterdir()) == []
    assert writer.recover() == 0


def test_a_live_process_journal_is_left_alone_until_it_dies(tmp_path):
    proc = child(tmp_path, 2, "live")
    try:
        db = store(tmp_path)
        writer = DurableWriter(db, None, journal=Journal(str(tmp_path / "journal")))
        assert writer.recover() == 0 and seqs(db, "CA9") == []  # its owner still holds it
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        assert writer.recover() == 2 and seqs(db, "CA9") == [1, 2]
    finally:
        proc.kill()
        proc.wait(5)


def test_a_torn_last_line_is_skipped_and_the_rest_replayed(tmp_path, caplog):
    directory = tmp_path / "journal"
    directory.mkdir()
    good = b'{"k":"CA9","w":[{"op":"insert","coll":"turns","doc":{"_id":"CA9:1","call_sid":"CA9","seq":1}}]}\n'
    (directory / "999999-1-1.wal").write_bytes(good + b'{"k":"CA9","w":[{"op":"ins')  # killed mid-write
    db = store(tmp_path)
    writer = DurableWriter(db, None, journal=Journal(str(directory)))
    assert writer.recover() == 1
    assert seqs(db, "CA9") == [1] and "unreadable, skipped" in caplog.text


def test_a_process_that_exits_lands_what_it_deferred(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from records.docstore import EmbeddedClient
        from records.journal import Journal
        from records.writer import DurableWriter, insert
        db = EmbeddedClient({str(tmp_path / "store")!r})["voiceagent"]
        w = DurableWriter(db, None, journal=Journal({str(tmp_path / "journal")!r}))
        w._start_journal = lambda: None  # no journal thread: only the exit hook can land it
        w.defer([insert("turns", {{"_id": "CA8:1", "call_sid": "CA8", "seq": 1}})], key="CA8")
        sys.exit(0)
    """)
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=30)
    assert seqs(store(tmp_path), "CA8") == [1]
    assert list((tmp_path / "journal").iterdir()) == []


def test_without_a_journal_deferred_writes_are_written_at_once(tmp_path):
    db = store(tmp_path)
    writer = DurableWriter(db, None)
    assert writer.defer(turn(1), key="CA1") == ["written", "written"]
    assert seqs(db) == [1]


@pytest.mark.parametrize("writes", [1, 40])
def test_the_journal_thread_lands_after_a_wake(tmp_path, writes):
    import time

    db = store(tmp_path)
    db["turns"].create_index("seq"), db["calls"].create_index("seq")  # tables made, as at the app's start
    writer = DurableWriter(db, None, journal=Journal(str(tmp_path / "journal")))
    for n in range(1, writes + 1):
        writer.defer(turn(n), key="CA1")
    writer.wake()
    deadline = time.monotonic() + 5
    while len(seqs(db)) < writes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seqs(db) == list(range(1, writes + 1))


def test_a_journal_the_disk_refuses_falls_back_to_writing_at_once_and_says_so_once(tmp_path, caplog):
    blocker = tmp_path / "journal"
    blocker.write_text("a file where the directory should be")  # the directory cannot be made
    db = store(tmp_path)
    writer = DurableWriter(db, None, journal=Journal(str(blocker)))
    for n in (1, 2, 3):
        assert writer.defer(turn(n), key="CA1") == ["written", "written"]
    assert seqs(db) == [1, 2, 3]
    assert caplog.text.count("journal append failed") == 1
