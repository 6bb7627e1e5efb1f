"""The admin API fuzzed from its own OpenAPI document (schemathesis, in-process through the WSGI app): on every
route, no 5xx, answers that match the documented statuses and schemas, and no access without a token."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from werkzeug.exceptions import MethodNotAllowed, NotFound

from admin.openapi import OPERATIONS
from tests.conftest import ADMIN, make_app
from tests.twilio_helpers import call

AUTH = {"Authorization": f"Bearer {ADMIN}"}
#: Examples per operation: enough to reach each route's checks, few enough to keep the suite fast.
EXAMPLES = 12


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory):
    """One app for the module, with a call in its log and a suggestion to decide."""
    app = make_app(tmp_path_factory.mktemp("fuzz") / "data", LEARNING_BATCH_S=0, LEARNING_RUN_S=0)
    for words in ("do you fix garage door openers",) * 3:
        call(app, words)
    app.test_client().post("/admin/learning/companies/demo-hvac/run", headers=AUTH)
    return app


@pytest.fixture(scope="module")
def api_schema(fuzzed_app):
    return schemathesis.openapi.from_wsgi("/admin/openapi.json", fuzzed_app, headers=AUTH)


def routed(app, case) -> bool:
    """Whether the request reaches one of the app's routes (a path parameter with a slash may not)."""
    try:
        app.url_map.bind("localhost").match(case.formatted_path, case.method.upper())
    except (NotFound, MethodNotAllowed):
        return False
    return True


def strategy(api_schema, method: str, path: str):
    """Cases for one operation: its documented examples, valid input, and input the schema forbids."""
    op = api_schema[path][method]
    return st.one_of(*api_schema.get_strategies_from_examples(op), op.as_strategy(GenerationMode.POSITIVE),
                     op.as_strategy(GenerationMode.NEGATIVE))


@pytest.mark.parametrize("method,path", [(m.upper(), f"/admin/{p}") for m, p, *_ in OPERATIONS])
def test_admin_api_fuzzed(method, path, api_schema, fuzzed_app):
    if path not in api_schema.raw_schema["paths"]:
        pytest.skip(f"{method} {path} is declared for a route this app does not serve yet")
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy(api_schema, method, path))
    def check(case):
        response = case.call(headers=AUTH)
        case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                 response_schema_conformance], headers=AUTH)
        expected = {401} if routed(fuzzed_app, case) else {401, 404, 405}
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer not-the-token"}):
            refused = case.call(headers=headers)
            assert refused.status_code in expected, (case.method, case.formatted_path, refused.status_code)
    check()
