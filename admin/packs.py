"""Admin API and services: add a default edge-case pack to a company's cheat sheet, and migrate its
legacy-shape edge cases; both save the result as a new draft (compile and activate as usual)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from flask import Response, jsonify, request

from policy.errors import PolicyError
from policy.migrate import migrate_sheet
from policy.packs import PACKS, add_pack
from records.catalog import Catalog, NotFound

from .api import body, bp, catalog, errors, policy_errors


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _company_and_sheet(cat: Catalog, company_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    record = cat.companies.get(company_id, fresh=True)
    if record is None:
        raise NotFound(f"no company {company_id!r}")
    latest = cat.policies.latest(company_id)
    return record["doc"], dict((latest or {}).get("source") or {})


def add_pack_draft(cat: Catalog, company_id: str, *, pack: str = "enterprise", by: str = "admin",
                   now: datetime | None = None) -> dict[str, Any]:
    """Add a pack to the company's latest cheat sheet and save it as a new draft.

    Returns ``{version, added, skipped}`` (``version`` None when every edge case was there already).
    Raises NotFound, KeyError (unknown pack) or PolicyError (the result does not validate).
    """
    company, sheet = _company_and_sheet(cat, company_id)
    new, added, skipped = add_pack(sheet, company, pack=pack, by=by, now=now or _now())
    version = cat.policies.save_draft(company_id, new, by=by) if added else None
    return {"version": version, "added": added, "skipped": skipped}


def migrate_draft(cat: Catalog, company_id: str, *, by: str = "migration", now: datetime | None = None,
                  dry_run: bool = False) -> dict[str, Any]:
    """Rewrite the latest cheat sheet's legacy edge cases in the enterprise shape, as a new draft.

    Returns ``{version, migrated}`` (``version`` None when nothing was legacy, or on a dry run).
    """
    _, sheet = _company_and_sheet(cat, company_id)
    new, changes = migrate_sheet(sheet, by=by, now=now or _now())
    version = cat.policies.save_draft(company_id, new, by=by) if changes and not dry_run else None
    return {"version": version, "migrated": changes}


def _new_draft(make: Callable[[str], dict[str, Any]], default_by: str) -> Response:
    """Run ``make(by)``: 201 with its result when it saved a new draft, 200 when nothing changed.

    The body is optional; ``{"by": "..."}`` names who did it (audit metadata)."""
    by = default_by
    if request.get_data(cache=True):
        data = body()
        if isinstance(data, Response):
            return data
        by = str(data.get("by") or default_by)[:120]
    try:
        result = make(by)
    except NotFound as exc:
        return errors(404, ("", str(exc)))
    except PolicyError as exc:
        return policy_errors(422, exc)
    resp = jsonify(result)
    resp.status_code = 201 if result["version"] else 200
    return resp


@bp.post("/companies/<company_id>/cheatsheet/packs/<pack>")
def post_pack(company_id: str, pack: str) -> Response:
    """Add a default edge-case pack (``enterprise``) as a new draft: 201 with the ids added and skipped."""
    if pack not in PACKS:
        return errors(404, ("pack", f"no pack {pack!r}; known: {', '.join(PACKS)}"))
    return _new_draft(lambda by: add_pack_draft(catalog(), company_id, pack=pack, by=by), "admin")


@bp.post("/companies/<company_id>/cheatsheet/migrate")
def post_migrate(company_id: str) -> Response:
    """Rewrite legacy-shape edge cases in the enterprise shape as a new draft (200 when none were legacy)."""
    return _new_draft(lambda by: migrate_draft(catalog(), company_id, by=by), "migration")


__all__ = ["add_pack_draft", "migrate_draft"]
