"""Durable records: the document store (embedded or MongoDB), the catalog of companies, policy
versions and templates, and the call log with its outbox and forensics queries."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from .backend import GuardedDatabase
from .calllog import CallLog, SnapshotTier
from .catalog import Catalog
from .journal import Journal
from .outbox import Outbox
from .rollouts import GateRefused, Rollouts
from .writer import DurableWriter

log = logging.getLogger(__name__)


def init_app(app: Any, settings: Any, *, db: GuardedDatabase, redis: Any | None, observer: Any) -> None:
    """Build the writer, call log and catalog; create indexes and replay writes a previous process left."""
    outbox = Outbox(os.path.join(settings.DATA_DIR, "outbox", "calllog-outbox.sqlite3"))
    journal = Journal(os.path.join(settings.DATA_DIR, "journal")) if settings.TURN_JOURNAL else None
    writer = DurableWriter(db, outbox, flush_interval=settings.OUTBOX_FLUSH_S, observer=observer, journal=journal)
    if settings.TESTING and "before_landing" in settings.CRASH_AT.split(","):
        writer.before_landing = lambda: os._exit(70)  # as abrupt as kill -9, after the turn was answered
    call_log = CallLog(db, writer, clock=settings.CLOCK)
    catalog = Catalog(db, redis=redis, clock=settings.CLOCK, on_compile=observer.compiled)
    rollouts = Rollouts(db, catalog, clock=settings.CLOCK, observer=observer, tick_interval=settings.ROLLOUT_TICK_S)
    app.extensions.update(docstore=db, writer=writer, call_log=call_log, catalog=catalog, rollouts=rollouts)
    if journal is not None:
        @app.after_request
        def land_after_answer(response: Any) -> Any:
            """A turn's deferred writes land once its answer has been sent (not while it is being built)."""
            response.call_on_close(writer.wake)
            return response
    health = app.extensions["health"]
    health.add("outbox_pending", writer.pending)
    if journal is not None:
        health.add("journal_pending", journal.pending)
    health.add("policies", lambda: catalog.policies.serving)
    health.add("policy_errors", lambda: catalog.policies.errors)
    health.add("serving", rollouts.serving)
    try:
        call_log.ensure_indexes()
        catalog.ensure_indexes()
        catalog.companies.claim_listed_numbers()
        rollouts.ensure_indexes()
        if writer.pending() > 0:  # a previous process left writes behind: replay them
            writer.start()
        writer.recover()  # turns a stopped process answered but had not yet written
    except Exception as exc:  # noqa: BLE001 - a store that is down must not stop the app from answering
        log.error("start-up store work failed (the app still answers calls): %s", exc)


def warm(app: Any) -> None:
    """In the background: every company into this process's last-known copies (they answer when the
    backends fail later), then their active policies and templates, so the thousandth company's first
    call is as fast as the first's. Start-up does not wait for it, however many companies there are."""
    catalog = app.extensions["catalog"]

    def load() -> None:
        try:
            catalog.companies.warm()
            catalog.warm_policies()
        except Exception as exc:  # noqa: BLE001 - a call loads what it needs itself
            log.warning("companies and policies not loaded ahead of calls: %s", exc)
    threading.Thread(target=load, name="warm-catalog", daemon=True).start()


__all__ = ["init_app", "warm", "CallLog", "SnapshotTier", "Catalog", "DurableWriter", "Rollouts", "GateRefused"]
