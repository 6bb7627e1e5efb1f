"""Learning's batches in a process of their own: turns ingested there, a dead child replaced without losing a
batch, and the child gone when the worker that started it is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import make_app
from tests.twilio_helpers import call

GARAGE = "do you fix garage door openers"


@pytest.fixture
def learning_app(tmp_path):
    """The app, its feed and the feed's LearningProcess (its child stopped after the test)."""
    # Batches every hour: the test hands them over with drain(), as the feed's thread would.
    app = make_app(tmp_path / "data", LEARNING_BATCH_S=3600, LEARNING_RUN_S=0, LEARNING_PROCESS=True)
    feed = app.extensions["learning_feed"]
    worker = feed.process.__self__
    yield app, feed, worker
    worker.stop()


def _pending(app) -> int:
    return app.extensions["learning"].store.items.count_documents({"company_id": "demo-hvac", "status": "pending"})


def test_turns_are_ingested_by_a_child_process(learning_app):
    app, feed, worker = learning_app
    call(app, GARAGE)
    call(app, "this is ridiculous, I am so frustrated with you people")
    assert feed.drain() == 2 and worker.alive() and worker._child.pid != os.getpid()
    assert _pending(app) >= 2   # queued by the child
    items = app.extensions["learning"].store.items.find({"company_id": "demo-hvac"})
    assert {"NEW_INTENT", "BEHAVIOR_INCONSISTENCY"} <= {i["reason"] for i in items}
    worker.stop()
    assert not worker.alive()


def test_a_killed_child_loses_no_batch_and_is_replaced(learning_app):
    app, feed, worker = learning_app
    call(app, GARAGE)
    assert feed.drain() == 1 and worker.started == 1
    os.kill(worker._child.pid, signal.SIGKILL)
    worker._child.join(5)
    call(app, GARAGE + " please")
    assert feed.drain() == 1 and worker.started == 2    # a new child took it
    assert _pending(app) == 2


def test_a_batch_the_child_could_not_answer_is_kept_and_its_child_replaced(learning_app, monkeypatch):
    from learning import process

    app, feed, worker = learning_app
    call(app, GARAGE)
    monkeypatch.setattr(worker, "timeout", 0.0)   # the child does not answer in time (stuck, or died mid-batch)
    monkeypatch.setattr(process, "serve", _silent)
    assert feed.drain() == 0 and feed.pending() == 1 and not worker.alive()   # kept; the stuck child ended
    monkeypatch.undo()
    assert feed.drain() == 1 and worker.started == 2 and _pending(app) == 1


def _silent(pipe, config, parent):  # a child that takes batches and never answers
    while True:
        pipe.recv()


def test_the_child_ends_when_its_worker_is_killed(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.getcwd()!r})
        from tests.conftest import make_app
        from tests.twilio_helpers import call

        import learning.process

        if __name__ == "__main__":
            # (the hand-off is what is tested, not the exit's time limit: a loaded CI machine may need more than 5 s)
            learning.process.EXIT_WAIT_S = 60.0
            app = make_app({str(tmp_path / "data")!r}, LEARNING_BATCH_S=3600, LEARNING_RUN_S=0, LEARNING_PROCESS=True)
            call(app, "do you fix garage door openers")
            feed = app.extensions["learning_feed"]
            feed.drain()
            print(feed.process.__self__._child.pid, flush=True)
            time.sleep(60)
    """)
    path = tmp_path / "worker.py"
    path.write_text(script)
    proc = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(proc.stdout.readline())
        assert _running(child)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running(child):
            time.sleep(0.1)
        assert not _running(child)
    finally:
        proc.kill()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_process_exiting_stops_its_children_and_starts_no_new_one(tmp_path):
    # The feed's thread still runs while the interpreter exits: a batch then must not start a child that nobody
    # stops (multiprocessing's exit would wait for it forever). Run in a process of its own: it exits.
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.getcwd()!r})
        from learning import process
        from tests.conftest import make_app
        from tests.twilio_helpers import call

        if __name__ == "__main__":
            app = make_app({str(tmp_path / "data")!r}, LEARNING_BATCH_S=3600, LEARNING_RUN_S=0, LEARNING_PROCESS=True)
            feed = app.extensions["learning_feed"]
            worker = feed.process.__self__
            call(app, "do you fix garage door openers")
            feed.drain()
            child = worker._child
            process._at_exit()                      # what the exit runs first
            call(app, "do you fix garage door openers please")
            print(child.is_alive(), feed.drain(), feed.pending(), worker.started, worker.alive(), flush=True)
    """)
    path = tmp_path / "exiting.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    # The child was stopped; the batch waits (kept), and no child was started for it.
    assert done.stdout.split() == ["False", "0", "1", "1", "False"]


def test_a_worker_exiting_hands_its_last_turns_to_the_child_first(tmp_path):
    # A worker gunicorn restarts exits with turns in the feed's buffer (batches go every few seconds): they reach
    # the queue before its child is stopped, and the exit logs no error.
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {os.getcwd()!r})
        from tests.conftest import make_app
        from tests.twilio_helpers import call

        if __name__ == "__main__":
            app = make_app({str(tmp_path / "data")!r}, LEARNING_BATCH_S=3600, LEARNING_RUN_S=0, LEARNING_PROCESS=True)
            call(app, "do you fix garage door openers")
            feed = app.extensions["learning_feed"]
            feed.drain()                          # the child is running
            call(app, "do you fix garage door openers please")
            call(app, "do you install garage door openers")
            print(feed.pending(), flush=True)     # then the interpreter exits
    """)
    path = tmp_path / "restart.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["2"] and "ERROR" not in done.stderr, done.stderr[-2000:]
    app = make_app(tmp_path / "data", LEARNING_BATCH_S=0)
    assert _pending(app) == 3
