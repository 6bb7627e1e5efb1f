"""The admin API's request and response schemas for its OpenAPI document (JSON Schema 2020-12, OpenAPI 3.1).

Request documents come from the pydantic models that validate them (a company, a cheat sheet);
the rest are written here, each naming the fields a client can rely on (more may be present).
"""

from __future__ import annotations

from typing import Any

from policy.company import Company
from policy.schema import CheatSheet

REF = "#/components/schemas/{model}"


def ref(name: str) -> dict[str, str]:
    """A reference to a named schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    """An object schema with some named properties (others allowed)."""
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    return out


def array(items: dict[str, Any]) -> dict[str, Any]:
    """An array of ``items``."""
    return {"type": "array", "items": items}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


STR, INT, NUM, BOOL, ANY_OBJ = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}, \
    {"type": "object"}
VERSION = {"type": "integer", "minimum": 1}
PAGE = {"page": INT, "per_page": INT, "total": INT}


def _pydantic() -> dict[str, Any]:
    """Company and CheatSheet from their pydantic models, with their nested models as named schemas."""
    out: dict[str, Any] = {}
    for model in (CheatSheet, Company):
        schema = model.model_json_schema(ref_template=REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


def _written() -> dict[str, Any]:
    pointer = obj(("version", "checksum"), version=INT, checksum=STR, at=NUM, by=STR)
    call = obj(("call_sid", "turns", "actions", "tiers", "tags", "cost"), call_sid=STR, started_at=nullable(STR),
               ended_at=nullable(STR), status=nullable(STR), outcome=nullable(STR), **{"from": nullable(STR)},
               to=nullable(STR), turns=INT, actions=array(STR), tiers=array(STR), tags=array(STR),
               policy=nullable(ANY_OBJ), cost=NUM)
    page_of = {"items": array(ANY_OBJ), "suggestions": array(ref("Suggestion"))}
    return {
        "Error": obj(("errors",), errors=array(obj(("path", "message"), path=STR, message=STR))),
        "ActivePolicy": pointer,
        "CompanyOut": {"allOf": [ref("CompanyDocument"), obj(("activePolicy", "latestCheatSheetVersion"),
                                                              activePolicy=nullable(pointer),
                                                              latestCheatSheetVersion=INT)]},
        "CompanyDocument": obj(("id", "name"), id=STR, name=STR, numbers=array(STR), timezone=STR),
        "DraftSaved": obj(("version", "status"), version=VERSION, status={"const": "draft"}),
        "Compiled": obj(("version", "checksum", "conflicts", "warnings"), version=VERSION, checksum=STR,
                        conflicts=array(ANY_OBJ), warnings=array({})),
        "Activated": obj(("active",), active=pointer),
        "VersionRef": {"type": "object", "required": ["version"], "additionalProperties": False,
                       "properties": {"version": VERSION}},
        "Versions": obj(("versions",), versions=array(obj(("version", "status"), version=INT, status=STR,
                                                          checksum=nullable(STR)))),
        "Token": obj(("token", "company_id"), token=STR, company_id=STR),
        "CallList": obj(("calls", "page", "per_page", "total"), calls=array(call), **PAGE),
        "CallDetail": {"allOf": [call, obj(("turn_details",), collected=ANY_OBJ, turn_details=array(
            obj(("seq",), seq=INT, kind=STR, tier=nullable(STR), final=nullable(STR), action=nullable(STR),
                latency_ms=nullable(ANY_OBJ), cost=nullable(NUM))))]},
        "Costs": obj(("company_id", "calls", "cost_total", "cost_per_1000_calls", "by_tier"), company_id=STR,
                     calls=INT, cost_total=NUM, cost_per_1000_calls=NUM,
                     by_tier={"type": "object", "additionalProperties": obj(("turns", "cost"), turns=INT, cost=NUM)}),
        "Alerts": obj(("alerts",), alerts=array(ANY_OBJ)),
        "Deploy": {"type": "object", "required": ["version"], "additionalProperties": False, "properties": {
            "version": VERSION, "plan": ANY_OBJ, "retry": BOOL, "by": {"type": "string", "minLength": 1,
                                                                      "maxLength": 80}}},
        "StaffAction": {"type": "object", "additionalProperties": False, "properties": {
            "by": {"type": "string", "minLength": 1, "maxLength": 80},
            "share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "why": {"type": "string", "minLength": 1, "maxLength": 500}}},
        "RolloutStatus": obj(("company", "revision", "active", "rollout"), company=STR, revision=INT,
                             active=nullable(pointer), previous=nullable(ANY_OBJ), rollout=nullable(ANY_OBJ),
                             latest=nullable(ANY_OBJ)),
        "RolloutHistory": obj(("rollouts",), rollouts=array(ANY_OBJ)),
        "TryDraft": {"oneOf": [
            {"type": "object", "required": ["cheatSheet"], "additionalProperties": False,
             "properties": {"cheatSheet": ref("CheatSheet")}},
            ref("VersionRef")]},
        "GateReport": obj(("deployable", "verdict", "passed", "failed", "differences", "cases"), deployable=BOOL,
                          verdict=STR, passed=INT, failed=INT, pass_rate=nullable(NUM), differences=array(ANY_OBJ),
                          coverage=ANY_OBJ, cases=array(ANY_OBJ)),
        "GateRefused": {"allOf": [ref("Error"), obj(gate=ref("GateReport"))]},
        "Suggestion": obj(("_id", "company_id", "queue", "status"), _id=STR, company_id=STR, queue=STR, status=STR,
                          kind=STR, examples=array(STR), count=INT, change=ANY_OBJ, impact=ANY_OBJ),
        "QueuePage": obj(("items", "total", "page", "per_page"), items=page_of["items"], **PAGE),
        "SuggestionPage": obj(("suggestions", "total", "page", "per_page"), suggestions=page_of["suggestions"],
                              **PAGE),
        "LearningRun": obj(("company_id", "suggestions"), company_id=STR, suggestions=ANY_OBJ),
        "Change": {"type": "object", "required": ["change"], "properties": {"change": ANY_OBJ}},
        "Decision": {"type": "object", "properties": {"change": ANY_OBJ,
                                                      "note": {"type": "string", "maxLength": 500}}},
        "TemplateVersions": obj(("versions",), versions=array(ANY_OBJ)),
        "TemplateVersion": obj(("version", "template"), version=INT, template=ANY_OBJ),
        "Trade": {"type": "object", "required": ["trade"],
                  "properties": {"trade": {"type": "string", "minLength": 1, "maxLength": 60}}},
        "NetworkSuggestions": obj(("suggestions",), suggestions=array(ANY_OBJ)),
        "Decided": ANY_OBJ,
        "By": {"type": "object", "properties": {"by": {"type": "string", "maxLength": 120}}},
        "PackAdded": obj(("version", "added", "skipped"), version=nullable(INT), added=array({}), skipped=array({})),
        "Migrated": obj(("version", "migrated"), version=nullable(INT), migrated=array({})),
        "OpenAPI": obj(("openapi", "paths"), openapi=STR, paths=ANY_OBJ),
    }


def schemas() -> dict[str, Any]:
    """Every named schema of the document."""
    return {**_pydantic(), **_written()}


__all__ = ["schemas", "ref", "obj", "array", "nullable"]
