"""Staff decisions on suggestions: approve (optionally edited), reject; network suggestions alike.

An approved scenario suggestion becomes a new version of the scenario template (kept, and
revertible with ``Templates.revert``); an approved cheat-sheet suggestion becomes a new
cheat-sheet draft, compiled, that staff deploy like any other version. A suggestion is claimed
before it is applied, so two approvals at once apply it once; if applying fails, it is pending
again and nothing half-written stays.
"""

from __future__ import annotations

import copy
import re
import time
from typing import Any, Callable, Mapping

import policy
from policy.errors import PolicyError
from policy.scenarios import validate_template
from policy.text import normalize
from records.catalog import Catalog
from records.policies import sheet_id
from records.templates import TemplateConflict

from .store import LearningStore
from .suggest import NOT_NEW

#: A queue item whose proposals staff rejected for this many scenarios leaves the queue (rejected).
REFUSALS = 3
#: A scenario's examples at most (the template's schema).
MAX_EXAMPLES = 100


class NotFound(LookupError):
    """No such suggestion."""


class Conflict(Exception):
    """The suggestion was decided already (or its template changed under it twice)."""


def _errors(prefix: str, exc: PolicyError, strip: str | None = None) -> PolicyError:
    """Field errors of a template or sheet, as paths into the suggestion's change."""
    out = []
    for e in exc.errors:
        path = e["path"]
        if strip is not None and re.match(strip, path):
            path = re.sub(strip, "", path).lstrip(".")
        out.append({"path": f"{prefix}.{path}".rstrip(".") if path else prefix, "message": e["message"]})
    return PolicyError(out)


def _strings(change: Mapping[str, Any], name: str) -> list[str]:
    value = change.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise PolicyError([{"path": f"change.{name}", "message": "must be a list of non-empty strings"}])
    return [v.strip() for v in value]


def apply_to_template(doc: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """A template document with a scenario change applied (not yet validated as a whole)."""
    if not isinstance(change, Mapping):
        raise PolicyError([{"path": "change", "message": "must be an object"}])
    new = copy.deepcopy(dict(doc))
    scenarios = new.setdefault("scenarios", [])
    if isinstance(change.get("scenario"), Mapping):  # a new scenario
        sc = dict(change["scenario"])
        if any(s.get("id") == sc.get("id") for s in scenarios):
            raise PolicyError([{"path": "change.scenario.id", "message": f"scenario {sc.get('id')!r} exists already"}])
        scenarios.append(sc)
        return new
    sid = change.get("scenario")
    target = next((s for s in scenarios if s.get("id") == sid), None)
    if target is None:
        raise PolicyError([{"path": "change.scenario", "message": f"the template has no scenario {sid!r}"}])
    for name in ("keywords", "examples", "replies"):
        have = {normalize(v) for v in target.get(name) or ()}
        for v in _strings(change, name):
            if name == "examples" and len(target.get(name) or ()) >= MAX_EXAMPLES:
                break  # a scenario full of examples takes no more (another approval may have filled it)
            if normalize(v) not in have:
                target.setdefault(name, []).append(v)
                have.add(normalize(v))
    return new


def apply_to_sheet(source: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """A cheat-sheet source with an edge case or transfer rule added (its id made unique)."""
    if not isinstance(change, Mapping):
        raise PolicyError([{"path": "change", "message": "must be an object"}])
    new = copy.deepcopy(dict(source))
    for key, field in (("edgeCase", "edgeCases"), ("transferRule", "transferRules")):
        rule = change.get(key)
        if rule is None:
            continue
        if not isinstance(rule, Mapping):
            raise PolicyError([{"path": f"change.{key}", "message": "must be an object"}])
        rule = dict(rule)
        taken = {r.get("id") for r in new.get(field) or ()}
        base, n = str(rule.get("id") or "learned"), 2
        while rule.get("id") in taken:
            rule["id"], n = f"{base}-{n}", n + 1
        new.setdefault(field, []).append(rule)
        return new
    raise PolicyError([{"path": "change", "message": "needs edgeCase or transferRule"}])


class Decisions:
    """Approve, edit or reject suggestions, and apply what was approved."""

    def __init__(self, store: LearningStore, catalog: Catalog, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock

    def _claim(self, sid: str) -> dict[str, Any]:
        doc = self.store.suggestion(sid)
        if doc is None:
            raise NotFound(f"no suggestion {sid!r}")
        if doc["status"] != "pending" or not self.store.decide(sid, "pending", {"status": "applying"}):
            raise Conflict(f"suggestion {sid!r} is {doc['status']}, not pending")
        return doc

    def approve(self, sid: str, *, by: str, change: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Apply a suggestion (with staff's edited ``change`` if given); returns the decided suggestion."""
        doc = self._claim(sid)
        change = doc["change"] if change is None else dict(change)
        try:
            applied = (self._to_template(doc["template_id"], change, sid, by) if doc["queue"] == "scenario"
                       else self._to_sheet(doc["company_id"], change, sid, by))
        except BaseException:
            self.store.decide(sid, "applying", {"status": "pending"})
            raise
        fields = {"status": "approved", "decided_at": self.clock(), "decided_by": by, "change": change,
                  "edited": change != doc["change"], "applied": applied}
        self.store.decide(sid, "applying", fields)
        self.store.mark(doc.get("item_ids") or (), "approved", sid)
        return {**doc, **fields}

    def edit(self, sid: str, change: Mapping[str, Any], *, by: str) -> dict[str, Any]:
        """Replace a pending suggestion's proposed change (checked as it would be applied); approve it next."""
        doc = self.store.suggestion(sid)
        if doc is None:
            raise NotFound(f"no suggestion {sid!r}")
        if doc["status"] != "pending":
            raise Conflict(f"suggestion {sid!r} is {doc['status']}, not pending")
        self.check(doc, change)
        fields = {"change": dict(change), "edited": True, "edited_by": by, "edited_at": self.clock()}
        if not self.store.decide(sid, "pending", fields):
            raise Conflict(f"suggestion {sid!r} was decided meanwhile")
        return {**doc, **fields}

    def check(self, doc: Mapping[str, Any], change: Mapping[str, Any]) -> None:
        """Raise PolicyError (paths into ``change``) if the change could not be applied as it stands."""
        if doc["queue"] == "scenario":
            current = self.catalog.templates.current(doc.get("template_id") or "")
            if current is None:
                raise PolicyError([{"path": "template_id", "message": f"no scenario template {doc.get('template_id')!r}"}])
            prefix = "change.scenario" if isinstance(change.get("scenario"), Mapping) else "change"
            try:
                validate_template(apply_to_template(current[0], change))
            except PolicyError as exc:
                if any(e["path"].startswith("change") for e in exc.errors):
                    raise
                raise _errors(prefix, exc, r"^scenarios\[\d+\]") from None
            return
        try:
            policy.validate(apply_to_sheet({}, change))
        except PolicyError as exc:
            if any(e["path"].startswith("change") for e in exc.errors):
                raise
            raise _errors("change", exc, r"^(edgeCases|transferRules)\[\d+\]") from None

    def reject(self, sid: str, *, by: str, note: str = "") -> dict[str, Any]:
        """Reject a suggestion: its items leave the queue, nothing changes."""
        doc = self._claim(sid)
        fields = {"status": "rejected", "decided_at": self.clock(), "decided_by": by, "note": note}
        self.store.decide(sid, "applying", fields)
        if doc.get("queue") == "scenario" and doc.get("kind") == "add_to_scenario" and doc.get("scenario"):
            # "Not this scenario": the turns are still unanswered, so they wait for a proposal elsewhere.
            self.store.refuse(doc.get("item_ids") or (), doc["scenario"], sid, retries=REFUSALS)
        elif doc.get("queue") == "scenario" and doc.get("kind") == "new_scenario":
            # "Not a new scenario": often what callers say of one the template has in other words; offered to
            # the existing scenario they read most like next.
            self.store.refuse(doc.get("item_ids") or (), NOT_NEW, sid, retries=REFUSALS)
        else:
            self.store.mark(doc.get("item_ids") or (), "rejected", sid)
        return {**doc, **fields}

    def _to_template(self, template_id: str | None, change: Mapping[str, Any], sid: str, by: str) -> dict[str, Any]:
        for _ in range(3):  # the template may change between reading and saving: read again
            current = self.catalog.templates.current(template_id) if template_id else None
            if current is None:
                raise PolicyError([{"path": "template_id", "message": f"no scenario template {template_id!r}"}])
            doc, version = current
            new = apply_to_template(doc, change)
            try:
                saved = self.catalog.templates.save(new, by=f"learning:{by}", reason=f"suggestion {sid}",
                                                    expect_version=version)
            except PolicyError as exc:
                prefix = "change.scenario" if isinstance(change.get("scenario"), Mapping) else "change"
                raise _errors(prefix, exc, r"^scenarios\[\d+\]") from None
            except TemplateConflict:
                continue
            return {"template_id": template_id, "template_version": saved["version"], "previous_version": version}
        raise Conflict(f"template {template_id!r} keeps changing; try again")

    def _to_sheet(self, company_id: str, change: Mapping[str, Any], sid: str, by: str) -> dict[str, Any]:
        policies = self.catalog.policies
        record = self.catalog.companies.get(company_id, fresh=True)
        if record is None:
            raise NotFound(f"no company {company_id!r}")
        active = (record.get("active") or {}).get("version")
        sheet = (policies.sheets.find_one({"_id": sheet_id(company_id, active)}) if active
                 else policies.sheets.find_one({"company_id": company_id}, sort=[("version", -1)]))
        source = apply_to_sheet((sheet or {}).get("source") or {}, change)
        try:
            version = policies.save_draft(company_id, source, by=f"learning:{by}")
        except PolicyError as exc:
            raise _errors("change", exc, r"^(edgeCases|transferRules)\[\d+\]") from None
        compiled = policies.compile_latest(company_id, owner=f"learning:{sid}")
        return {"cheatsheet_version": version, "checksum": compiled["checksum"], "based_on": active,
                "conflicts": compiled.get("conflicts", []), "deployed": False,
                "next": "a compiled draft: deploy it like any other version (activate, or the rollout)"}

    # -- network suggestions (template admins)

    def decide_network(self, nid: str, *, by: str, approve: bool, change: Mapping[str, Any] | None = None,
                       note: str = "") -> dict[str, Any]:
        """Approve (into the shared template) or reject a network suggestion."""
        doc = self.store.network.find_one({"_id": nid})
        if doc is None:
            raise NotFound(f"no network suggestion {nid!r}")
        if doc["status"] != "pending" or self.store.network.update_one(
                {"_id": nid, "status": "pending"}, {"$set": {"status": "applying"}}).matched_count != 1:
            raise Conflict(f"network suggestion {nid!r} is {doc['status']}, not pending")
        fields: dict[str, Any] = {"status": "rejected", "decided_at": self.clock(), "decided_by": by, "note": note}
        try:
            if approve:
                if change is None:
                    change = ({"scenario": doc["scenario"], "keywords": doc["keywords"], "examples": doc["examples"]}
                              if doc.get("scenario") else None)
                if change is None:
                    raise PolicyError([{"path": "change", "message": "a new scenario needs its replies: send "
                                        "change.scenario with id, name, keywords, examples and replies"}])
                fields.update(status="approved", change=dict(change),
                              applied=self._to_template(doc["template_id"], change, nid, by))
        except BaseException:
            self.store.network.update_one({"_id": nid, "status": "applying"}, {"$set": {"status": "pending"}})
            raise
        self.store.network.update_one({"_id": nid, "status": "applying"}, {"$set": fields})
        return {**doc, **fields}


__all__ = ["Decisions", "NotFound", "Conflict", "apply_to_template", "apply_to_sheet"]
