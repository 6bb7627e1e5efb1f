"""Staff tools of issue 12: the three trade templates and example companies, the enterprise edge-case
pack (API and CLI), and the migration of legacy-shape edge cases (API and CLI)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import policy
from policy.migrate import migrate_sheet
from policy.packs import add_pack
from tests.conftest import ADMIN, ROOT
from tests.twilio_helpers import call

AUTH = {"Authorization": f"Bearer {ADMIN}"}
EXAMPLES = ["demo-hvac", "demo-plumbing", "demo-electric"]
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_company_passes_its_golden_tests(runner, name):
    result = runner.invoke(args=["policy", "check", str(ROOT / "examples" / "companies" / f"{name}.yaml")])
    assert result.exit_code == 0, result.output
    assert "warnings: 0" in result.output and "golden tests:" in result.output


@pytest.mark.parametrize("name, number, words, dialed", [
    ("demo-plumbing", "+17205550200", "a pipe just burst and water is everywhere", "+17205550299"),
    ("demo-electric", "+16025550300", "there are sparks coming out of the outlet", "+16025550399"),
])
def test_example_companies_import_with_their_templates_and_answer_calls(app, runner, name, number, words, dialed):
    result = runner.invoke(args=["company", "import", str(ROOT / "examples" / "companies" / f"{name}.yaml")])
    assert result.exit_code == 0, result.output
    assert "scenario template" in result.output and "active policy: version 1" in result.output
    played = call(app, words, to=number)
    assert [e.text for e in played.events if e.kind == "dial"] == [dialed]


def test_an_electrician_offers_a_message_when_asked_for_a_person(app, runner):
    runner.invoke(args=["company", "import", str(ROOT / "examples" / "companies" / "demo-electric.yaml")])
    played = call(app, "I need to speak to a live person", to="+16025550300")
    assert not [e for e in played.events if e.kind == "dial"]
    assert "message" in played.heard()[1] and "busy" not in played.heard()[1]


# --- the enterprise pack -----------------------------------------------------------------------------

def test_the_pack_is_adapted_to_the_company():
    company = {"trade": "Plumbing", "contacts": {"office": {"phone": "+17205550201"}, "owner": {"phone": "+1720555"}},
               "variables": {"serviceCallFee": "$79"}}
    sheet, added, skipped = add_pack({"edgeCases": []}, company, by="t", now=NOW)
    by_id = {e["id"]: e for e in sheet["edgeCases"]}
    assert set(added) == set(by_id) and skipped == []
    assert by_id["ec-pack-legal"]["action"]["transferTarget"] == "owner"
    assert by_id["ec-pack-abuse"]["sideEffects"]["notifyContacts"] == ["owner"]
    assert "{serviceCallFee}" in by_id["ec-pack-pricing-negotiation"]["action"]["inlineResponse"]
    assert "outlet" in by_id["ec-pack-out-of-scope"]["match"]["keywordsAny"]
    assert by_id["ec-pack-out-of-scope"]["match"]["tradeRequired"] == ["Plumbing"]
    assert by_id["ec-pack-abuse"]["auditMeta"]["createdBy"] == "t"
    policy.compile_cheatsheet(sheet)


def test_the_pack_keeps_edge_cases_the_sheet_already_has():
    own = {"id": "ec-pack-legal", "name": "Ours", "match": {"keywordsAny": ["lawyer"]},
           "action": {"type": "flag_only"}}
    sheet, added, skipped = add_pack({"edgeCases": [own]}, {"contacts": {}}, by="t", now=NOW)
    assert skipped == ["ec-pack-legal"] and "ec-pack-legal" not in added
    assert [e for e in sheet["edgeCases"] if e["id"] == "ec-pack-legal"] == [own]
    assert not any(e["id"] == "ec-pack-out-of-scope" for e in sheet["edgeCases"])  # no trade: no trade words


def test_pack_api_adds_a_new_draft_that_compiles_and_answers(app):
    client = app.test_client()
    r = client.post("/admin/companies/demo-hvac/cheatsheet/packs/enterprise", headers=AUTH, json={"by": "ops@x"})
    assert r.status_code == 201
    body = r.get_json()
    assert body["version"] == 2 and "ec-pack-legal" in body["added"]
    again = client.post("/admin/companies/demo-hvac/cheatsheet/packs/enterprise", headers=AUTH)
    assert again.status_code == 200 and again.get_json()["version"] is None
    assert client.post("/admin/companies/demo-hvac/cheatsheet/compile", headers=AUTH).status_code == 200
    assert client.post("/admin/companies/demo-hvac/cheatsheet/activate", headers=AUTH,
                       json={"version": 2}).status_code == 200
    played = call(app, "here's my card, 4111 1111 1111 1111")
    assert "don't share" in played.heard()[1]


def test_pack_api_errors(app):
    client = app.test_client()
    r = client.post("/admin/companies/demo-hvac/cheatsheet/packs/nope", headers=AUTH)
    assert r.status_code == 404 and r.get_json()["errors"][0]["path"] == "pack"
    assert client.post("/admin/companies/nobody/cheatsheet/packs/enterprise", headers=AUTH).status_code == 404
    assert client.post("/admin/companies/demo-hvac/cheatsheet/packs/enterprise").status_code == 401


def test_pack_cli(runner):
    result = runner.invoke(args=["company", "add-pack", "demo-hvac"])
    assert result.exit_code == 0, result.output
    assert "version 2 (draft): added" in result.output and "ec-pack-abuse" in result.output
    missing = runner.invoke(args=["company", "add-pack", "nobody"])
    assert missing.exit_code == 1


# --- the migration -------------------------------------------------------------------------------

LEGACY = {"behaviorRules": ["ACK_OK"], "allowedActions": ["TAKE_MESSAGE"], "guardrails": [], "edgeCases": [
    {"name": "Machine Detection", "priority": 10, "triggerPatterns": ["machine", "robot"],
     "responseText": "I'm here to help!"},
    {"name": "Hold music", "priority": 20, "triggerPatterns": ["hold music|on hold forever"],
     "responseText": "Sorry about the wait."},
    {"id": "ec-new", "name": "New", "match": {"keywordsAny": ["new thing"]}, "action": {"type": "flag_only"}}]}


def test_migration_keeps_ids_and_meaning_and_adds_audit_data():
    migrated, changes = migrate_sheet(LEGACY, by="migration", now=NOW)
    assert [c["id"] for c in changes] == ["ec-machine-detection", "ec-hold-music"]
    first = migrated["edgeCases"][0]
    assert first["match"] == {"keywordsAny": ["machine", "robot"]}
    assert first["action"] == {"type": "override_response", "inlineResponse": "I'm here to help!"}
    assert first["auditMeta"]["createdBy"] == "migration" and first["auditMeta"]["updatedAt"] == NOW.isoformat()
    assert "triggerPatterns" not in first and migrated["edgeCases"][2] == LEGACY["edgeCases"][2]
    assert policy.compile_cheatsheet(migrated).checksum == policy.compile_cheatsheet(LEGACY).checksum


def test_migration_api_saves_a_new_draft_once(app):
    client = app.test_client()
    assert client.put("/admin/companies/demo-hvac/cheatsheet", headers=AUTH, json=LEGACY).status_code == 201
    r = client.post("/admin/companies/demo-hvac/cheatsheet/migrate", headers=AUTH)
    assert r.status_code == 201 and r.get_json()["version"] == 3
    assert [m["id"] for m in r.get_json()["migrated"]] == ["ec-machine-detection", "ec-hold-music"]
    stored = app.extensions["catalog"].policies.latest("demo-hvac")["source"]
    assert all("triggerPatterns" not in e for e in stored["edgeCases"])
    nothing = client.post("/admin/companies/demo-hvac/cheatsheet/migrate", headers=AUTH)
    assert nothing.status_code == 200 and nothing.get_json() == {"version": None, "migrated": []}


def test_migration_cli(app, runner):
    app.extensions["catalog"].policies.save_draft("demo-hvac", LEGACY)
    dry = runner.invoke(args=["policy", "migrate", "demo-hvac", "--dry-run"])
    assert dry.exit_code == 0 and "would migrate ec-machine-detection" in dry.output
    done = runner.invoke(args=["policy", "migrate", "--all"])
    assert done.exit_code == 0 and "version 3 (draft) migrates" in done.output
    assert runner.invoke(args=["policy", "migrate"]).exit_code != 0
