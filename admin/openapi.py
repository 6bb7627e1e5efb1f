"""The admin API's OpenAPI 3.1 document, served at ``GET /admin/openapi.json`` (with the bearer token, like every
admin route). Each operation is declared here once: path, parameters, request and response schemas; its
summary is the view's own docstring. A test holds the document and the app's routes to each other."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Response, current_app, jsonify

from .api import COMPANY_ENDPOINTS, bp
from .openapi_schemas import ref, schemas

C = "companies/{company_id}"
#: (method, path under /admin, endpoint, request body schema or None (``?`` first: optional), success status and
#: schema, the other statuses it answers, query parameters)
OPERATIONS: list[tuple[str, str, str, str | None, tuple[int, str], tuple[int, ...], tuple[str, ...]]] = [
    ("put", C, "put_company", "Company", (200, "CompanyOut"), (201, 400, 422), ()),
    ("get", C, "get_company", None, (200, "CompanyOut"), (404,), ()),
    ("put", f"{C}/cheatsheet", "put_cheatsheet", "CheatSheet", (201, "DraftSaved"), (400, 404, 422), ()),
    ("post", f"{C}/cheatsheet/compile", "compile_cheatsheet", None, (200, "Compiled"), (404, 409, 422), ()),
    ("post", f"{C}/cheatsheet/activate", "activate", "VersionRef", (200, "Activated"), (400, 404, 409, 422), ()),
    ("get", f"{C}/cheatsheet/versions", "versions", None, (200, "Versions"), (404,), ()),
    ("post", f"{C}/tokens", "new_token", None, (201, "Token"), (404,), ()),
    ("get", f"{C}/calls", "list_calls", None, (200, "CallList"), (400, 404),
     ("since", "until", "action", "tag", "tier", "page", "per_page")),
    ("get", f"{C}/calls/{{call_sid}}", "get_call", None, (200, "CallDetail"), (404,), ()),
    ("get", f"{C}/costs", "costs", None, (200, "Costs"), (400, 404), ("since", "until")),
    ("get", "alerts", "list_alerts", None, (200, "Alerts"), (400,), ("state",)),
    ("post", f"{C}/rollout", "deploy", "Deploy", (201, "RolloutStatus"), (400, 404, 409, 422, 503), ()),
    ("get", f"{C}/rollout", "status", None, (200, "RolloutStatus"), (404, 503), ()),
    ("post", f"{C}/rollout/promote", "promote", "?StaffAction", (200, "RolloutStatus"), (400, 404, 409, 422, 503),
     ()),
    ("post", f"{C}/rollout/pause", "pause", "?StaffAction", (200, "RolloutStatus"), (400, 404, 409, 422, 503), ()),
    ("post", f"{C}/rollout/resume", "resume", "?StaffAction", (200, "RolloutStatus"), (400, 404, 409, 422, 503), ()),
    ("post", f"{C}/rollout/rollback", "rollback", "?StaffAction", (200, "RolloutStatus"), (400, 404, 409, 422, 503),
     ()),
    ("get", f"{C}/rollout/history", "history", None, (200, "RolloutHistory"), (400, 404, 503), ("limit",)),
    ("post", f"{C}/rollout/try", "try_", "TryDraft", (200, "GateReport"), (400, 404, 409, 422, 503), ()),
    ("get", "learning/companies/{company_id}/queues/{queue}", "learning_queue", None, (200, "QueuePage"),
     (400, 404, 503), ("reason", "status", "since", "until", "page", "per_page")),
    ("post", "learning/companies/{company_id}/run", "learning_run", None, (200, "LearningRun"), (404, 503), ()),
    ("get", "learning/companies/{company_id}/suggestions", "learning_suggestions", None, (200, "SuggestionPage"),
     (400, 503), ("queue", "status", "page", "per_page")),
    ("get", "learning/suggestions/{sid}", "learning_suggestion", None, (200, "Suggestion"), (404, 503), ()),
    ("patch", "learning/suggestions/{sid}", "learning_edit", "Change", (200, "Suggestion"), (400, 404, 409, 422, 503),
     ()),
    ("post", "learning/suggestions/{sid}/approve", "learning_approve", "?Decision", (200, "Suggestion"),
     (400, 404, 409, 422, 503), ()),
    ("post", "learning/suggestions/{sid}/reject", "learning_reject", "?Decision", (200, "Suggestion"),
     (400, 404, 409, 422, 503), ()),
    ("get", "templates/{template_id}/versions", "template_versions", None, (200, "TemplateVersions"), (404,), ()),
    ("get", "templates/{template_id}/versions/{version}", "template_version", None, (200, "TemplateVersion"), (404,),
     ()),
    ("post", "templates/{template_id}/revert", "template_revert", "VersionRef", (200, "Decided"),
     (400, 404, 409, 422), ()),
    ("get", "learning/network", "network_suggestions", None, (200, "NetworkSuggestions"), (400, 503),
     ("trade", "status")),
    ("post", "learning/network/run", "network_run", "Trade", (200, "Decided"), (400, 422, 503), ()),
    ("post", "learning/network/{nid}/{verdict}", "network_decide", "?Decision", (200, "Decided"),
     (400, 404, 409, 422, 503), ()),
    ("get", "openapi.json", "openapi_document", None, (200, "OpenAPI"), (), ()),
    ("post", f"{C}/cheatsheet/packs/{{pack}}", "post_pack", "?By", (201, "PackAdded"), (200, 400, 404, 422), ()),
    ("post", f"{C}/cheatsheet/migrate", "post_migrate", "?By", (201, "Migrated"), (200, 400, 404, 422), ()),
]

_STR = {"type": "string", "minLength": 1, "maxLength": 200}
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "company_id": {"schema": _STR, "example": "demo-hvac"},
    "call_sid": {"schema": _STR, "example": "CA00000000000000000000000000000000"},
    "queue": {"schema": {"type": "string", "enum": ["scenario", "cheatsheet", "incident"]}},
    "sid": {"schema": _STR, "example": "demo-hvac:0000000000000000"},
    "template_id": {"schema": _STR, "example": "hvac-basic"},
    "version": {"schema": {"type": "integer", "minimum": 0}, "example": 1},
    "nid": {"schema": _STR, "example": "HVAC:0000000000000000"},
    "verdict": {"schema": {"type": "string", "enum": ["approve", "reject"]}},
    "pack": {"schema": _STR, "example": "enterprise"},
}
_TIME = {"type": "string", "description": "epoch seconds or ISO 8601 (a time without a zone is UTC)"}
_STATUS = {"type": "string", "enum": ["pending", "suggested", "approved", "rejected"]}
QUERY: dict[str, dict[str, Any]] = {
    "since": _TIME, "until": _TIME, "action": {"type": "string", "enum": ["RESPOND", "TRANSFER", "HANGUP"]},
    "tag": {"type": "string"}, "tier": {"type": "string", "enum": ["1", "2", "3", "fallback"]},
    "page": {"type": "integer", "minimum": 1, "maximum": 100000}, "per_page": {"type": "integer", "minimum": 1},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200},
    "state": {"type": "string", "enum": ["firing", "resolved", "event"]},
    "reason": {"type": "string"}, "status": _STATUS, "queue": {"type": "string", "enum": ["scenario", "cheatsheet"]},
    "trade": {"type": "string"},
}
REASONS = {400: "bad input (a field named)", 401: "no valid bearer token", 404: "not found", 409: "conflict",
           422: "refused: every field error", 503: "disabled, or the store is unavailable"}


def _operation(method: str, path: str, endpoint: str, body: str | None, ok: tuple[int, str],
               others: tuple[int, ...], query: tuple[str, ...], doc: str) -> dict[str, Any]:
    names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    params = [{"name": n, "in": "path", "required": True, **PATH_PARAMS[n]} for n in names]
    params += [{"name": q, "in": "query", "required": False, "schema": QUERY[q]} for q in query]
    responses: dict[str, Any] = {str(ok[0]): {"description": "done",
                                              "content": {"application/json": {"schema": ref(ok[1])}}}}
    for status in sorted({*others, 401} - {ok[0]}):
        schema = ref("GateRefused") if (endpoint, status) == ("deploy", 422) else ref("Error")
        if status in (200, 201):
            schema = ref(ok[1])
        responses[str(status)] = {"description": REASONS.get(status, "done"),
                                  "content": {"application/json": {"schema": schema}}}
    op: dict[str, Any] = {"operationId": endpoint, "summary": doc.split(". ")[0][:120], "description": doc,
                          "tags": [path.split("/")[0]], "parameters": params, "responses": responses}
    if f"{bp.name}.{endpoint}" in COMPANY_ENDPOINTS:
        op["description"] += "\n\nReachable with the company's own token too (for that company only)."
    if body is not None:
        op["requestBody"] = {"required": not body.startswith("?"),
                             "content": {"application/json": {"schema": ref(body.lstrip("?"))}}}
    return op


@lru_cache(maxsize=1)
def _document(docs: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    summaries = dict(docs)
    paths: dict[str, dict[str, Any]] = {}
    for method, path, endpoint, body, ok, others, query in OPERATIONS:
        if endpoint not in summaries:  # declared, but not served by this app (a route still to land)
            continue
        paths.setdefault(f"/admin/{path}", {})[method] = _operation(method, path, endpoint, body, ok, others, query,
                                                                     summaries.get(endpoint, endpoint))
    return {"openapi": "3.1.0",
            "info": {"title": "Cheat-sheet voice agent: admin API", "version": "1",
                     "description": "Staff HTTP API. Bearer token: ADMIN_TOKEN, or a company's own token for the "
                                    "routes that say so. Errors are {\"errors\": [{\"path\", \"message\"}]}."},
            "servers": [{"url": "/"}], "security": [{"bearer": []}], "paths": paths,
            "components": {"schemas": schemas(),
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}


def document() -> dict[str, Any]:
    """The OpenAPI document of this app's admin API (summaries from the views' docstrings)."""
    views = current_app.view_functions
    docs = tuple((e, " ".join((views[f"{bp.name}.{e}"].__doc__ or e).split()))
                 for _, _, e, *_ in OPERATIONS if f"{bp.name}.{e}" in views)
    return _document(docs)


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """This API's OpenAPI 3.1 document: every route, its parameters, request and response schemas."""
    return jsonify(document())
