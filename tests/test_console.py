"""The staff console through Flask's test client: sign-in, session cookie, CSRF, a company token's reach, escaping,
the pages' refusals, and a test call that leaves the company's records alone."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ADMIN, COMPANY, make_app
from tests.twilio_helpers import call, calls_coll

AUTH = {"Authorization": f"Bearer {ADMIN}"}
DEMO = "/console/companies/demo-hvac"


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path / "data", LEARNING_BATCH_S=0, LEARNING_RUN_S=0)
    call(app, "<script>alert(1)</script> what are your hours")
    return app


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def signed_in(app, token: str = ADMIN, **kw):
    """A test client with a console session (and the page's CSRF token as ``client.csrf``)."""
    client = app.test_client(**kw)
    form = client.get("/console/signin")
    got = client.post("/console/signin", data={"token": token, "csrf": csrf_of(form.text), "next": "/console/"})
    assert got.status_code == 302, got.text
    client.csrf = csrf_of(client.get(got.headers["Location"], follow_redirects=True).text)
    return client


def acme_token(app) -> str:
    client = app.test_client()
    other = {**COMPANY, "id": "acme-hvac", "numbers": ["+15125550177"]}
    assert client.put("/admin/companies/acme-hvac", json=other, headers=AUTH).status_code == 201
    return client.post("/admin/companies/acme-hvac/tokens", headers=AUTH).get_json()["token"]


@pytest.mark.parametrize("path", ["/console/", f"{DEMO}/", f"{DEMO}/calls", f"{DEMO}/cheatsheet", f"{DEMO}/test-call",
                                  f"{DEMO}/learning"])
def test_nothing_without_a_session(app, path):
    got = app.test_client().get(path)
    assert got.status_code == 302 and "/console/signin" in got.headers["Location"]


def test_posts_without_a_session_or_csrf_are_refused_and_change_nothing(app):
    versions = app.extensions["catalog"].policies.versions("demo-hvac")
    assert app.test_client().post(f"{DEMO}/cheatsheet/save", data={"text": "guardrails: []"}).status_code == 401
    client = signed_in(app)
    assert client.post(f"{DEMO}/cheatsheet/save", data={"text": "guardrails: []"}).status_code == 403
    assert client.post(f"{DEMO}/cheatsheet/save", data={"text": "guardrails: []", "csrf": "forged"}).status_code == 403
    other_site = client.post(f"{DEMO}/cheatsheet/save", data={"text": "guardrails: []", "csrf": client.csrf},
                             headers={"Origin": "https://evil.example"})
    assert other_site.status_code == 403
    assert app.extensions["catalog"].policies.versions("demo-hvac") == versions


def test_sign_in_refuses_bad_tokens_and_a_form_without_its_csrf(app):
    client = app.test_client()
    form = client.get("/console/signin")
    assert form.headers["Content-Security-Policy"].startswith("default-src 'none'")
    bad = client.post("/console/signin", data={"token": "nope", "csrf": csrf_of(form.text)})
    assert bad.status_code == 401 and "console=" not in bad.headers.get("Set-Cookie", "")
    assert client.post("/console/signin", data={"token": ADMIN, "csrf": "x"}).status_code == 403
    assert app.test_client().post("/console/signin", data={"token": ADMIN}).status_code == 403


def test_too_many_wrong_tokens_from_one_address_are_refused_for_a_while(tmp_path):
    app = make_app(tmp_path / "data", LEARNING_BATCH_S=0, LEARNING_RUN_S=0, SIGNIN_FAILURES=3, SIGNIN_WINDOW_S=60)
    client = app.test_client()
    csrf = csrf_of(client.get("/console/signin").text)
    for _ in range(3):
        bad = client.post("/console/signin", data={"token": "guess", "csrf": csrf})
        assert bad.status_code == 401
        csrf = csrf_of(bad.text)
    refused = client.post("/console/signin", data={"token": ADMIN, "csrf": csrf})  # even the right one, for now
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert "console=" not in refused.headers.get("Set-Cookie", "")
    other = app.test_client()  # another address is not held back
    other_csrf = csrf_of(other.get("/console/signin", environ_base={"REMOTE_ADDR": "10.0.0.9"}).text)
    got = other.post("/console/signin", data={"token": ADMIN, "csrf": other_csrf},
                     environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert got.status_code == 302


def test_the_failure_limit_forgets_failures_after_the_window():
    from infra.ratelimit import FailureLimit

    now = [0.0]
    limit = FailureLimit(2, 60, clock=lambda: now[0])
    limit.failed("a"), limit.failed("a")
    assert limit.retry_after("a") == 60 and limit.retry_after("b") == 0
    now[0] = 30.0
    assert limit.retry_after("a") == 30
    now[0] = 61.0
    assert limit.retry_after("a") == 0


def test_session_cookie_flags_and_next_stays_on_the_console(app):
    client = app.test_client()
    csrf = csrf_of(client.get("/console/signin").text)
    got = client.post("/console/signin", data={"token": ADMIN, "csrf": csrf, "next": "//evil.example/x"})
    assert got.headers["Location"] == "/console/"
    cookie = next(c for c in got.headers.getlist("Set-Cookie") if c.startswith("console="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    https = app.test_client()
    csrf = csrf_of(https.get("/console/signin", base_url="https://localhost").text)
    got = https.post("/console/signin", data={"token": ADMIN, "csrf": csrf}, base_url="https://localhost",
                     headers={"Origin": "https://localhost"})
    assert "Secure" in next(c for c in got.headers.getlist("Set-Cookie") if c.startswith("console="))


def test_forged_or_foreign_cookies_are_no_session(app, tmp_path):
    client = app.test_client()
    client.set_cookie("console", "eyJyIjoiYWRtaW4ifQ.forged.sig", path="/console")
    assert client.get("/console/").status_code == 302
    other = make_app(tmp_path / "other", ADMIN_TOKEN="another-admin-token")  # another key: its cookie is refused
    foreign = signed_in(other, "another-admin-token")
    value = foreign.get_cookie("console", path="/console").value
    client.set_cookie("console", value, path="/console")
    assert client.get("/console/").status_code == 302


def test_sign_out_ends_the_session(app):
    client = signed_in(app)
    got = client.post("/console/signout", data={"csrf": client.csrf})
    assert got.status_code == 302 and client.get_cookie("console", path="/console") is None
    assert client.get("/console/").status_code == 302


def test_a_company_token_reaches_only_its_company(app):
    token = acme_token(app)
    client = signed_in(app, token)
    assert client.get("/console/").headers["Location"].endswith("/console/companies/acme-hvac/")
    assert client.get("/console/companies/acme-hvac/").status_code == 200
    sid = calls_coll(app).find_one({"company_id": "demo-hvac"})["_id"]
    for path in ("/", "/calls", f"/calls/{sid}", "/cheatsheet", "/test-call", "/learning"):
        assert client.get(f"{DEMO}{path}").status_code == 403, path
    versions = app.extensions["catalog"].policies.versions("demo-hvac")
    for path in ("/cheatsheet/save", "/cheatsheet/deploy", "/rollout/rollback", "/test-call", "/learning/run"):
        assert client.post(f"{DEMO}{path}", data={"csrf": client.csrf, "text": "x: 1"}).status_code == 403, path
    assert app.extensions["catalog"].policies.versions("demo-hvac") == versions
    # A new token replaces nothing, but a company that no longer holds the token ends the session.
    app.extensions["catalog"].companies.coll.update_one({"_id": "acme-hvac"}, {"$set": {"tokens": []}})
    app.extensions["catalog"].companies.forget("acme-hvac")
    assert client.get("/console/companies/acme-hvac/").status_code == 302


def test_what_callers_said_is_escaped(app):
    client = signed_in(app)
    sid = calls_coll(app).find_one({"company_id": "demo-hvac"})["_id"]
    page = client.get(f"{DEMO}/calls/{sid}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    said = client.post(f"{DEMO}/test-call", data={"csrf": client.csrf, "policy": "active",
                                                  "say": '"><img src=x onerror=alert(1)>'}).text
    assert "<img src=x" not in said and "&lt;img src=x onerror=alert(1)&gt;" in said


def test_calls_filters_name_bad_fields(app):
    client = signed_in(app)
    assert client.get(f"{DEMO}/calls?tier=1").status_code == 200
    got = client.get(f"{DEMO}/calls?since=yesterday&tier=9&action=DANCE")
    assert got.status_code == 200
    for field in ("since", "tier", "action"):
        assert f"<code>{field}</code>" in got.text
    assert client.get("/console/companies/nope/calls").status_code == 404
    assert client.get(f"{DEMO}/calls/CAnope").status_code == 404


def test_editor_shows_errors_by_field_and_line_and_saves_nothing_bad(app):
    client = signed_in(app)
    before = app.extensions["catalog"].policies.versions("demo-hvac")
    text = "guardrails: [NO_PRICES]\nedgeCases:\n  - id: x\n    name: X\n    match: {regexPatterns: ['(abc']}\n" \
           "    action: {type: override_response, inlineResponse: hi}\n"
    got = client.post(f"{DEMO}/cheatsheet/save", data={"csrf": client.csrf, "text": text})
    assert got.status_code == 422 and "edgeCases[0].match.regexPatterns[0]" in got.text and "line 5" in got.text
    broken = client.post(f"{DEMO}/cheatsheet/try", data={"csrf": client.csrf, "text": "edgeCases: [\n"})
    assert broken.status_code == 422 and "not valid YAML or JSON" in broken.text
    assert app.extensions["catalog"].policies.versions("demo-hvac") == before
    assert client.post(f"{DEMO}/cheatsheet/deploy", data={"csrf": client.csrf, "version": "v"}).status_code == 422
    assert client.post(f"{DEMO}/cheatsheet/deploy", data={"csrf": client.csrf, "version": "1"}).status_code == 409
    assert client.post(f"{DEMO}/rollout/dance", data={"csrf": client.csrf}).status_code == 404


def test_a_test_call_against_a_draft_leaves_the_company_alone(app):
    client = signed_in(app)
    calls_before = calls_coll(app).count_documents({})
    sheet = app.extensions["catalog"].policies.sheet("demo-hvac", 1)["source"]
    sheet = {**sheet, "edgeCases": [{"id": "ec-robot", "name": "Robot", "priority": 1,
                                     "match": {"keywordsAny": ["robot"]},
                                     "action": {"type": "override_response", "inlineResponse": "I'm the draft."}}]}
    version = app.extensions["catalog"].policies.save_draft("demo-hvac", sheet)  # a draft, never compiled
    form = {"csrf": client.csrf, "policy": str(version)}
    first = client.post(f"{DEMO}/test-call", data=form).text
    sid, started = re.search(r'name="sid" value="(PR\w+)"', first).group(1), re.search(
        r'name="started" value="([\d.]+)"', first).group(1)
    got = client.post(f"{DEMO}/test-call", data={**form, "sid": sid, "started": started, "say": "are you a robot"})
    assert "the draft" in got.text and f"v{version}" in got.text
    abuse = client.post(f"{DEMO}/test-call", data={"csrf": client.csrf, "policy": "active",
                                                   "say": "shut up you idiot"})
    assert "end this call" in abuse.text and "blacklisted" in abuse.text  # what it would do, on the page
    record = app.extensions["catalog"].companies.get("demo-hvac", fresh=True)
    assert record["doc"].get("blacklist") == [] and calls_coll(app).count_documents({}) == calls_before
    assert client.post(f"{DEMO}/test-call", data={"csrf": client.csrf, "policy": "99"}).status_code == 422


def test_learning_decisions_stay_within_the_company(app):
    for words in ("do you fix garage door openers",) * 3:
        call(app, words)
    admin = signed_in(app)
    assert "new suggestion" in admin.post(f"{DEMO}/learning/run", data={"csrf": admin.csrf}).text
    sid = app.extensions["learning"].store.list_suggestions({"company_id": "demo-hvac", "kind": "new_scenario"},
                                                            skip=0, limit=1)[0][0]["_id"]
    token = acme_token(app)
    acme = signed_in(app, token)
    assert acme.post(f"/console/companies/acme-hvac/learning/{sid}/reject",
                     data={"csrf": acme.csrf}).status_code == 404  # another company's suggestion
    bad = admin.post(f"{DEMO}/learning/{sid}/edit", data={"csrf": admin.csrf, "change": "scenario: {id: 5}"})
    assert bad.status_code == 422 and "change.scenario" in bad.text
    assert admin.post(f"{DEMO}/learning/{sid}/reject", data={"csrf": admin.csrf, "note": "not ours"}).status_code == 200
    assert app.extensions["learning"].store.suggestion(sid)["status"] == "rejected"
