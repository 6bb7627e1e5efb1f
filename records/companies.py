"""Companies (tenants) in the document store, with this process's caches and last-known copies.

``companies``: ``{_id, doc, numbers, active: {version, checksum, at}, sheet_version, revision,
tokens}`` where ``doc`` is the validated company document of SPEC section 3 (without its
``cheatSheet``). ``numbers``: ``{_id: <E.164 number>, company_id}``, one claim per number, so
the store itself refuses a second owner (its unique key), and a call's ``To`` finds its
company by primary key. Records are cached for a second per process, so every worker sees a
change within about a second; the last copy seen of each company stays, and Redis holds one
too, so calls go on when the store is down.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from typing import Any, Callable, Mapping

from cachetools import LRUCache, TTLCache
from pymongo.errors import DuplicateKeyError, PyMongoError

from policy.company import Company, CompanyProfile
from policy.errors import PolicyError

from .changes import Changes
from .mirror import Mirror

log = logging.getLogger(__name__)


#: Marks a store whose companies' numbers have all been claimed (never an E.164 number).
CLAIMS_COMPLETE = "~claims-complete"


class NotFound(LookupError):
    """No such company or version."""


class Companies:
    """Reads and writes company records; caches what the hot path needs."""

    def __init__(self, db: Any, mirror: Mirror, *, changes: Changes, clock: Callable[[], float] = time.time,
                 backstop_s: float = 60.0) -> None:
        self.coll = db["companies"]
        self.numbers = db["numbers"]
        self.mirror = mirror
        self.changes = changes
        self.clock = clock
        self._lock = threading.Lock()
        # Kept until the company changes (the change feed); the expiry only backs up a lost change note.
        self._by_number: TTLCache = TTLCache(maxsize=65_536, ttl=backstop_s, timer=time.monotonic)
        self._by_id: TTLCache = TTLCache(maxsize=65_536, ttl=backstop_s, timer=time.monotonic)
        changes.subscribe(self._changed)
        self._profiles: LRUCache = LRUCache(maxsize=1024)
        self._known: dict[str, dict[str, Any]] = {}
        self._known_numbers: dict[str, str] = {}

    def put(self, company: Company, *, by: str = "admin") -> tuple[dict[str, Any], bool]:
        """Create or replace a validated company; returns (record, created).

        Its numbers are claimed first (a number another company holds is a PolicyError naming it,
        and nothing is stored); numbers it no longer has are released after the write.
        """
        self._claim(company.id, company.numbers)
        now = self.clock()
        data = company.model_dump(exclude={"cheatSheet"}, exclude_none=True)
        res = self.coll.update_one(
            {"_id": company.id},
            {"$set": {"doc": data, "numbers": list(company.numbers), "updated_at": now, "updated_by": by},
             "$inc": {"revision": 1},
             "$setOnInsert": {"created_at": now, "sheet_version": 0, "active": None}},
            upsert=True)
        self._release(company.id, keep=company.numbers)
        self.forget(company.id)
        return self.get(company.id, fresh=True) or {}, res.upserted_id is not None

    def _claim(self, company_id: str, numbers: list[str]) -> None:
        """Claim each number for the company (the store's unique key decides a race); all or none."""
        claimed, errors = [], []
        for i, number in enumerate(numbers):
            try:
                self.numbers.insert_one({"_id": number, "company_id": company_id})
                claimed.append(number)
            except DuplicateKeyError:
                owner = (self.numbers.find_one({"_id": number}) or {}).get("company_id")
                if owner != company_id:
                    errors.append({"path": f"numbers[{i}]",
                                   "message": f"{number} already belongs to company {owner!r}"})
        if errors:
            for number in claimed:
                self.numbers.delete_one({"_id": number, "company_id": company_id})
            raise PolicyError(errors)

    def _release(self, company_id: str, *, keep: list[str]) -> None:
        """Give up the numbers a company no longer lists."""
        for claim in self.numbers.find({"company_id": company_id}):
            if claim["_id"] not in keep:
                self.numbers.delete_one({"_id": claim["_id"], "company_id": company_id})

    def claim_listed_numbers(self) -> int:
        """Claim the numbers of companies stored before claims existed (once per store; idempotent)."""
        if self.numbers.find_one({"_id": CLAIMS_COMPLETE}) is not None:
            return 0
        n = 0
        for record in self.coll.find({}, {"numbers": 1}):
            for number in record.get("numbers") or ():
                try:
                    self.numbers.insert_one({"_id": number, "company_id": record["_id"]})
                    n += 1
                except DuplicateKeyError:
                    pass
        self.numbers.insert_one({"_id": CLAIMS_COMPLETE, "company_id": None})
        return n

    def get(self, company_id: str, *, fresh: bool = False) -> dict[str, Any] | None:
        """A company record: this process's copy (dropped when the company changes, unless ``fresh``), else
        the document store, else Redis's copy, else the last copy this process saw (backends down)."""
        if not fresh:
            self.changes.poll()
            with self._lock:
                hit = self._by_id.get(company_id)
            if hit is not None:
                return hit
        try:
            record = self.coll.find_one({"_id": company_id})
        except PyMongoError as exc:
            record = self.mirror.get(f"company:{company_id}") or self._known.get(company_id)
            if record is None:
                raise
            log.debug("company %s from a lower tier: %s", company_id, exc)
            self._remember(record, mirror=False)
            return record
        if record is not None:
            self._remember(record)
        return record

    def for_number(self, number: str) -> dict[str, Any] | None:
        """The company that owns a Twilio number (the webhook's ``To``), or None."""
        self.changes.poll()
        with self._lock:
            cid = self._by_number.get(number)
        if cid is not None:
            if not cid:
                return None
            hit = self.get(cid)
            if hit is not None and number in (hit.get("numbers") or ()):
                return hit
            with self._lock:  # the number moved since it was noted: ask the claims
                self._by_number.pop(number, None)
        try:
            claim = self.numbers.find_one({"_id": number})
            record = self.coll.find_one({"_id": claim["company_id"]}) if claim else None
            if record is not None and number not in (record.get("numbers") or ()):
                record = None  # a claim left by a write that did not finish: the company does not list it
        except PyMongoError:
            ref = self.mirror.get(f"number:{number}")
            cid = (ref or {}).get("id") or self._known_numbers.get(number)
            if not cid:
                raise
            return self.get(cid)
        with self._lock:
            self._by_number[number] = record["_id"] if record else ""
        if record:
            self._remember(record)
        return record

    def _remember(self, record: dict[str, Any], *, mirror: bool = True) -> None:
        with self._lock:
            self._by_id[record["_id"]] = record
            self._known[record["_id"]] = record
            for number in record.get("numbers") or ():
                self._known_numbers[number] = record["_id"]
        if mirror:
            self.mirror.put(f"company:{record['_id']}", record, refresh_after=1.0)
            for number in record.get("numbers") or ():
                self.mirror.put(f"number:{number}", {"id": record["_id"]}, refresh_after=1.0)

    def known_ids(self) -> list[str]:
        """The ids of every company this process has seen."""
        return list(self._known)

    def last_known(self, company_id: str) -> dict[str, Any] | None:
        """The last copy of a company this process saw (no backend asked)."""
        return self._known.get(company_id)

    def warm(self) -> int:
        """Load every company into this process's copies (in the background after start): its first call
        costs no store read, and calls go on when the backends fail later."""
        n = 0
        for record in self.coll.find({}):
            self._remember(record, mirror=False)  # Redis gets a company's copy when it is next read
            with self._lock:  # a number a company lists is its own (claimed before the company was written)
                for number in record.get("numbers") or ():
                    self._by_number.setdefault(number, record["_id"])
            self.profile(record)  # the engine's view of it, built now rather than on its first call
            n += 1
        return n

    def forget(self, company_id: str) -> None:
        """The company was just written: every process drops its copy (the next read refreshes Redis's too)."""
        self._changed("company", company_id)
        self.changes.note("company", company_id)

    def _changed(self, kind: str, key: str) -> None:
        if kind != "company":
            return
        with self._lock:
            self._by_id.pop(key, None)
            self._by_number.clear()
        self.mirror.stale(f"company:{key}")

    def refresh(self, company_id: str) -> dict[str, Any] | None:
        """Re-read a company after this process changed it: this process's cache and Redis's copy now hold the
        change; other processes drop theirs within a second (the change feed)."""
        self.forget(company_id)
        return self.get(company_id, fresh=True)

    def profile(self, record: Mapping[str, Any]) -> CompanyProfile:
        """The engine's CompanyProfile for a record (built once per company revision)."""
        key = (record["_id"], record.get("revision", 0), record.get("updated_at"))
        with self._lock:
            hit = self._profiles.get(key)
        if hit is None:
            hit = CompanyProfile.from_dict(record["doc"])
            with self._lock:
                self._profiles[key] = hit
        return hit

    def add_to_blacklist(self, company_id: str, number: str) -> bool:
        """Add a caller's number to the company's blacklist (once)."""
        res = self.coll.update_one({"_id": company_id, "doc.blacklist": {"$ne": number}},
                                   {"$addToSet": {"doc.blacklist": number}, "$inc": {"revision": 1}})
        self.forget(company_id)
        return res.modified_count > 0

    def new_token(self, company_id: str) -> str:
        """Create a bearer token for one company (only its SHA-256 is stored); returns it once."""
        token = "ct_" + secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).hexdigest()
        res = self.coll.update_one({"_id": company_id}, {"$push": {"tokens": {
            "sha256": digest, "created_at": self.clock()}}})
        if res.matched_count == 0:
            raise NotFound(f"no company {company_id!r}")
        self.forget(company_id)
        return token

    def for_token(self, token: str) -> str | None:
        """The id of the company a token belongs to, or None (every company's digests compared in constant time)."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        found = None
        for record in self.coll.find({"tokens": {"$exists": True}}, {"tokens": 1}):
            for entry in record.get("tokens") or ():
                if hmac.compare_digest(digest, str(entry.get("sha256", ""))):
                    found = record["_id"]
        return found

    def summaries(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Every company's id, name and active policy, by id (for staff listings)."""
        rows = self.coll.find({}, {"doc": 1, "active": 1, "rollout": 1}, sort=[("_id", 1)], limit=limit)
        return [{"id": r["_id"], "name": (r.get("doc") or {}).get("name", ""), "trade": (r.get("doc") or {}).get("trade"),
                 "active": r.get("active"), "rollout": (r.get("rollout") or {}).get("stage")} for r in rows]

    def token_ok(self, company_id: str, token: str) -> bool:
        """Whether a token is one of the company's own (constant-time comparison)."""
        try:
            record = self.get(company_id, fresh=True)
        except PyMongoError:
            record = self._known.get(company_id)
        digest = hashlib.sha256(token.encode()).hexdigest()
        ok = False
        for entry in (record or {}).get("tokens") or ():
            ok |= hmac.compare_digest(digest, str(entry.get("sha256", "")))
        return ok


__all__ = ["Companies", "NotFound"]
