"""Scenario templates in the document store, versioned, compiled per process.

``scenario_templates``: ``{_id, doc, version, updated_at, updated_by}``, the current version of
each template; ``scenario_template_versions``: every version kept (``{_id: "<id>:<version>",
template_id, version, doc, at, by, reason}``), so any change (an approved learning suggestion,
an import) can be looked at and reverted. A save that changes nothing makes no new version; two
saves racing on one version: the second gets ``TemplateConflict``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Mapping

from cachetools import TTLCache
from pymongo.errors import DuplicateKeyError, PyMongoError

from policy.errors import PolicyError
from policy.scenarios import CompiledTemplate, compile_template, validate_template

from .changes import Changes

log = logging.getLogger(__name__)


HISTORY = "scenario_template_versions"
#: A changed template with more examples than this trains its Tier 2 classifier in the background while the
#: previous version answers (training 15,000 examples takes seconds; a caller never waits for it).
TRAIN_INLINE_UP_TO = 1000


class TemplateConflict(Exception):
    """The template changed since it was read (another save won), or the version does not exist."""


class Templates:
    """Stores templates and serves them compiled (cached a few seconds; the last good copy when the store fails)."""

    def __init__(self, db: Any, *, changes: Changes, clock: Callable[[], float] = time.time,
                 cache_ttl: float = 60.0) -> None:
        self.coll = db["scenario_templates"]
        self.history = db[HISTORY]
        self.clock = clock
        self._lock = threading.Lock()
        # Kept until the template changes (the change feed); the expiry only backs up a lost change note.
        self._cache: TTLCache = TTLCache(maxsize=4096, ttl=cache_ttl, timer=time.monotonic)
        self.changes = changes
        changes.subscribe(self._changed)
        self._known: dict[str, CompiledTemplate] = {}
        self._training: dict[str, tuple[int, threading.Thread]] = {}

    def ensure_indexes(self) -> None:
        """The index version listings use (idempotent)."""
        self.history.create_index([("template_id", 1), ("version", -1)])

    def put(self, doc: Mapping[str, Any], *, by: str = "admin", reason: str = "saved") -> str:
        """Validate and store a scenario template (a new version when it changed); returns its id."""
        return self.save(doc, by=by, reason=reason)["id"]

    def save(self, doc: Mapping[str, Any], *, by: str = "admin", reason: str = "saved",
             expect_version: int | None = None) -> dict[str, Any]:
        """Validate and store a new version; ``{id, version, changed}``. Raises PolicyError (invalid) or
        TemplateConflict (``expect_version`` is not the current version, or another save won the race)."""
        template = validate_template(dict(doc))
        data = template.model_dump()
        current = self.coll.find_one({"_id": template.id})
        version = int((current or {}).get("version") or (1 if current else 0))
        if expect_version is not None and version != expect_version:
            raise TemplateConflict(f"template {template.id!r} is at version {version}, not {expect_version}")
        if current is not None and current.get("doc") == data:
            return {"id": template.id, "version": version, "changed": False}
        if current is not None and not current.get("version"):  # stored before versions: keep it as version 1
            self._keep(template.id, 1, current["doc"], current.get("updated_at"), "store", "version before history")
        now, new = self.clock(), version + 1
        fields = {"_id": template.id, "doc": data, "version": new, "updated_at": now, "updated_by": by}
        try:
            if current is None:
                self.coll.insert_one(fields)
            elif self.coll.replace_one({"_id": template.id, "version": current.get("version")},
                                       fields).matched_count == 0:
                raise TemplateConflict(f"template {template.id!r} changed while saving; read it again")
        except DuplicateKeyError:
            raise TemplateConflict(f"template {template.id!r} was created while saving; read it again") from None
        self._keep(template.id, new, data, now, by, reason)
        with self._lock:
            self._cache.pop(template.id, None)
        self.changes.note("template", template.id)
        return {"id": template.id, "version": new, "changed": True}

    def _keep(self, template_id: str, version: int, doc: Any, at: Any, by: str, reason: str) -> None:
        try:
            self.history.insert_one({"_id": f"{template_id}:{version:06d}", "template_id": template_id,
                                     "version": version, "doc": doc, "at": at, "by": by, "reason": reason})
        except DuplicateKeyError:
            pass

    def current(self, template_id: str) -> tuple[dict[str, Any], int] | None:
        """The stored document of a template and its version, or None."""
        rec = self.coll.find_one({"_id": template_id})
        return (rec["doc"], int(rec.get("version") or 1)) if rec else None

    def versions(self, template_id: str) -> list[dict[str, Any]]:
        """Every kept version of a template, newest first (without the documents)."""
        now = self.current(template_id)
        rows = self.history.find({"template_id": template_id}, {"doc": 0}, sort=[("version", -1)])
        return [{"version": r["version"], "at": r.get("at"), "by": r.get("by"), "reason": r.get("reason"),
                 "current": bool(now and now[1] == r["version"])} for r in rows]

    def version(self, template_id: str, version: int) -> dict[str, Any] | None:
        """The document of one kept version, or None."""
        row = self.history.find_one({"_id": f"{template_id}:{version:06d}"})
        return row["doc"] if row else None

    def revert(self, template_id: str, version: int, *, by: str = "admin") -> dict[str, Any]:
        """Make an earlier version current again (as a new version, so the revert can be reverted too)."""
        doc = self.version(template_id, version)
        if doc is None:
            raise TemplateConflict(f"template {template_id!r} has no version {version}")
        return self.save(doc, by=by, reason=f"revert to version {version}")

    def _changed(self, kind: str, key: str) -> None:
        if kind == "template":
            with self._lock:
                self._cache.pop(key, None)

    def get(self, template_id: str | None) -> CompiledTemplate | None:
        """A compiled scenario template, or None if missing or invalid."""
        if not template_id:
            return None
        self.changes.poll()
        with self._lock:
            hit = self._cache.get(template_id)
        if hit is not None:
            return hit
        try:
            doc = self.coll.find_one({"_id": template_id})
        except PyMongoError:
            return self._known.get(template_id)
        if doc is None:
            return None
        version = int(doc.get("version") or 1)
        with self._lock:
            training = self._training.get(template_id)
            older = self._known.get(template_id)
        if training is not None and training[0] == version and older is not None:
            return older  # this version is being trained; the previous one answers meanwhile
        try:
            compiled = compile_template(doc["doc"])
        except PolicyError as exc:
            log.error("scenario template %s is invalid: %s", template_id, exc)
            return None
        if compiled.untrained:
            if older is not None and compiled.size > TRAIN_INLINE_UP_TO:
                self._train_behind(template_id, version, compiled)
                return older
            compiled.train()
            if compiled.training_error:
                log.error("scenario template %s: Tier 2's classifier could not be trained (%s); its similarity "
                          "ranking answers", template_id, compiled.training_error)
        self._serve(template_id, compiled)
        return compiled

    def _serve(self, template_id: str, compiled: CompiledTemplate) -> None:
        with self._lock:
            self._cache[template_id] = compiled
            self._known[template_id] = compiled

    def _train_behind(self, template_id: str, version: int, compiled: CompiledTemplate) -> None:
        """Train a new version's classifier in a thread, then serve it (unless a newer version came meanwhile)."""
        def train() -> None:
            compiled.train()
            if compiled.training_error:
                log.error("scenario template %s version %s: Tier 2's classifier could not be trained (%s); "
                          "its similarity ranking answers", template_id, version, compiled.training_error)
            with self._lock:
                if self._training.get(template_id, (None,))[0] != version:
                    return
                del self._training[template_id]
            self._serve(template_id, compiled)
            log.info("scenario template %s version %s trained and serving", template_id, version)

        thread = threading.Thread(target=train, name=f"train-{template_id}", daemon=True)
        with self._lock:
            self._training[template_id] = (version, thread)
        thread.start()

    def settle(self, timeout: float = 120.0) -> None:
        """Wait for templates being trained in the background (tests, benchmarks, the CLI)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                threads = [t for _, t in self._training.values()]
            if not threads:
                return
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                return


__all__ = ["Templates", "TemplateConflict", "HISTORY"]
