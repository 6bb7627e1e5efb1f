"""The admin API's OpenAPI document: every /admin route documented, every documented route real, methods matching;
request and response schemas present; served only with a token."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ADMIN

AUTH = {"Authorization": f"Bearer {ADMIN}"}
IGNORED = {"HEAD", "OPTIONS"}


def real_routes(app) -> set[tuple[str, str]]:
    """(METHOD, /admin/path/{param}) for every rule the app serves under /admin."""
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin/") or rule.rule == "/admin":
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            out |= {(m, path) for m in rule.methods - IGNORED}
    return out


@pytest.fixture
def document(app):
    got = app.test_client().get("/admin/openapi.json", headers=AUTH)
    assert got.status_code == 200
    return got.get_json()


def test_every_route_documented_and_every_documented_route_real(app, document):
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert real_routes(app) - documented == set(), "routes missing from the OpenAPI document"
    assert documented - real_routes(app) == set(), "documented routes the app does not serve"


def test_operations_have_schemas_parameters_and_auth(app, document):
    schemas = document["components"]["schemas"]
    assert document["openapi"].startswith("3.") and document["security"] == [{"bearer": []}]
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            names = set(re.findall(r"{(\w+)}", path))
            assert names == {p["name"] for p in op["parameters"] if p["in"] == "path"}, (method, path)
            assert "401" in op["responses"] and op["summary"], (method, path)
            for response in op["responses"].values():
                target = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                assert target in schemas, (method, path, target)
            if method in ("put", "patch"):
                assert op["requestBody"]["required"] is True
    assert schemas["CheatSheet"]["properties"]["edgeCases"]  # from the pydantic model
    assert "id" in schemas["Company"]["required"]
    calls = document["paths"]["/admin/companies/{company_id}/calls"]["get"]
    assert "company's own token" in calls["description"]


def test_the_document_needs_a_token(app):
    client = app.test_client()
    assert client.get("/admin/openapi.json").status_code == 401
    assert client.get("/admin/openapi.json", headers={"Authorization": "Bearer nope"}).status_code == 401
