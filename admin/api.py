"""The admin API's blueprint: bearer-token auth, JSON errors and request helpers (routes live beside it:
``companies.py``, ``calls.py``)."""

from __future__ import annotations

import hmac
import logging
import os
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from policy.errors import PolicyError
from infra.inputs import BadJSON, parse_json, whole_number
from records.catalog import Catalog

from .forensics import parse_time


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
COMPANY_ENDPOINTS: set[str] = set()


def company_route(view: Any) -> Any:
    """Mark a view as reachable with the company's own token (for that company only)."""
    COMPANY_ENDPOINTS.add(f"{bp.name}.{view.__name__}")
    return view


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


def body() -> dict[str, Any] | Response:
    """The request's JSON object (nesting bounded), or a 400 response saying why not."""
    if not request.is_json:
        return errors(400, ("", "the body must be a JSON object (Content-Type: application/json)"))
    try:
        data = parse_json(request.get_data(cache=True))
    except BadJSON as exc:
        return errors(400, ("", str(exc)))
    if not isinstance(data, dict):
        return errors(400, ("", "the body must be a JSON object (Content-Type: application/json)"))
    return data


def owner() -> str:
    """A unique owner name for locks taken by this request."""
    return f"{os.getpid()}:{uuid.uuid4().hex[:8]}"


def int_arg(name: str, default: int, low: int, high: int) -> int | Response:
    """A whole-number query argument within bounds, or a 400 naming it."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    value = whole_number(raw)
    if value is None or not low <= value <= high:
        return errors(400, (name, f"must be a whole number from {low} to {high}"))
    return value


def time_range() -> tuple[float | None, float | None] | Response:
    """``?since=&until=`` as epoch seconds, or a 400 naming the field."""
    try:
        return (parse_time(request.args.get("since"), "since"),
                parse_time(request.args.get("until"), "until"))
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        return errors(400, (field, message))
