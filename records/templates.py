"""Scenario templates in the document store (``scenario_templates``: ``{_id, doc}``), compiled per process."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Mapping

from cachetools import TTLCache
from pymongo.errors import PyMongoError

from policy.errors import PolicyError
from policy.scenarios import CompiledTemplate, compile_template, validate_template

log = logging.getLogger(__name__)


class Templates:
    """Stores templates and serves them compiled (cached a few seconds; the last good copy when the store fails)."""

    def __init__(self, db: Any, *, clock: Callable[[], float] = time.time, cache_ttl: float = 5.0) -> None:
        self.coll = db["scenario_templates"]
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: TTLCache = TTLCache(maxsize=256, ttl=cache_ttl, timer=time.monotonic)
        self._known: dict[str, CompiledTemplate] = {}

    def put(self, doc: Mapping[str, Any]) -> str:
        """Validate and store a scenario template; returns its id."""
        template = validate_template(dict(doc))
        self.coll.replace_one({"_id": template.id}, {"_id": template.id, "doc": template.model_dump(),
                                                     "updated_at": self.clock()}, upsert=True)
        with self._lock:
            self._cache.pop(template.id, None)
        return template.id

    def get(self, template_id: str | None) -> CompiledTemplate | None:
        """A compiled scenario template, or None if missing or invalid."""
        if not template_id:
            return None
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
        try:
            compiled = compile_template(doc["doc"])
        except PolicyError as exc:
            log.error("scenario template %s is invalid: %s", template_id, exc)
            return None
        with self._lock:
            self._cache[template_id] = compiled
            self._known[template_id] = compiled
        return compiled


__all__ = ["Templates"]
