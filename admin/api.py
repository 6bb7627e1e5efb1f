"""The admin API for staff: companies and their cheat sheets (JSON in and out, bearer-token auth)."""

from __future__ import annotations

import hmac
import logging
import os
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from policy.errors import PolicyError
from records.catalog import Catalog, CompileBusy, Conflict, NotFound

from . import forensics

log = logging.getLogger(__name__)

bp = Blueprint("admin_api", __name__, url_prefix="/admin")


def catalog() -> Catalog:
    """This app's catalog (built in create_app)."""
    return current_app.extensions["catalog"]


def errors(status: int, *items: tuple[str, str], headers: dict[str, str] | None = None) -> Response:
    """An error response: ``{"errors": [{"path", "message"}]}``."""
    resp = jsonify(errors=[{"path": p, "message": m} for p, m in items])
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def policy_errors(status: int, exc: PolicyError) -> Response:
    """Field errors of a refused document."""
    return errors(status, *((e["path"], e["message"]) for e in exc.errors))


#: Routes a company's own token may call (its own calls and costs); everything else needs ADMIN_TOKEN.
COMPANY_ENDPOINTS = {"admin_api.list_calls", "admin_api.get_call", "admin_api.costs"}


@bp.before_request
def require_token() -> Response | None:
    """Bearer-token auth, compared in constant time; the API is off without a configured token.

    ``g.caller`` is ``("admin", None)`` for ADMIN_TOKEN, ``("company", id)`` for a company token
    (which only reaches that company's calls and costs).
    """
    expected = current_app.config["SETTINGS"].ADMIN_TOKEN
    if not expected:
        return errors(503, ("", "the admin API is disabled: set ADMIN_TOKEN to enable it"))
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    given = given.strip()
    refused = errors(401, ("Authorization", "a valid bearer token is required"),
                     headers={"WWW-Authenticate": 'Bearer realm="admin"'})
    if scheme.lower() != "bearer" or not given:
        return refused
    if hmac.compare_digest(given.encode(), expected.encode()):
        g.caller = ("admin", None)
        return None
    company_id = (request.view_args or {}).get("company_id")
    if request.endpoint in COMPANY_ENDPOINTS and company_id and catalog().companies.token_ok(company_id, given):
        g.caller = ("company", company_id)
        return None
    return refused


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    """JSON for every HTTP error under /admin."""
    return errors(exc.code or 500, ("", exc.description or exc.name))


def _body() -> dict[str, Any] | Response:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return errors(400, ("", "the body must be a JSON object (Content-Type: application/json)"))
    return data


def _owner() -> str:
    return f"{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _company_out(record: dict[str, Any]) -> dict[str, Any]:
    return {**record["doc"], "activePolicy": record.get("active"),
            "latestCheatSheetVersion": record.get("sheet_version", 0)}


@bp.put("/companies/<company_id>")
def put_company(company_id: str) -> Response:
    """Create or replace a company (201 created, 200 replaced, 422 with field errors)."""
    body = _body()
    if isinstance(body, Response):
        return body
    if body.setdefault("id", company_id) != company_id:
        return errors(422, ("id", f"does not match the company id in the URL ({company_id!r})"))
    try:
        record, created = catalog().put_company(body)
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
    body = _body()
    if isinstance(body, Response):
        return body
    try:
        version = catalog().policies.save_draft(company_id, body)
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
        result = catalog().policies.compile_latest(company_id, owner=_owner())
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
    body = _body()
    if isinstance(body, Response):
        return body
    version = body.get("version")
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


# --- forensics ------------------------------------------------------------------------------

def _int_arg(name: str, default: int, low: int, high: int) -> int | Response:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        return errors(400, (name, f"must be a whole number from {low} to {high}"))
    return int(raw)


def _range() -> tuple[float | None, float | None] | Response:
    try:
        return (forensics.parse_time(request.args.get("since"), "since"),
                forensics.parse_time(request.args.get("until"), "until"))
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        return errors(400, (field, message))


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


@bp.get("/companies/<company_id>/calls")
def list_calls(company_id: str) -> Response:
    """A company's calls, newest first: ?since=&until=&action=&tag=&tier=&page=&per_page= (numbers masked)."""
    when = _range()
    if isinstance(when, Response):
        return when
    page = _int_arg("page", 1, 1, 100_000)
    per_page = _int_arg("per_page", 50, 1, 200)
    for value in (page, per_page):
        if isinstance(value, Response):
            return value
    tier = request.args.get("tier") or None
    if tier and tier not in ("1", "2", "3", "fallback"):
        return errors(400, ("tier", "must be 1, 2, 3 or fallback"))
    if catalog().companies.get(company_id) is None:
        return errors(404, ("", f"no company {company_id!r}"))
    return jsonify(forensics.list_calls(current_app.extensions["docstore"], company_id, since=when[0], until=when[1],
                                        action=request.args.get("action") or None, tag=request.args.get("tag") or None,
                                        tier=tier, page=page, per_page=per_page))


@bp.get("/companies/<company_id>/calls/<call_sid>")
def get_call(company_id: str, call_sid: str) -> Response:
    """One call, every turn's breakdown; full caller numbers only for the company's own token."""
    full = g.caller == ("company", company_id)
    detail = forensics.call_detail(current_app.extensions["docstore"], company_id, call_sid, full_numbers=full)
    if detail is None:
        return errors(404, ("", f"company {company_id!r} has no call {call_sid!r}"))
    return jsonify(detail)


@bp.get("/companies/<company_id>/costs")
def costs(company_id: str) -> Response:
    """Spend by tier and per 1000 calls: ?since=&until=."""
    when = _range()
    if isinstance(when, Response):
        return when
    return jsonify(forensics.costs(current_app.extensions["docstore"], company_id, since=when[0], until=when[1]))


@bp.get("/alerts")
def list_alerts() -> Response:
    """Alert records (TIER3_SPIKE, ... and critical edge-case events), newest first: ?state=firing|resolved|event."""
    state = request.args.get("state") or None
    if state not in (None, "firing", "resolved", "event"):
        return errors(400, ("state", "must be firing, resolved or event"))
    return jsonify(alerts=current_app.extensions["alerts"].list(state))
