"""The catalog: companies, their cheat-sheet versions and the scenario templates, in one place.

Each concern has its own module (``companies``, ``policies``, ``templates``); the catalog
composes them and adds the one operation that spans two: saving a company document that
carries its first cheat sheet.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import policy
from policy.errors import PolicyError
from policy.references import reference_errors
from policy.scenarios import validate_template

from .changes import Changes
from .companies import Companies, NotFound
from .locks import Locks
from .mirror import Mirror
from .policies import CompileBusy, Conflict, Policies
from .templates import Templates


class Catalog:
    """Companies, policy versions and templates over one document store (and Redis as a cache)."""

    def __init__(self, db: Any, *, redis: Any | None = None, clock: Callable[[], float] = time.time,
                 on_compile: Callable[[bool, float | None], None] | None = None) -> None:
        mirror = Mirror(redis)
        self.changes = Changes(db, redis, clock=clock)
        self.locks = Locks(db, clock=clock)
        self.companies = Companies(db, mirror, changes=self.changes, clock=clock)
        self.policies = Policies(db, self.companies, mirror, self.locks, clock=clock, on_compile=on_compile)
        self.templates = Templates(db, changes=self.changes, clock=clock)

    def warm_policies(self) -> int:
        """Load and verify every known company's active policy and template now, as a server that has been up
        has them (a background thread at start); returns how many policies were loaded."""
        loaded = 0
        for company_id in self.companies.known_ids():
            record = self.companies.last_known(company_id) or {}
            active = record.get("active") or {}
            if active.get("version") and self.policies.load(company_id, active["version"], active["checksum"]):
                loaded += 1
            self.templates.get((record.get("doc") or {}).get("scenarioTemplate"))
        return loaded

    def ensure_indexes(self) -> None:
        """The catalog's indexes (idempotent)."""
        self.policies.ensure_indexes()
        self.templates.ensure_indexes()

    def put_company(self, doc: Mapping[str, Any], *, by: str = "admin",
                    template: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
        """Create or replace a company; its ``cheatSheet``, if given, is saved as a new draft, and
        ``template`` (a scenario template document), if given, is stored first.

        Refused whole (PolicyError with every field error) before anything is stored.
        """
        company = policy.validate_company(dict(doc))
        given = validate_template(dict(template)) if template is not None else None
        errors = []
        if (company.scenarioTemplate and not (given and given.id == company.scenarioTemplate)
                and self.templates.get(company.scenarioTemplate) is None):
            errors.append({"path": "scenarioTemplate",
                           "message": f"no scenario template {company.scenarioTemplate!r} (import it first)"})
        sheet = company.cheatSheet
        doc_plain = company.model_dump(exclude={"cheatSheet"}, exclude_none=True)
        if sheet is not None:
            try:
                found = reference_errors(policy.validate(sheet), doc_plain)
            except PolicyError as exc:
                found = exc.errors
            errors.extend({"path": f"cheatSheet.{e['path']}" if e["path"] else "cheatSheet",
                           "message": e["message"]} for e in found)
        if errors:
            raise PolicyError(errors)
        if given is not None:
            self.templates.put(given.model_dump())
        record, created = self.companies.put(company, by=by)
        if sheet is not None:
            self.policies.save_draft(company.id, sheet, by=by, company=doc_plain)
        return record, created


__all__ = ["Catalog", "NotFound", "CompileBusy", "Conflict"]
