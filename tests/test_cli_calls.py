"""CLI: importing companies and templates, and the call simulator."""

from __future__ import annotations

import json

from tests.conftest import ROOT, make_app

DEMO = str(ROOT / "examples" / "companies" / "demo-hvac.yaml")


def test_import_company_compiles_and_activates(tmp_path):
    app = make_app(tmp_path / "d", SEED_DEMO=False)
    result = app.test_cli_runner().invoke(args=["company", "import", DEMO])
    assert result.exit_code == 0, result.output
    assert "company demo-hvac: created" in result.output
    assert "scenario template hvac-basic: stored" in result.output
    assert "active policy: version 1" in result.output
    record = app.extensions["catalog"].companies.get("demo-hvac", fresh=True)
    assert record["active"]["version"] == 1
    again = app.test_cli_runner().invoke(args=["company", "import", DEMO, "--no-activate"])
    assert "replaced" in again.output and "version 2: compiled" in again.output
    assert app.extensions["catalog"].companies.get("demo-hvac", fresh=True)["active"]["version"] == 1


def test_import_refuses_a_bad_file_and_stores_nothing(tmp_path):
    app = make_app(tmp_path / "d", SEED_DEMO=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nname: X\nnumbers: ['12']\ntimezone: Nowhere/City\n")
    result = app.test_cli_runner().invoke(args=["company", "import", str(bad)])
    assert result.exit_code == 1
    assert "numbers[0]" in result.output and "timezone" in result.output
    assert app.extensions["catalog"].companies.get("x") is None


def test_simulate_prints_what_the_caller_hears(tmp_path):
    app = make_app(tmp_path / "d")
    result = app.test_cli_runner().invoke(args=["simulate", "what are your hours", "water everywhere",
                                                "--dial-status", "busy"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].startswith("AGENT  Thank you for calling Demo Heating & Air")
    assert any(ln.startswith("CALLER what are your hours") for ln in lines)
    assert any(ln.startswith("DIAL   +15125550199") for ln in lines)
    assert any("no one was able to take your call" in ln for ln in lines)


def test_simulate_from_a_file_as_json(tmp_path):
    app = make_app(tmp_path / "d")
    script = tmp_path / "call.txt"
    script.write_text("hello\n\nare you a robot\n")
    result = app.test_cli_runner().invoke(args=["simulate", "--file", str(script), "--json"])
    events = json.loads(result.output)["events"]
    callers = [e["text"] for e in events if e["kind"] == "caller"]
    assert callers == ["hello", "(silence)", "are you a robot"]


def test_simulate_with_the_wrong_token_shows_the_refusal(tmp_path):
    app = make_app(tmp_path / "d")
    result = app.test_cli_runner().invoke(args=["simulate", "hello", "--token", "wrong"])
    assert result.exit_code == 1 and "HTTP 403" in result.output


def test_simulate_in_process_without_an_account_token_still_signs(tmp_path):
    app = make_app(tmp_path / "d", TWILIO_AUTH_TOKEN="")
    result = app.test_cli_runner().invoke(args=["simulate", "what are your hours"])
    assert result.exit_code == 0, result.output
    assert "8 a.m. to 5 p.m." in result.output
