"""The admin API: bearer auth, companies, cheat-sheet drafts, compile (with its lock), activation."""

from __future__ import annotations

import copy

import pytest

from tests.conftest import ADMIN, COMPANY, Clock, make_app

AUTH = {"Authorization": f"Bearer {ADMIN}"}
SHEET = {"behaviorRules": ["ACK_OK"], "guardrails": ["NO_PRICES"], "allowedActions": ["TAKE_MESSAGE"],
         "edgeCases": [{"id": "ec-robot", "name": "Robot", "match": {"keywordsAny": ["robot"]},
                        "action": {"type": "override_response", "inlineResponse": "I'm a helper."}}]}


@pytest.fixture
def client(app):
    return app.test_client()


def acme(**kw):
    """The test company on a number of its own."""
    return {**copy.deepcopy(COMPANY), "numbers": ["+15125550177"], **kw}


def put_company(client, doc=None, cid="acme-hvac"):
    return client.put(f"/admin/companies/{cid}", json=doc or acme(), headers=AUTH)


def test_no_token_is_401_and_wrong_token_is_401(client):
    assert client.get("/admin/companies/demo-hvac").status_code == 401
    r = client.get("/admin/companies/demo-hvac", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.get_json()["errors"][0]["path"] == "Authorization"
    r = client.put("/admin/companies/acme-hvac", json=COMPANY, headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    assert client.application.extensions["catalog"].companies.get("acme-hvac") is None


def test_admin_api_refuses_to_run_without_a_configured_token(tmp_path):
    app = make_app(tmp_path / "d", ADMIN_TOKEN="")
    r = app.test_client().get("/admin/companies/demo-hvac", headers={"Authorization": "Bearer "})
    assert r.status_code == 503 and "ADMIN_TOKEN" in r.get_json()["errors"][0]["message"]


def test_create_replace_and_get_a_company(client):
    r = put_company(client)
    assert r.status_code == 201 and r.get_json()["id"] == "acme-hvac"
    doc = acme(name="Acme Heating & Air")
    assert put_company(client, doc).status_code == 200
    got = client.get("/admin/companies/acme-hvac", headers=AUTH).get_json()
    assert got["name"] == "Acme Heating & Air" and got["activePolicy"] is None
    assert client.get("/admin/companies/nope", headers=AUTH).status_code == 404


def test_bad_company_gets_field_errors_and_writes_nothing(client):
    doc = acme()
    doc["numbers"] = ["555-0100"]
    doc["timezone"] = "Mars/Olympus"
    doc["contacts"] = {"x": {"phone": "+15125550101", "queue": "q"}}
    r = put_company(client, doc)
    assert r.status_code == 422
    paths = {e["path"] for e in r.get_json()["errors"]}
    assert {"numbers[0]", "timezone", "contacts.x"} <= paths
    assert client.get("/admin/companies/acme-hvac", headers=AUTH).status_code == 404


def test_a_number_cannot_belong_to_two_companies(client):
    r = put_company(client, copy.deepcopy(COMPANY))  # acme-hvac also claims +15125550100, owned by demo-hvac
    assert r.status_code == 422 and r.get_json()["errors"][0]["path"] == "numbers[0]"


def test_non_json_body_and_mismatched_id(client):
    r = client.put("/admin/companies/acme-hvac", data="not json", headers=AUTH)
    assert r.status_code == 400
    doc = dict(COMPANY, id="other", numbers=["+15125550177"])
    assert put_company(client, doc).status_code == 422


def test_draft_compile_activate_and_versions(client):
    doc = dict(copy.deepcopy(COMPANY), numbers=["+15125550177"])
    assert put_company(client, doc).status_code == 201
    r = client.put("/admin/companies/acme-hvac/cheatsheet", json=SHEET, headers=AUTH)
    assert r.status_code == 201 and r.get_json()["version"] == 1
    r = client.post("/admin/companies/acme-hvac/cheatsheet/activate", json={"version": 1}, headers=AUTH)
    assert r.status_code == 409  # a draft cannot be activated
    r = client.post("/admin/companies/acme-hvac/cheatsheet/compile", headers=AUTH)
    body = r.get_json()
    assert r.status_code == 200 and body["version"] == 1 and len(body["checksum"]) == 64
    assert body["conflicts"] == []
    r = client.put("/admin/companies/acme-hvac/cheatsheet", json=SHEET, headers=AUTH)
    assert r.get_json()["version"] == 2
    r = client.post("/admin/companies/acme-hvac/cheatsheet/activate", json={"version": 1}, headers=AUTH)
    assert r.status_code == 200 and r.get_json()["active"]["version"] == 1
    versions = client.get("/admin/companies/acme-hvac/cheatsheet/versions", headers=AUTH).get_json()["versions"]
    assert [(v["version"], v["status"]) for v in versions] == [(2, "draft"), (1, "active")]
    assert client.post("/admin/companies/acme-hvac/cheatsheet/activate", json={"version": 9},
                       headers=AUTH).status_code == 404
    assert client.post("/admin/companies/acme-hvac/cheatsheet/activate", json={"version": "1"},
                       headers=AUTH).status_code == 422


def test_bad_cheat_sheet_gets_field_errors_and_no_version(client):
    bad = copy.deepcopy(SHEET)
    bad["edgeCases"][0]["match"] = {"regexPatterns": ["(abc"]}
    bad["edgeCases"][0]["priority"] = 500
    r = client.put("/admin/companies/demo-hvac/cheatsheet", json=bad, headers=AUTH)
    assert r.status_code == 422
    paths = [e["path"] for e in r.get_json()["errors"]]
    assert "edgeCases[0].match.regexPatterns[0]" in paths and "edgeCases[0].priority" in paths
    versions = client.get("/admin/companies/demo-hvac/cheatsheet/versions", headers=AUTH).get_json()["versions"]
    assert [v["version"] for v in versions] == [1]
    assert client.put("/admin/companies/nope/cheatsheet", json=SHEET, headers=AUTH).status_code == 404


def test_compile_while_another_runs_is_409_and_a_dead_lock_expires(tmp_path):
    clock = Clock()
    app = make_app(tmp_path / "d", CLOCK=clock)
    client = app.test_client()
    catalog = app.extensions["catalog"]
    client.put("/admin/companies/demo-hvac/cheatsheet", json=SHEET, headers=AUTH)
    assert catalog.locks.acquire("compile:demo-hvac", "crashed-worker")
    r = client.post("/admin/companies/demo-hvac/cheatsheet/compile", headers=AUTH)
    assert r.status_code == 409 and r.get_json()["errors"][0]["message"] == "compilation already in progress"
    versions = catalog.policies.versions("demo-hvac")
    assert versions[0]["status"] == "draft"
    clock.t += 61  # the crashed worker's lock expires
    assert client.post("/admin/companies/demo-hvac/cheatsheet/compile", headers=AUTH).status_code == 200


def test_concurrent_compiles_only_one_proceeds(app):
    import threading

    catalog = app.extensions["catalog"]
    catalog.policies.save_draft("demo-hvac", SHEET)
    results = []
    barrier = threading.Barrier(4)

    def go(i):
        barrier.wait()
        took = catalog.locks.acquire("compile:demo-hvac", f"w{i}")
        results.append(took)
    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]


def test_activation_of_an_artifact_that_does_not_verify_is_refused(app):
    catalog = app.extensions["catalog"]
    v = catalog.policies.save_draft("demo-hvac", SHEET)
    catalog.policies.compile_latest("demo-hvac", owner="t")
    sheets = app.extensions["docstore"]["cheatsheets"]
    sheets.update_one({"_id": f"demo-hvac:{v:06d}"}, {"$set": {"artifact.content.guardrails": []}})
    r = app.test_client().post("/admin/companies/demo-hvac/cheatsheet/activate", json={"version": v}, headers=AUTH)
    assert r.status_code == 409 and "does not verify" in r.get_json()["errors"][0]["message"]
    assert catalog.companies.get("demo-hvac", fresh=True)["active"]["version"] == 1


def test_company_with_a_first_draft(client):
    doc = dict(copy.deepcopy(COMPANY), numbers=["+15125550177"], cheatSheet=SHEET)
    assert put_company(client, doc).status_code == 201
    versions = client.get("/admin/companies/acme-hvac/cheatsheet/versions", headers=AUTH).get_json()["versions"]
    assert [v["version"] for v in versions] == [1]
    bad = dict(doc, cheatSheet={"edgeCases": [{"id": "x"}]})
    r = put_company(client, bad)
    assert r.status_code == 422 and r.get_json()["errors"][0]["path"].startswith("cheatSheet.edgeCases[0]")


def test_an_oversized_body_is_413_json(client):
    r = client.put("/admin/companies/demo-hvac/cheatsheet", data="x" * (5 * 1024 * 1024),
                   content_type="application/json", headers=AUTH)
    assert r.status_code == 413 and r.get_json()["errors"][0]["message"]
