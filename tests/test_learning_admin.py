"""Learning through the admin API and ``flask learning``: listings, filters, decisions, bad input."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, make_app
from tests.twilio_helpers import call

AUTH = {"Authorization": f"Bearer {ADMIN}"}
GARAGE = "do you fix garage door openers"


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path / "data", LEARNING_BATCH_S=0, LEARNING_RUN_S=0)
    for words in (GARAGE, GARAGE, GARAGE + " please"):
        call(app, words)
    return app


def _suggestion(app) -> dict:
    client = app.test_client()
    client.post("/admin/learning/companies/demo-hvac/run", headers=AUTH)
    return client.get("/admin/learning/companies/demo-hvac/suggestions", headers=AUTH).get_json()["suggestions"][0]


def test_queue_listing_with_filters(app):
    client = app.test_client()
    app.extensions["learning_feed"].drain()
    got = client.get("/admin/learning/companies/demo-hvac/queues/scenario?reason=REPEATED_TIER3", headers=AUTH)
    assert got.status_code == 200 and got.get_json()["total"] == 1
    assert client.get("/admin/learning/companies/demo-hvac/queues/scenario?status=pending",
                      headers=AUTH).get_json()["total"] == 3
    assert client.get("/admin/learning/companies/demo-hvac/queues/incident", headers=AUTH).get_json()["total"] == 0


@pytest.mark.parametrize("url,status,path", [
    ("/admin/learning/companies/demo-hvac/queues/bogus", 404, "queue"),
    ("/admin/learning/companies/demo-hvac/queues/scenario?reason=EDGE_CASE_DETECTED", 400, "reason"),
    ("/admin/learning/companies/demo-hvac/queues/scenario?page=0", 400, "page"),
    ("/admin/learning/companies/demo-hvac/queues/scenario?since=yesterday", 400, "since"),
    ("/admin/learning/companies/demo-hvac/suggestions?status=maybe", 400, "status"),
    ("/admin/learning/suggestions/nope:0", 404, ""),
    ("/admin/templates/hvac-basic/versions/99", 404, "version"),
])
def test_bad_reads_name_the_field(app, url, status, path):
    got = app.test_client().get(url, headers=AUTH)
    assert got.status_code == status and got.get_json()["errors"][0]["path"] == path


def test_bad_decisions_name_the_field(app):
    client = app.test_client()
    sid = _suggestion(app)["_id"]
    cases = [
        ("patch", f"/admin/learning/suggestions/{sid}", {"change": "more keywords"}, 422, "change"),
        ("patch", f"/admin/learning/suggestions/{sid}", {"change": {"scenario": {"id": "garage", "name": "Garage",
                                                                              "keywords": ["garage"]}}},
         422, "change.scenario.replies"),
        ("post", f"/admin/learning/suggestions/{sid}/reject", {"note": 5}, 422, "note"),
        ("post", "/admin/templates/hvac-basic/revert", {"version": "one"}, 422, "version"),
        ("post", "/admin/templates/hvac-basic/revert", {"version": 42}, 404, "version"),
        ("post", "/admin/learning/network/run", {"trade": ""}, 422, "trade"),
        ("post", "/admin/learning/suggestions/nope:0/approve", {}, 404, ""),
    ]
    for method, url, data, status, path in cases:
        got = getattr(client, method)(url, json=data, headers=AUTH)
        assert got.status_code == status, (url, got.get_json())
        assert got.get_json()["errors"][0]["path"] == path, (url, got.get_json())
    bad = client.post(f"/admin/learning/suggestions/{sid}/approve", data="{", headers={**AUTH,
                      "Content-Type": "application/json"})
    assert bad.status_code == 400
    assert client.get(f"/admin/learning/suggestions/{sid}", headers=AUTH).get_json()["status"] == "pending"


def test_edit_then_approve_and_template_versions(app):
    client = app.test_client()
    sug = _suggestion(app)
    change = {"scenario": {**sug["change"]["scenario"], "id": "garage-doors", "name": "Garage doors",
                           "replies": ["We don't work on garage doors, sorry."]}}
    edited = client.patch(f"/admin/learning/suggestions/{sug['_id']}", json={"change": change}, headers=AUTH)
    assert edited.status_code == 200 and edited.get_json()["edited"] is True
    done = client.post(f"/admin/learning/suggestions/{sug['_id']}/approve", headers=AUTH).get_json()
    assert done["status"] == "approved" and done["change"]["scenario"]["id"] == "garage-doors"
    versions = client.get("/admin/templates/hvac-basic/versions", headers=AUTH).get_json()["versions"]
    assert versions[0]["current"] and versions[0]["reason"] == f"suggestion {sug['_id']}"
    old = client.get(f"/admin/templates/hvac-basic/versions/{versions[1]['version']}", headers=AUTH).get_json()
    assert "garage-doors" not in {s["id"] for s in old["template"]["scenarios"]}


def test_reject_and_api_needs_a_token(app):
    client = app.test_client()
    sid = _suggestion(app)["_id"]
    assert client.post(f"/admin/learning/suggestions/{sid}/reject").status_code == 401
    done = client.post(f"/admin/learning/suggestions/{sid}/reject", json={"note": "not our trade"}, headers=AUTH)
    assert done.get_json()["status"] == "rejected"
    # "Not a new scenario": the turns wait in the queue for an existing scenario they read like (none here), and
    # are never proposed as a new scenario again; three refusals and they leave the queue.
    store = app.extensions["learning"].store
    def garage() -> list[dict]:
        return [i for i in store.items.find({"queue": "scenario"}) if "garage" in i["text"]]
    assert garage() and {i["status"] for i in garage()} == {"pending"} and all(i["refused"] == ["+new"] for i in garage())
    again = client.post("/admin/learning/companies/demo-hvac/run", headers=AUTH).get_json()
    assert again["suggestions"]["scenario"] == 0, again
    assert {i["status"] for i in garage()} == {"pending"}


def test_cli(app):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["learning", "queue", "demo-hvac", "scenario"])
    assert out.exit_code == 0 and "3 item(s)" in out.output
    out = runner.invoke(args=["learning", "run", "demo-hvac"])
    assert "1 scenario" in out.output
    sid = app.extensions["learning"].store.suggestions.find_one({})["_id"]
    out = runner.invoke(args=["learning", "show", sid])
    assert out.exit_code == 0 and "impact" in out.output
    out = runner.invoke(args=["learning", "approve", sid])
    assert out.exit_code == 1 and "change.scenario.replies" in out.output
    out = runner.invoke(args=["learning", "reject", sid, "--note", "no"])
    assert out.exit_code == 0
    out = runner.invoke(args=["learning", "reject", sid])
    assert out.exit_code == 1 and "REFUSED" in out.output
    out = runner.invoke(args=["learning", "revert", "hvac-basic", "7"])
    assert out.exit_code == 1 and "no version 7" in out.output
    out = runner.invoke(args=["learning", "network", "HVAC"])
    assert out.exit_code == 0 and "0 opt-in companies" in out.output
