"""Companies, cheat-sheet versions, compiled artifacts and scenario templates in the document store.

The document store is the source of truth. Collections:

- ``companies``: ``{_id, doc, numbers, active: {version, checksum, at}, sheet_version, revision}``
  where ``doc`` is the validated company document of SPEC section 3 (without ``cheatSheet``).
- ``cheatsheets``: one document per saved draft, ``_id = "<company>:<version>"``, with the
  source, its status (draft | compiled), and once compiled its artifact and report.
- ``scenario_templates``: ``{_id, doc}``.
- ``locks``: expiring locks (the compile lock: one compile per company at a time).

Per-process caches keep the hot path off the store: company lookups for one second (so
every worker sees a change within about a second) and compiled policies forever (they are
immutable, keyed by company, version and checksum).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from typing import Any, Callable, Mapping

from cachetools import LRUCache, TTLCache
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

import policy
from policy.company import CompanyProfile
from policy.compiler import company_warnings, thaw
from policy.errors import PolicyError
from policy.source import parse_text
from policy.scenarios import CompiledTemplate, compile_template, validate_template

log = logging.getLogger(__name__)

COMPILE_LOCK_TTL_S = 60.0


class CompileBusy(Exception):
    """Another compile of this company is running."""


class NotFound(LookupError):
    """No such company or version."""


class Conflict(Exception):
    """The request cannot be done in the current state (e.g. activating a draft)."""


def company_record_profile(record: Mapping[str, Any]) -> CompanyProfile:
    """The engine's view of a stored company."""
    return CompanyProfile.from_dict(record["doc"])


class Catalog:
    """Reads and writes companies, cheat sheets and templates; caches what the hot path needs."""

    def __init__(self, db: Any, *, clock: Callable[[], float] = time.time, cache_ttl: float = 1.0,
                 redis: Any | None = None, on_compile: Callable[[bool, float | None], None] | None = None) -> None:
        self.db = db
        self.on_compile = on_compile or (lambda ok, seconds: None)
        self.redis = redis
        self._known: dict[str, dict[str, Any]] = {}
        self._known_numbers: dict[str, str] = {}
        self._known_templates: dict[str, CompiledTemplate] = {}
        self._mirrored: dict[str, float] = {}
        #: Per company, the last policy this process loaded and verified (served when a newer one fails).
        self.last_good: dict[str, dict[str, Any]] = {}
        self.clock = clock
        self.companies = db["companies"]
        self.sheets = db["cheatsheets"]
        self.templates = db["scenario_templates"]
        self.locks = db["locks"]
        self._lock = threading.Lock()
        self._by_number: TTLCache = TTLCache(maxsize=4096, ttl=cache_ttl, timer=time.monotonic)
        self._by_id: TTLCache = TTLCache(maxsize=4096, ttl=cache_ttl, timer=time.monotonic)
        self._profiles: LRUCache = LRUCache(maxsize=1024)
        self._policies: LRUCache = LRUCache(maxsize=512)
        self._templates: TTLCache = TTLCache(maxsize=256, ttl=max(cache_ttl, 1.0) * 5, timer=time.monotonic)
        #: What this process serves: company id -> {version, checksum} of the last policy it loaded.
        self.serving: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, str] = {}

    # -- companies

    def put_company(self, doc: Mapping[str, Any], *, by: str = "admin") -> tuple[dict[str, Any], bool]:
        """Create or replace a company (validated here); returns (record, created).

        The company's ``cheatSheet``, if given, is saved as a new draft.
        """
        company = policy.validate_company(dict(doc))
        data = company.model_dump(exclude={"cheatSheet"}, exclude_none=True)
        errors = []
        for i, number in enumerate(company.numbers):
            owner = self.companies.find_one({"numbers": number, "_id": {"$ne": company.id}}, {"_id": 1})
            if owner:
                errors.append({"path": f"numbers[{i}]", "message": f"{number} already belongs to company "
                                                                    f"{owner['_id']!r}"})
        sheet = company.cheatSheet
        if sheet is not None:
            try:
                policy.validate(sheet)
            except PolicyError as exc:
                errors.extend({"path": f"cheatSheet.{e['path']}" if e["path"] else "cheatSheet",
                               "message": e["message"]} for e in exc.errors)
        if errors:
            raise PolicyError(errors)
        now = self.clock()
        res = self.companies.update_one(
            {"_id": company.id},
            {"$set": {"doc": data, "numbers": list(company.numbers), "updated_at": now, "updated_by": by},
             "$inc": {"revision": 1},
             "$setOnInsert": {"created_at": now, "sheet_version": 0, "active": None}},
            upsert=True)
        created = res.upserted_id is not None
        if sheet is not None:
            self.save_draft(company.id, sheet, by=by)
        self.forget(company.id)
        return self.get_company(company.id, fresh=True) or {}, created

    def get_company(self, company_id: str, *, fresh: bool = False) -> dict[str, Any] | None:
        """A company record: this process's copy (about a second old at most unless ``fresh``), else the
        document store, else Redis's copy, else the last copy this process saw (backends down)."""
        if not fresh:
            with self._lock:
                hit = self._by_id.get(company_id)
            if hit is not None:
                return hit
        try:
            record = self.companies.find_one({"_id": company_id})
        except PyMongoError as exc:
            record = self._redis_json(f"company:{company_id}") or self._known.get(company_id)
            if record is None:
                raise
            log.debug("company %s from a lower tier: %s", company_id, exc)
            self._remember(record, mirror=False)
            return record
        if record is not None:
            self._remember(record)
        return record

    def _remember(self, record: dict[str, Any], *, mirror: bool = True) -> None:
        with self._lock:
            self._by_id[record["_id"]] = record
            self._known[record["_id"]] = record
            for number in record.get("numbers") or ():
                self._known_numbers[number] = record["_id"]
        if mirror:
            self._redis_put(f"company:{record['_id']}", record, refresh_after=1.0)
            for number in record.get("numbers") or ():
                self._redis_put(f"number:{number}", {"id": record["_id"]}, refresh_after=1.0)

    def company_for_number(self, number: str) -> dict[str, Any] | None:
        """The company that owns a Twilio number (the webhook's ``To``), or None."""
        with self._lock:
            cid = self._by_number.get(number)
        if cid is not None:
            return self.get_company(cid) if cid else None
        try:
            record = self.companies.find_one({"numbers": number})
        except PyMongoError:
            ref = self._redis_json(f"number:{number}")
            cid = (ref or {}).get("id") or self._known_numbers.get(number)
            if not cid:
                raise
            return self.get_company(cid)
        with self._lock:
            self._by_number[number] = record["_id"] if record else ""
        if record:
            self._remember(record)
        return record

    def warm(self) -> int:
        """Load every company into this process's last-known copies (at start; lets calls go on when
        the backends fail later)."""
        n = 0
        for record in self.companies.find({}):
            self._remember(record)
            n += 1
        return n

    # -- Redis: a cache of companies, artifacts and the active pointer (never the source of truth)

    def _redis_json(self, key: str) -> Any:
        if self.redis is None:
            return None
        try:
            raw = self.redis.get(key)
        except Exception:  # noqa: BLE001 - Redis is only a cache here
            return None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _redis_put(self, key: str, value: Any, *, refresh_after: float = 0.0) -> None:
        if self.redis is None:
            return
        now = time.monotonic()
        if refresh_after and now - self._mirrored.get(key, -1e9) < refresh_after:
            return
        self._mirrored[key] = now
        try:
            self.redis.set(key, json.dumps(value, separators=(",", ":"), default=str))
        except Exception:  # noqa: BLE001
            pass

    def profile(self, record: Mapping[str, Any]) -> CompanyProfile:
        """The engine's CompanyProfile for a record (built once per company revision)."""
        key = (record["_id"], record.get("revision", 0), record.get("updated_at"))
        with self._lock:
            hit = self._profiles.get(key)
        if hit is None:
            hit = company_record_profile(record)
            with self._lock:
                self._profiles[key] = hit
        return hit

    def add_to_blacklist(self, company_id: str, number: str) -> bool:
        """Add a caller's number to the company's blacklist (once)."""
        res = self.companies.update_one({"_id": company_id, "doc.blacklist": {"$ne": number}},
                                        {"$addToSet": {"doc.blacklist": number}, "$inc": {"revision": 1}})
        self.forget(company_id)
        return res.modified_count > 0

    def new_company_token(self, company_id: str) -> str:
        """Create a bearer token for one company (only its SHA-256 is stored); returns it once."""
        token = "ct_" + secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).hexdigest()
        res = self.companies.update_one({"_id": company_id}, {"$push": {"tokens": {
            "sha256": digest, "created_at": self.clock()}}})
        if res.matched_count == 0:
            raise NotFound(f"no company {company_id!r}")
        self.forget(company_id)
        return token

    def company_token_ok(self, company_id: str, token: str) -> bool:
        """Whether a token is one of the company's own (constant-time comparison)."""
        try:
            record = self.get_company(company_id, fresh=True)
        except PyMongoError:
            record = self._known.get(company_id)
        digest = hashlib.sha256(token.encode()).hexdigest()
        ok = False
        for entry in (record or {}).get("tokens") or ():
            ok |= hmac.compare_digest(digest, str(entry.get("sha256", "")))
        return ok

    def forget(self, company_id: str) -> None:
        """Drop this process's cached copy of a company (the next read also refreshes Redis's copy)."""
        with self._lock:
            self._by_id.pop(company_id, None)
            self._by_number.clear()
            self._mirrored.pop(f"company:{company_id}", None)

    # -- cheat sheets

    def save_draft(self, company_id: str, source: Any, *, by: str = "admin") -> int:
        """Validate and save a cheat-sheet draft; returns its version (one more than the last)."""
        try:
            if isinstance(source, str):
                source = parse_text(source, name="cheatSheet")
            policy.validate(source)
        except PolicyError:
            self.on_compile(False, None)
            raise
        counter = self.companies.find_one_and_update({"_id": company_id}, {"$inc": {"sheet_version": 1}},
                                                     {"sheet_version": 1}, return_document=ReturnDocument.AFTER)
        if counter is None:
            raise NotFound(f"no company {company_id!r}")
        version = int(counter["sheet_version"])
        self.sheets.insert_one({"_id": f"{company_id}:{version:06d}", "company_id": company_id,
                                "version": version, "source": source, "status": "draft",
                                "created_at": self.clock(), "created_by": by})
        return version

    def acquire_lock(self, name: str, owner: str, ttl: float = COMPILE_LOCK_TTL_S) -> bool:
        """Take an expiring lock; a lock left by a crashed process expires after ``ttl`` seconds."""
        now = self.clock()
        try:
            self.locks.insert_one({"_id": name, "owner": owner, "expires": now + ttl})
            return True
        except DuplicateKeyError:
            taken = self.locks.find_one_and_update({"_id": name, "expires": {"$lt": now}},
                                                   {"$set": {"owner": owner, "expires": now + ttl}})
            return taken is not None

    def release_lock(self, name: str, owner: str) -> None:
        """Release a lock this owner holds."""
        self.locks.delete_one({"_id": name, "owner": owner})

    def compile_latest(self, company_id: str, *, owner: str) -> dict[str, Any]:
        """Compile the latest draft; returns version, checksum, conflicts and warnings.

        Raises NotFound, CompileBusy (another compile holds the lock) or PolicyError.
        """
        record = self.get_company(company_id, fresh=True)
        if record is None:
            raise NotFound(f"no company {company_id!r}")
        latest = self.sheets.find_one({"company_id": company_id}, sort=[("version", -1)])
        if latest is None:
            raise NotFound(f"company {company_id!r} has no cheat-sheet draft")
        lock = f"compile:{company_id}"
        if not self.acquire_lock(lock, owner):
            raise CompileBusy("compilation already in progress")
        try:
            started = time.perf_counter()
            try:
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
                "report": report, "compiled_at": self.clock(), "compiled_by": owner}})
        finally:
            self.release_lock(lock, owner)
        return {"version": latest["version"], "checksum": compiled.checksum,
                "conflicts": report.get("conflicts", []), "warnings": warnings}

    def activate(self, company_id: str, version: int, *, by: str = "admin") -> dict[str, Any]:
        """Make a compiled version the company's active policy (its artifact must verify)."""
        sheet = self.sheets.find_one({"_id": f"{company_id}:{version:06d}"})
        if sheet is None:
            raise NotFound(f"company {company_id!r} has no cheat-sheet version {version}")
        if sheet.get("status") != "compiled":
            raise Conflict(f"version {version} is not compiled yet; compile it first")
        try:
            compiled = policy.load_artifact(sheet["artifact"])
        except policy.PolicyIntegrityError as exc:
            raise Conflict(f"version {version} does not verify: {exc}") from None
        active = {"version": version, "checksum": compiled.checksum, "at": self.clock(), "by": by}
        res = self.companies.update_one({"_id": company_id}, {"$set": {"active": active}})
        if res.matched_count == 0:
            raise NotFound(f"no company {company_id!r}")
        self._redis_put(f"artifact:{company_id}:{version}:{compiled.checksum}", sheet["artifact"])
        self.forget(company_id)
        self.get_company(company_id, fresh=True)  # refreshes Redis's copy: the active pointer
        return active

    def versions(self, company_id: str) -> list[dict[str, Any]]:
        """Every saved version, newest first, with status and checksum."""
        record = self.get_company(company_id, fresh=True)
        if record is None:
            raise NotFound(f"no company {company_id!r}")
        active = (record.get("active") or {}).get("version")
        out = []
        for s in self.sheets.find({"company_id": company_id}, sort=[("version", -1)]):
            out.append({"version": s["version"], "status": "active" if s["version"] == active else s["status"],
                        "checksum": s.get("checksum"), "created_at": s.get("created_at"),
                        "created_by": s.get("created_by"), "compiled_at": s.get("compiled_at"),
                        "conflicts": len((s.get("report") or {}).get("conflicts", []))})
        return out

    def policy(self, company_id: str, version: int, checksum: str) -> policy.CompiledPolicy | None:
        """A compiled policy by company, version and checksum (verified once, then cached)."""
        key = (company_id, version, checksum)
        with self._lock:
            hit = self._policies.get(key)
        if hit is not None:
            return hit
        rkey = f"artifact:{company_id}:{version}:{checksum}"
        artifact = self._redis_json(rkey)
        from_redis = artifact is not None
        if artifact is None:
            try:
                sheet = self.sheets.find_one({"_id": f"{company_id}:{version:06d}"}, {"artifact": 1})
            except PyMongoError as exc:
                log.warning("company %s: policy version %s not loadable now: %s", company_id, version, exc)
                return None
            if not sheet or not sheet.get("artifact"):
                return None
            artifact = sheet["artifact"]
        try:
            compiled = policy.load_artifact(artifact)
        except (policy.PolicyIntegrityError, PolicyError, KeyError, TypeError, ValueError) as exc:
            self.errors[company_id] = f"version {version}: {exc}"
            log.error("company %s: cheat sheet version %s does not verify (%s): %s", company_id, version,
                      "redis" if from_redis else "document store", exc)
            return None
        if not from_redis:
            self._redis_put(rkey, artifact)
        if compiled.checksum != checksum:
            self.errors[company_id] = f"version {version}: checksum {compiled.checksum} != pinned {checksum}"
            log.error("company %s: version %s checksum mismatch", company_id, version)
            return None
        with self._lock:
            self._policies[key] = compiled
        self.serving[company_id] = {"version": version, "checksum": checksum}
        self.last_good[company_id] = {"version": version, "checksum": checksum}
        return compiled

    # -- scenario templates

    def put_template(self, doc: Mapping[str, Any]) -> str:
        """Validate and store a scenario template; returns its id."""
        template = validate_template(dict(doc))
        self.templates.replace_one({"_id": template.id}, {"_id": template.id, "doc": template.model_dump(),
                                                          "updated_at": self.clock()}, upsert=True)
        with self._lock:
            self._templates.pop(template.id, None)
        return template.id

    def template(self, template_id: str | None) -> CompiledTemplate | None:
        """A compiled scenario template (cached a few seconds), or None if missing or invalid."""
        if not template_id:
            return None
        with self._lock:
            hit = self._templates.get(template_id)
        if hit is not None:
            return hit
        try:
            doc = self.templates.find_one({"_id": template_id})
        except PyMongoError:
            return self._known_templates.get(template_id)
        if doc is None:
            return None
        try:
            compiled = compile_template(doc["doc"])
        except PolicyError as exc:
            log.error("scenario template %s is invalid: %s", template_id, exc)
            return None
        with self._lock:
            self._templates[template_id] = compiled
            self._known_templates[template_id] = compiled
        return compiled


__all__ = ["Catalog", "CompileBusy", "NotFound", "Conflict", "COMPILE_LOCK_TTL_S"]
