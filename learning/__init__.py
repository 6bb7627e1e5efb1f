"""Learning loops: every call teaches, staff decide.

Two queues fed from real turn records off the caller's path (``feed.py``): scenario
improvements and cheat-sheet improvements, each item with the guide's reason code
(``reasons.py``), personal data removed (``scrub.py``); an incident queue takes them instead
while Redis or the document store is degraded. Clustering (``cluster.py``) and suggestions
with their estimated impact (``suggest.py``, ``cheatsheet.py``) are pure; staff approve, edit or
reject them (``decide.py``): a scenario change becomes a new template version, a cheat-sheet
change a compiled draft. Opt-in companies of a trade pool what they learned (``network.py``).
"""

from __future__ import annotations

from typing import Any

from .decide import Conflict, Decisions, NotFound
from .feed import Infrastructure, TurnFeed
from .process import LearningProcess, drain_at_exit
from .reasons import CHEATSHEET, INCIDENT, QUEUES, REASONS, SCENARIO
from .service import Learning
from .store import LearningStore


def init_app(app: Any, settings: Any, *, db: Any, redis: Any | None) -> TurnFeed | None:
    """Build learning over the app's store and catalog; returns the feed to add to the observers
    (None when learning is switched off)."""
    if not settings.LEARNING_ENABLED:
        return None
    store = LearningStore(db)
    learning = Learning(store, app.extensions["catalog"], clock=settings.CLOCK, run_every=settings.LEARNING_RUN_S)
    background = settings.LEARNING_BATCH_S > 0
    # In the background, batches go to a process of their own (the worker's interpreter keeps serving calls);
    # driven by hand (tests, tools: ``feed.drain()``), they are ingested here.
    child = background and settings.LEARNING_PROCESS
    process = LearningProcess(settings).process if child else learning.process
    feed = TurnFeed(process, Infrastructure(db, redis, app.extensions["writer"]),
                    interval=settings.LEARNING_BATCH_S, background=background)
    if child:
        drain_at_exit(feed)
    decisions = Decisions(store, app.extensions["catalog"], clock=settings.CLOCK)
    app.extensions.update(learning=learning, learning_feed=feed, learning_decisions=decisions)
    try:
        store.ensure_indexes()
    except Exception:  # noqa: BLE001 - a store that is down must not stop the app from answering
        pass
    return feed


__all__ = ["init_app", "Learning", "LearningProcess", "LearningStore", "TurnFeed", "Decisions", "NotFound", "Conflict", "QUEUES",
           "REASONS", "SCENARIO", "CHEATSHEET", "INCIDENT"]
