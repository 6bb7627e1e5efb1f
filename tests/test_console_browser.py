"""The staff console in a real browser: headless Chromium (Debian's package) driven by Playwright, against the app
served by a real HTTP server in a thread. One browser for the module; a fresh browser context (cookies) per test.

Each test writes screenshots of the pages it visits to the test run's tmp directory; with
``UPDATE_SCREENSHOTS=1`` it also copies them to ``docs/screenshots/`` (the README shows one), so a
plain test run leaves the checkout as it was.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
import yaml

from tests.conftest import ADMIN, COMPANY, ROOT, make_app
from tests.twilio_helpers import call

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
AUTH = {"Authorization": f"Bearer {ADMIN}"}
SCRIPT = "<script>alert('owned')</script> my furnace is making a noise"
DOCS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def console_app(tmp_path_factory):
    """An app with calls (one with a caller saying <script>), a learning suggestion, and a second company
    whose own token the tests use."""
    app = make_app(tmp_path_factory.mktemp("console") / "data", LEARNING_BATCH_S=0, LEARNING_RUN_S=0)
    call(app, "what are your hours", "there's water everywhere")
    call(app, SCRIPT, "can I book an appointment for tomorrow")
    for words in ("do you fix garage door openers",) * 3:
        call(app, words)
    client = app.test_client()
    client.post("/admin/learning/companies/demo-hvac/run", headers=AUTH)
    other = {**COMPANY, "id": "acme-hvac", "numbers": ["+15125550177"]}
    assert client.put("/admin/companies/acme-hvac", json=other, headers=AUTH).status_code == 201
    app.config["ACME_TOKEN"] = client.post("/admin/companies/acme-hvac/tokens", headers=AUTH).get_json()["token"]
    return app


@pytest.fixture(scope="module")
def base_url(console_app):
    """The app served over HTTP on a free loopback port, in a thread, for the module."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, console_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (Debian's; never a downloaded one)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - requirements-dev.txt pins it
        pytest.fail(f"playwright is not installed: {exc}")
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    except Exception as exc:  # noqa: BLE001 - any launch failure means no browser here
        pw.stop()
        if os.environ.get("CI"):
            pytest.fail(f"Chromium cannot start in CI (.ci/run installs it): {exc}")
        pytest.skip(f"Chromium cannot start on this machine ({CHROMIUM}): {str(exc).splitlines()[0]}")
    yield chromium
    chromium.close()
    pw.stop()


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    yield pg
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Where screenshots go (and a copy for the README)."""
    out = tmp_path_factory.mktemp("screenshots")
    keep = os.environ.get("UPDATE_SCREENSHOTS") == "1"

    def shot(page, name: str) -> Path:
        path = out / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if keep:
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS / path.name)
        return path
    return shot


def sign_in(page, token: str) -> None:
    page.goto("/console/")
    page.fill("#token", token)
    page.click("button[type=submit]")


def test_sign_in_and_read_the_overview(page, console_app, shots):
    page.goto("/console/companies/demo-hvac/calls")
    assert "/console/signin" in page.url  # nothing without a token
    page.fill("#token", "not-a-token")
    page.click("button[type=submit]")
    assert "not the admin token" in page.inner_text("#signin-error")
    shots(page, "01-signin-refused")
    page.fill("#token", ADMIN)
    page.click("button[type=submit]")
    assert page.url.endswith("/console/companies/demo-hvac/calls")  # back where the visit began
    cookie = next(c for c in page.context.cookies() if c["name"] == "console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.goto("/console/")
    shots(page, "02-companies")
    page.click("text=Demo Heating & Air")
    active = console_app.extensions["catalog"].companies.get("demo-hvac", fresh=True)["active"]
    assert page.inner_text("#checksum") == active["checksum"]
    assert page.inner_text("#calls-today").startswith("5 calls")
    assert page.locator("#chart-tiers rect").count() > 0 and page.locator("#chart-latency circle").count() > 0
    assert "tier 1" in page.inner_text("#tiers")
    shots(page, "03-overview")


def test_open_a_call_escapes_what_the_caller_said(page, shots):
    sign_in(page, ADMIN)
    page.goto("/console/companies/demo-hvac/calls?tier=1")
    shots(page, "04-calls")
    rows = page.locator("#calls tbody tr")
    assert rows.count() >= 2
    page.goto("/console/companies/demo-hvac/calls")
    page.locator("#calls tbody tr").filter(has_text="TRANSFER").first.locator("a").click()
    assert page.locator(".turn").count() >= 3
    assert "Tier" in page.inner_text(".turn >> nth=1") and "Latency" in page.inner_text(".turn >> nth=1")
    shots(page, "05-call")
    for i in range(page.locator("#calls tbody tr a").count()):
        page.goto("/console/companies/demo-hvac/calls")
        page.locator("#calls tbody tr a").nth(i).click()
        if "furnace" in page.inner_text("main"):
            break
    assert SCRIPT.split(" my")[0] in page.inner_text(".caller >> nth=0")  # shown as words
    assert page.locator("main script").count() == 0 and page.dialogs == []  # never run


def test_edit_a_sheet_see_the_field_error_fix_and_deploy(page, console_app, shots):
    sign_in(page, ADMIN)
    page.goto("/console/companies/demo-hvac/cheatsheet")
    sheet = yaml.safe_load(page.input_value("#text"))
    garage = {"id": "ec-garage-doors", "name": "Garage doors", "priority": 9,
              "match": {"regexPatterns": ["(garage doors?"]},
              "action": {"type": "override_response",
                         "inlineResponse": "We don't work on garage doors, sorry. Can I help with heating or cooling?"}}
    sheet["edgeCases"].append(garage)
    page.fill("#text", yaml.safe_dump(sheet, sort_keys=False))
    page.click("#save")
    errors = page.inner_text("#field-errors")
    assert f"edgeCases[{len(sheet['edgeCases']) - 1}].match.regexPatterns[0]" in errors and "line" in errors
    shots(page, "06-editor-field-error")
    garage["match"]["regexPatterns"] = [r"\bgarage doors?\b"]
    page.fill("#text", yaml.safe_dump(sheet, sort_keys=False))
    page.click("#try")
    assert "deployable" in page.inner_text("#gate-report h2")
    assert "EDGE_CASE:ec-garage-doors" in page.inner_text("#differences")  # the garage calls would change
    shots(page, "07-editor-gate")
    page.click("#save")
    saved = page.inner_text("#saved")
    version = int(saved.split("version ")[1].split(" ")[0])
    page.click(f"#deploy-{version}")
    assert "passed the gate" in page.inner_text("#done")
    assert f"v{version} in shadow" in page.inner_text("#rollout-stage")
    shots(page, "08-editor-deployed")
    assert console_app.extensions["catalog"].companies.get("demo-hvac", fresh=True)["rollout"]["version"] == version


def test_place_a_test_call(page, shots):
    sign_in(page, ADMIN)
    page.goto("/console/companies/demo-hvac/test-call")
    page.click("#call-button")
    assert "Thank you for calling Demo Heating & Air" in page.inner_text("#turn-0")
    page.fill("#say", "what are your hours")
    page.click("#say-button")
    assert "8 a.m. to 5 p.m." in page.inner_text("#turn-1") and "Tier" in page.inner_text("#turn-1")
    page.fill("#say", "<b>there's water everywhere</b>")
    page.click("#say-button")
    assert "TRANSFER" in page.inner_text("#turn-2")
    assert "<b>there's water everywhere</b>" in page.inner_text("#turn-2")
    assert page.is_visible("#call-over")
    shots(page, "09-test-call")


def test_approve_a_suggestion(page, console_app, shots):
    sign_in(page, ADMIN)
    page.goto("/console/companies/demo-hvac/learning")
    card = page.locator(".suggestion").filter(has_text="garage door openers").first
    change = yaml.safe_load(card.locator("textarea").input_value())
    change["scenario"]["replies"] = ["We don't service garage doors, sorry. Can I help with heating or cooling?"]
    card.locator("textarea").fill(yaml.safe_dump(change, sort_keys=False))
    card.locator("button.edit").click()
    assert "Saved the edited change" in page.inner_text("#done")
    shots(page, "10-learning")
    page.locator(".suggestion").filter(has_text="garage door openers").first.locator("button.approve").click()
    assert "Approved and applied" in page.inner_text("#done")
    assert "approved" in page.inner_text("#decided")
    shots(page, "11-learning-approved")
    template = console_app.extensions["catalog"].templates.current("hvac-basic")[0]
    assert any(s["id"] == change["scenario"]["id"] for s in template["scenarios"])


def test_a_company_token_reaches_only_its_company(page, console_app, shots):
    sign_in(page, console_app.config["ACME_TOKEN"])
    assert page.url.endswith("/console/companies/acme-hvac/")  # straight to its own overview
    page.goto("/console/companies/demo-hvac/")
    assert "Not your company" in page.inner_text("h1")
    shots(page, "12-other-company-refused")
    for path in ("calls", "cheatsheet", "test-call", "learning"):
        page.goto(f"/console/companies/demo-hvac/{path}")
        assert "Not your company" in page.inner_text("h1"), path
    page.goto("/console/")
    assert page.url.endswith("/console/companies/acme-hvac/")
