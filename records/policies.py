"""Cheat-sheet versions: drafts, compiles (one per company at a time), activation, artifacts.

``cheatsheets``: one document per saved draft, ``_id = "<company>:<version>"``, with the
source and its status (draft | compiled), and once compiled its artifact and report. The
company record holds the version counter and the active pointer. Compiled policies are
immutable, keyed by company, version and checksum: loaded once per process from Redis or
the store, verified, and kept.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Mapping

from cachetools import LRUCache
from pymongo import ReturnDocument
from pymongo.errors import PyMongoError

import policy
from policy.references import company_warnings, reference_errors
from policy.errors import PolicyError
from policy.frozen import thaw
from policy.source import parse_text

from .companies import Companies, NotFound
from .locks import Locks
from .mirror import Mirror

log = logging.getLogger(__name__)

#: After a change, the version it replaced stays ready for a one-step manual rollback this long.
KEEP_PREVIOUS_S = 24 * 3600.0


class CompileBusy(Exception):
    """Another compile of this company is running."""


class Conflict(Exception):
    """The request cannot be done in the current state (e.g. activating a draft)."""


def sheet_id(company_id: str, version: int) -> str:
    """The key of one saved version."""
    return f"{company_id}:{version:06d}"


def artifact_key(company_id: str, version: int, checksum: str) -> str:
    """Redis's key for a compiled artifact."""
    return f"artifact:{company_id}:{version}:{checksum}"


class Policies:
    """Saves, compiles, activates and loads cheat-sheet versions."""

    def __init__(self, db: Any, companies: Companies, mirror: Mirror, locks: Locks, *,
                 clock: Callable[[], float] = time.time,
                 on_compile: Callable[[bool, float | None], None] | None = None) -> None:
        self.sheets = db["cheatsheets"]
        self.companies = companies
        self.mirror = mirror
        self.locks = locks
        self.clock = clock
        self.on_compile = on_compile or (lambda ok, seconds: None)
        self._lock = threading.Lock()
        self._compiled: LRUCache = LRUCache(maxsize=4096)  # immutable: kept while there is room
        #: What this process serves: company id -> {version, checksum} of the last policy it loaded.
        self.serving: dict[str, dict[str, Any]] = {}
        #: Per company, the last policy this process loaded and verified (served when a newer one fails).
        self.last_good: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, str] = {}

    def ensure_indexes(self) -> None:
        """The indexes version listings use (idempotent)."""
        self.sheets.create_index([("company_id", 1), ("version", -1)])

    def save_draft(self, company_id: str, source: Any, *, by: str = "admin",
                   company: Mapping[str, Any] | None = None) -> int:
        """Validate and save a cheat-sheet draft; returns its version (one more than the last).

        Refused (PolicyError) when invalid, or when it refers to contacts or transfer targets the
        company (``company``, else the stored one) cannot resolve.
        """
        try:
            if isinstance(source, str):
                source = parse_text(source, name="cheatSheet")
            sheet = policy.validate(source)
            if company is None:
                record = self.companies.get(company_id, fresh=True)
                company = record["doc"] if record else None
            errors = reference_errors(sheet, company) if company is not None else []
            if errors:
                raise PolicyError(errors)
        except PolicyError:
            self.on_compile(False, None)
            raise
        counter = self.companies.coll.find_one_and_update(
            {"_id": company_id}, {"$inc": {"sheet_version": 1}}, {"sheet_version": 1},
            return_document=ReturnDocument.AFTER)
        if counter is None:
            raise NotFound(f"no company {company_id!r}")
        version = int(counter["sheet_version"])
        self.sheets.insert_one({"_id": sheet_id(company_id, version), "company_id": company_id,
                                "version": version, "source": source, "status": "draft",
                                "created_at": self.clock(), "created_by": by})
        return version

    def latest(self, company_id: str) -> dict[str, Any] | None:
        """The latest saved version of a company's cheat sheet: ``{version, source, status}``, or None."""
        doc = self.sheets.find_one({"company_id": company_id}, sort=[("version", -1)])
        if doc is None:
            return None
        return {"version": doc["version"], "source": doc["source"], "status": doc.get("status")}

    def compile_latest(self, company_id: str, *, owner: str) -> dict[str, Any]:
        """Compile the latest draft; returns version, checksum, conflicts and warnings.

        Raises NotFound, CompileBusy (another compile holds the lock) or PolicyError.
        """
        record = self.companies.get(company_id, fresh=True)
        if record is None:
            raise NotFound(f"no company {company_id!r}")
        latest = self.sheets.find_one({"company_id": company_id}, sort=[("version", -1)])
        if latest is None:
            raise NotFound(f"company {company_id!r} has no cheat-sheet draft")
        lock = f"compile:{company_id}"
        if not self.locks.acquire(lock, owner):
            raise CompileBusy("compilation already in progress")
        try:
            started = time.perf_counter()
            try:
                errors = reference_errors(policy.validate(latest["source"]), record["doc"])
                if errors:  # the company changed since the draft was saved (a contact removed ...)
                    raise PolicyError(errors)
                compiled = policy.compile_cheatsheet(latest["source"])
            except PolicyError:
                self.on_compile(False, time.perf_counter() - started)
                raise
            # The artifact carries the draft's version (the checksum does not cover it).
            artifact = {**compiled.to_artifact(), "version": latest["version"]}
            warnings = company_warnings(compiled.report, record["doc"])
            report = {**thaw(compiled.report), "warnings": warnings,
                      "compile_ms": round((time.perf_counter() - started) * 1000, 2)}
            self.on_compile(True, time.perf_counter() - started)
            self.sheets.update_one({"_id": latest["_id"]}, {"$set": {
                "status": "compiled", "checksum": compiled.checksum, "artifact": artifact,
                "conflicts": report.get("conflictsTotal", 0),
                "report": report, "compiled_at": self.clock(), "compiled_by": owner}})
        finally:
            self.locks.release(lock, owner)
        return {"version": latest["version"], "checksum": compiled.checksum,
                "conflicts": report.get("conflicts", []), "warnings": warnings}

    def compiled_sheet(self, company_id: str, version: int) -> tuple[dict[str, Any], policy.CompiledPolicy]:
        """A saved version that is compiled and verifies: (its document, the policy). NotFound or Conflict."""
        sheet = self.sheets.find_one({"_id": sheet_id(company_id, version)})
        if sheet is None:
            raise NotFound(f"company {company_id!r} has no cheat-sheet version {version}")
        if sheet.get("status") != "compiled":
            raise Conflict(f"version {version} is not compiled yet; compile it first")
        try:
            return sheet, policy.load_artifact(sheet["artifact"])
        except policy.PolicyIntegrityError as exc:
            raise Conflict(f"version {version} does not verify: {exc}") from None

    def activate(self, company_id: str, version: int, *, by: str = "admin") -> dict[str, Any]:
        """Make a compiled version the company's active policy at once (its artifact must verify); the version
        it replaces is kept for a manual rollback. Refused while a rollout runs (it owns the active pointer)."""
        sheet, compiled = self.compiled_sheet(company_id, version)
        record = self.companies.get(company_id, fresh=True)
        if record is None:
            raise NotFound(f"no company {company_id!r}")
        if record.get("rollout"):
            raise Conflict(f"a rollout of version {record['rollout']['version']} is running; promote it or roll it "
                           "back first")
        now = self.clock()
        active = {"version": version, "checksum": compiled.checksum, "at": now, "by": by}
        change: dict[str, Any] = {"$set": {"active": active}, "$inc": {"policy_rev": 1}}
        old = record.get("active") or {}
        if old.get("version") and old.get("version") != version:
            change["$set"]["previous"] = {"version": old["version"], "checksum": old["checksum"],
                                          "until": now + KEEP_PREVIOUS_S}
        res = self.companies.coll.update_one({"_id": company_id, "rollout": None}, change)
        if res.matched_count == 0:
            raise Conflict("a rollout started meanwhile; promote it or roll it back first")
        self.mirror.put(artifact_key(company_id, version, compiled.checksum), sheet["artifact"])
        self.companies.refresh(company_id)
        return active

    def sheet(self, company_id: str, version: int | None = None) -> dict[str, Any] | None:
        """One saved version (its source, status and report), the latest when ``version`` is None."""
        if version is None:
            return self.sheets.find_one({"company_id": company_id}, sort=[("version", -1)])
        return self.sheets.find_one({"_id": sheet_id(company_id, version)})

    def candidate(self, company_id: str, version: int) -> policy.CompiledPolicy:
        """Any saved version as a policy to try (a compiled one from its verified artifact, a draft compiled now,
        nothing stored). NotFound, Conflict (an artifact that does not verify) or PolicyError."""
        sheet = self.sheet(company_id, version)
        if sheet is None:
            raise NotFound(f"company {company_id!r} has no cheat-sheet version {version}")
        if sheet.get("status") == "compiled":
            return self.compiled_sheet(company_id, version)[1]
        return policy.compile_cheatsheet(sheet["source"])

    def versions(self, company_id: str) -> list[dict[str, Any]]:
        """Every saved version, newest first, with status and checksum."""
        record = self.companies.get(company_id, fresh=True)
        if record is None:
            raise NotFound(f"no company {company_id!r}")
        active = (record.get("active") or {}).get("version")
        out = []
        fields = {"version": 1, "status": 1, "checksum": 1, "created_at": 1, "created_by": 1, "compiled_at": 1,
                  "conflicts": 1}
        for s in self.sheets.find({"company_id": company_id}, fields, sort=[("version", -1)]):
            out.append({"version": s["version"], "status": "active" if s["version"] == active else s["status"],
                        "checksum": s.get("checksum"), "created_at": s.get("created_at"),
                        "created_by": s.get("created_by"), "compiled_at": s.get("compiled_at"),
                        "conflicts": s.get("conflicts", 0)})
        return out

    def load(self, company_id: str, version: int, checksum: str) -> policy.CompiledPolicy | None:
        """A compiled policy by company, version and checksum (verified once, then cached), or None."""
        key = (company_id, version, checksum)
        with self._lock:
            hit = self._compiled.get(key)
        if hit is not None:
            return hit
        artifact, source = self._artifact(company_id, version, checksum)
        if artifact is None:
            return None
        compiled = self._verify(company_id, version, checksum, artifact, source)
        if compiled is None:
            return None
        with self._lock:
            self._compiled[key] = compiled
        return compiled

    def serve(self, company_id: str, version: int, checksum: str) -> None:
        """Note the active policy new calls of a company get in this process (its last good one). A rollout's
        candidate is loaded too, but never noted: it is not what the company falls back to."""
        self.serving[company_id] = self.last_good[company_id] = {"version": version, "checksum": checksum}

    def _artifact(self, company_id: str, version: int, checksum: str) -> tuple[Mapping[str, Any] | None, str]:
        rkey = artifact_key(company_id, version, checksum)
        artifact = self.mirror.get(rkey)
        if artifact is not None:
            return artifact, "redis"
        try:
            sheet = self.sheets.find_one({"_id": sheet_id(company_id, version)}, {"artifact": 1})
        except PyMongoError as exc:
            log.warning("company %s: policy version %s not loadable now: %s", company_id, version, exc)
            return None, ""
        if not sheet or not sheet.get("artifact"):
            return None, ""
        return sheet["artifact"], "document store"

    def _verify(self, company_id: str, version: int, checksum: str, artifact: Mapping[str, Any],
                source: str) -> policy.CompiledPolicy | None:
        try:
            compiled = policy.load_artifact(artifact)
        except (policy.PolicyIntegrityError, PolicyError, KeyError, TypeError, ValueError) as exc:
            self.errors[company_id] = f"version {version}: {exc}"
            log.error("company %s: cheat sheet version %s does not verify (%s): %s", company_id, version, source, exc)
            return None
        if source != "redis":
            self.mirror.put(artifact_key(company_id, version, checksum), artifact)
        if compiled.checksum != checksum:
            self.errors[company_id] = f"version {version}: checksum {compiled.checksum} != pinned {checksum}"
            log.error("company %s: version %s checksum mismatch", company_id, version)
            return None
        return compiled


__all__ = ["Policies", "CompileBusy", "Conflict", "sheet_id", "artifact_key", "KEEP_PREVIOUS_S"]
