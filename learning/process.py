"""Learning's batches in a process of their own, so a serving worker's interpreter never runs them.

The feed (``feed.py``) buffers turns in the worker and hands a batch over every few seconds; in
the worker, ingesting a batch (scrubbing, reason codes, the dispute check, the store's writes)
and the periodic clustering run would hold the interpreter while calls wait for it. With
``LearningProcess`` the feed's thread only sends the batch down a pipe to a spawned child that
opens the same document store and Redis, ingests it and answers. A batch the child could not take
(it failed, died or did not answer in time) is an error to the feed, which keeps the batch and
tries again (a new child is started when the old one is gone). The child ends when its pipe
closes or the worker that started it is gone.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import multiprocessing.util  # noqa: F401 - its exit function registered before ours, so ours runs first
import os
import threading
import weakref
from typing import Any, Mapping

from .feed import Batch

log = logging.getLogger(__name__)

#: How long a batch may take in the child (a clustering run over a large queue takes seconds) before the child is
#: taken for stuck, ended, and the batch tried again with a new one.
BATCH_TIMEOUT_S = 300.0
#: How often the child checks that the worker that started it is still there.
PARENT_CHECK_S = 1.0
#: How much lower the child's scheduling priority is than the worker's, and its pause between its write
#: transactions (a worker's turn waiting for the embedded store's lock gets it in the pause, not after a busy wait).
NICE, WRITE_PAUSE_S = 10, 0.005
#: The settings the child needs to open what the worker uses.
SETTINGS = ("MONGODB_URI", "DATA_DIR", "REDIS_URL", "BREAKER_COOLDOWN", "LEARNING_RUN_S")
#: Turns sent to the child at a time (about 2 us each to pickle, what learning reads of a turn being small):
#: each send and its answer wake the feed's thread, so a batch goes in few pieces.
CHUNK = 2000


#: At exit, how long the last batch may take in the child, and how long stopping waits for a batch under way.
EXIT_WAIT_S = 5.0

#: Every LearningProcess of this process, to end their children when it exits; and whether it is exiting (then no
#: child is started: the feed's thread still runs while the interpreter shuts down, and a child started then would
#: never be told to stop).
_ALL: "weakref.WeakSet[LearningProcess]" = weakref.WeakSet()
_EXIT = threading.Event()
#: Feeds whose last turns go to the child before it is stopped (``drain_at_exit``); set while they do.
_FEEDS: "weakref.WeakSet[Any]" = weakref.WeakSet()
_LAST = threading.Event()


class Exiting(RuntimeError):
    """The process is exiting: a batch not taken now is not an error worth more than a note."""

    quiet = True


def drain_at_exit(feed: Any) -> None:
    """At exit, ``feed.drain()`` hands its last turns to the child before the child is stopped (a worker that
    gunicorn restarts keeps what its callers said in its last seconds)."""
    _FEEDS.add(feed)


@atexit.register  # after multiprocessing's exit function, so it runs before it: children stop before it joins them
def _at_exit() -> None:
    _LAST.set()
    for feed in list(_FEEDS):
        try:
            feed.drain()
        except Exception as exc:  # noqa: BLE001 - exiting must go on
            log.info("learning: last turns not handed over at exit: %s", exc)
    _EXIT.set()
    for worker in list(_ALL):
        worker.finish()


class LearningProcess:
    """``process(batch)`` for the feed, done by a child process (one per worker process, started on first use)."""

    def __init__(self, settings: Any, *, timeout: float = BATCH_TIMEOUT_S) -> None:
        self.config = {name: getattr(settings, name) for name in SETTINGS}
        self.timeout = timeout
        self._child: Any = None
        self._pipe: Any = None
        self._pid = 0
        self.started = 0  # children started (a restart after a failure counts)
        self._busy = threading.Lock()  # one batch at a time in the pipe (the feed's thread, and the drain at exit)

    def process(self, batch: Batch) -> None:
        """Ingest a batch in the child; raises when it could not (the feed keeps the batch for the next round)."""
        last = _LAST.is_set()
        if not self._busy.acquire(timeout=EXIT_WAIT_S if last else -1):
            raise Exiting("a batch is still under way at exit")
        try:
            timeout = min(self.timeout, EXIT_WAIT_S) if last else self.timeout
            pipe = self._ensure()
            for start in range(0, len(batch), CHUNK):
                try:
                    pipe.send([(record, tuple(degraded)) for record, degraded in batch[start:start + CHUNK]])
                    if not pipe.poll(timeout):
                        raise TimeoutError(f"learning process took over {timeout:.0f} s for a batch")
                    ok, error = pipe.recv()
                except BaseException as exc:
                    self.stop()  # a new child next time: this one is dead, stuck or out of step with the pipe
                    if _EXIT.is_set() or last:
                        raise Exiting(f"the process is exiting ({type(exc).__name__}: {exc})") from None
                    raise
                if not ok:
                    raise RuntimeError(f"learning process: {error}")
        finally:
            self._busy.release()

    def finish(self) -> None:
        """At exit: end the child once a batch under way is done (waiting ``EXIT_WAIT_S`` at most)."""
        got = self._busy.acquire(timeout=EXIT_WAIT_S)
        try:
            self.stop()
        finally:
            if got:
                self._busy.release()

    def alive(self) -> bool:
        """Whether this process's child is running."""
        return self._child is not None and self._pid == os.getpid() and self._child.is_alive()

    def stop(self) -> None:
        """End the child (it is started again on the next batch)."""
        child, pipe = self._child, self._pipe
        self._child = self._pipe = None
        if child is None or self._pid != os.getpid():
            return
        try:
            pipe.close()
            child.join(2.0)
            if child.is_alive():
                child.kill()
                child.join(2.0)
        except Exception as exc:  # noqa: BLE001 - stopping must not fail the feed
            log.debug("learning process not stopped cleanly: %s", exc)

    def _ensure(self) -> Any:
        if self.alive():
            return self._pipe
        if self._pid == os.getpid():
            self.stop()
        if _EXIT.is_set():
            raise Exiting("the process is exiting: no learning process is started")
        # Spawned, not forked: the worker has threads, and a fork would copy its locks mid-use.
        ctx = multiprocessing.get_context("spawn")
        mine, theirs = ctx.Pipe()
        child = ctx.Process(target=serve, args=(theirs, self.config, os.getpid()), name="learning", daemon=True)
        child.start()
        theirs.close()
        self._child, self._pipe, self._pid = child, mine, os.getpid()
        self.started += 1
        _ALL.add(self)
        return mine


def serve(pipe: Any, config: Mapping[str, Any], parent: int) -> None:
    """The child: open the store, Redis and catalog as the worker does, then ingest batches until told to stop."""
    from infra.redis import open_redis
    from records.backend import guarded_docstore
    from records.catalog import Catalog

    from .service import Learning
    from .store import LearningStore

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[learning]: %(message)s")
    try:
        os.nice(NICE)  # background work: the machine's cores go to calls (workers, Redis) first
    except OSError:
        pass
    db = guarded_docstore(config["MONGODB_URI"], config["DATA_DIR"], cooldown=config["BREAKER_COOLDOWN"])
    redis = open_redis(config["REDIS_URL"], cooldown=config["BREAKER_COOLDOWN"])
    learning = Learning(LearningStore(db, pause=WRITE_PAUSE_S), Catalog(db, redis=redis),
                        run_every=config["LEARNING_RUN_S"])
    while True:
        try:
            if not pipe.poll(PARENT_CHECK_S):
                if os.getppid() != parent:
                    return  # the worker is gone (killed): nobody will send more
                continue
            batch = pipe.recv()
        except (EOFError, OSError):
            return  # the worker closed the pipe
        try:
            learning.process(batch)
            reply: tuple[bool, str | None] = (True, None)
        except Exception as exc:  # noqa: BLE001 - the worker keeps the batch and tries again
            reply = (False, f"{type(exc).__name__}: {exc}")
        try:
            pipe.send(reply)
        except (EOFError, OSError):
            return


__all__ = ["LearningProcess", "Exiting", "drain_at_exit", "serve", "BATCH_TIMEOUT_S", "EXIT_WAIT_S"]
