"""Admin API: companies and their cheat sheets (save, compile, activate, versions), company tokens."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from policy.errors import PolicyError
from records.catalog import CompileBusy, Conflict, NotFound

from .api import body, bp, catalog, errors, owner, policy_errors


def _company_out(record: dict[str, Any]) -> dict[str, Any]:
    return {**record["doc"], "activePolicy": record.get("active"),
            "latestCheatSheetVersion": record.get("sheet_version", 0)}


@bp.put("/companies/<company_id>")
def put_company(company_id: str) -> Response:
    """Create or replace a company (201 created, 200 replaced, 422 with field errors)."""
    data = body()
    if isinstance(data, Response):
        return data
    if data.setdefault("id", company_id) != company_id:
        return errors(422, ("id", f"does not match the company id in the URL ({company_id!r})"))
    try:
        record, created = catalog().put_company(data)
    except PolicyError as exc:
        return policy_errors(422, exc)
    resp = jsonify(_company_out(record))
    resp.status_code = 201 if created else 200
    return resp


@bp.get("/companies/<company_id>")
def get_company(company_id: str) -> Response:
    """One company, with its active policy version."""
    record = catalog().companies.get(company_id, fresh=True)
    if record is None:
        return errors(404, ("", f"no company {company_id!r}"))
    return jsonify(_company_out(record))


@bp.put("/companies/<company_id>/cheatsheet")
def put_cheatsheet(company_id: str) -> Response:
    """Save a cheat-sheet draft; returns its version (201)."""
    data = body()
    if isinstance(data, Response):
        return data
    try:
        version = catalog().policies.save_draft(company_id, data)
    except PolicyError as exc:
        return policy_errors(422, exc)
    except NotFound as exc:
        return errors(404, ("", str(exc)))
    resp = jsonify(version=version, status="draft")
    resp.status_code = 201
    return resp


@bp.post("/companies/<company_id>/cheatsheet/compile")
def compile_cheatsheet(company_id: str) -> Response:
    """Compile the latest draft: version, checksum, conflicts (409 while another compile runs)."""
    try:
        result = catalog().policies.compile_latest(company_id, owner=owner())
    except NotFound as exc:
        return errors(404, ("", str(exc)))
    except CompileBusy as exc:
        return errors(409, ("", str(exc)))
    except PolicyError as exc:
        return policy_errors(422, exc)
    return jsonify(result)


@bp.post("/companies/<company_id>/cheatsheet/activate")
def activate(company_id: str) -> Response:
    """Make a compiled version the active policy: ``{"version": N}``."""
    data = body()
    if isinstance(data, Response):
        return data
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return errors(422, ("version", "must be a cheat-sheet version number (1, 2, ...)"))
    try:
        active = catalog().policies.activate(company_id, version)
    except NotFound as exc:
        return errors(404, ("version", str(exc)))
    except Conflict as exc:
        return errors(409, ("version", str(exc)))
    return jsonify(active=active)


@bp.get("/companies/<company_id>/cheatsheet/versions")
def versions(company_id: str) -> Response:
    """Every version of the company's cheat sheet, newest first."""
    try:
        return jsonify(versions=catalog().policies.versions(company_id))
    except NotFound as exc:
        return errors(404, ("", str(exc)))


@bp.post("/companies/<company_id>/tokens")
def new_token(company_id: str) -> Response:
    """Create a token for one company (it sees only its own calls and costs); shown once."""
    try:
        token = catalog().companies.new_token(company_id)
    except NotFound as exc:
        return errors(404, ("", str(exc)))
    resp = jsonify(token=token, company_id=company_id)
    resp.status_code = 201
    return resp
