"""Seeded fuzzing: mangled cheat sheets are refused with field errors; odd turns never raise."""

from __future__ import annotations

import copy
import json
import random
from datetime import datetime, timedelta, timezone

import policy
from policy.harness import run_golden
from policy.source import load_file
from tests.conftest import ROOT

DEMO = load_file(ROOT / "examples" / "companies" / "demo-hvac.yaml")
JUNK = [None, 0, -1, 101, 1.5, True, "", "x", "(", "\\1", [], {}, ["a"], {"a": 1}, "a" * 600, "ロボ", "2026-99-99", "25:00"]


def _mutate(obj, rnd):
    if isinstance(obj, dict) and obj:
        key = rnd.choice(list(obj))
        r = rnd.random()
        if r < 0.3:
            obj[key] = rnd.choice(JUNK)
        elif r < 0.4:
            obj[rnd.choice(["zz", "keywordsAnny", f"{key}x"])] = rnd.choice(JUNK)
        elif r < 0.5:
            del obj[key]
        else:
            _mutate(obj[key], rnd)
    elif isinstance(obj, list) and obj:
        i = rnd.randrange(len(obj))
        if rnd.random() < 0.3:
            obj[i] = rnd.choice(JUNK)
        else:
            _mutate(obj[i], rnd)


def test_mangled_cheat_sheets_compile_or_are_refused_cleanly():
    rnd = random.Random(1)
    refused = 0
    for _ in range(400):
        sheet = copy.deepcopy(DEMO["cheatSheet"])
        for _ in range(rnd.randint(1, 4)):
            _mutate(sheet, rnd)
        try:
            run_golden(policy.compile_cheatsheet(sheet), {})
        except policy.PolicyError as exc:
            refused += 1
            assert exc.errors and all(e["message"] for e in exc.errors)
    assert refused > 100  # the fuzzer really produces bad input


def test_odd_turns_never_raise():
    rnd = random.Random(2)
    compiled = policy.compile_cheatsheet(DEMO["cheatSheet"])
    profile = policy.CompanyProfile.from_dict({k: v for k, v in DEMO.items() if k != "cheatSheet"})
    alphabet = "abc xyz $.,!?'\"<>&{}()[]\\/\n\t0123456789-+@:;é漢🤖\u200b\ud800\x00"
    words = ("gas smell bill robot lawyer sue $89 $4,500 512-555-0123 www.x.com {companyname} {nope} sorry "
             "ibuprofen compressor is failing no heat").split()
    for i in range(2000):
        if i % 2:
            utterance = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 80)))
        else:
            utterance = " ".join(rnd.choice(words) for _ in range(rnd.randint(0, 12)))
        base = " ".join(rnd.choice(words + ["."]) for _ in range(rnd.randint(0, 15))) + rnd.choice(["", ".", "{"])
        ctx = policy.TurnContext(
            company=profile, now=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=rnd.randint(0, 20000)),
            caller_type=rnd.choice(["new", "vendor", None, "x"]), spam_flags=rnd.choice([(), ("suspected_spam",)]),
            is_first_turn=rnd.random() < 0.2,
            collected_entities=rnd.choice([{}, {"name": "Al"}, {"phone": "+15125550199", "date": "2026-13-45"}]))
        action = rnd.choice([None, "BOOK_APPT", "TRANSFER_BILLING", "LAUNCH"])
        d = policy.apply(compiled, utterance, policy.BaseResponse(base, action=action), ctx)
        assert d.response.strip() and d.action in ("RESPOND", "TRANSFER", "HANGUP")
        assert "{nope}" not in d.response


def test_mangled_companies_and_sheets_through_the_admin_api_never_500(tmp_path):
    from tests.conftest import ADMIN, make_app

    app = make_app(tmp_path / "d")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {ADMIN}"}
    company = {k: v for k, v in DEMO.items() if k != "cheatSheet"}
    rnd = random.Random(7)
    statuses = set()
    for i in range(150):
        doc = copy.deepcopy(company)
        for _ in range(rnd.randint(1, 3)):
            _mutate(doc, rnd)
        r = client.put("/admin/companies/demo-hvac", json=doc, headers=auth)
        statuses.add(r.status_code)
        assert r.status_code in (200, 201, 400, 422), r.get_data(as_text=True)
        if r.status_code == 422:
            assert all(e["message"] for e in r.get_json()["errors"])
        sheet = copy.deepcopy(DEMO["cheatSheet"])
        _mutate(sheet, rnd)
        r = client.put("/admin/companies/demo-hvac/cheatsheet", json=sheet, headers=auth)
        assert r.status_code in (201, 404, 422), r.get_data(as_text=True)
    assert 422 in statuses
    # Whatever was accepted, the demo number still answers with valid TwiML.
    from tests.twilio_helpers import call

    result = call(app, "what are your hours")
    assert "http-error" not in result.kinds()


def test_odd_webhook_forms_never_500(tmp_path, caplog):
    from tests.conftest import make_app
    from tests.twilio_helpers import form, signed_post

    app = make_app(tmp_path / "d")
    client = app.test_client()
    rnd = random.Random(3)
    values = ["", " ", "x" * 5000, "+1", "anonymous", "<Say>", "&amp;", "\u202e", "0", "-5", "1e9", "NaN",
              "CA" + "f" * 32, "+15125550100"]
    for i in range(120):
        data = form(f"CA{i:032d}")
        for key in rnd.sample(["From", "To", "SpeechResult", "Confidence", "CallStatus", "CallDuration",
                               "DialCallStatus", "QueueResult", "StirVerstat", "Digits"], 4):
            data[key] = rnd.choice(values)
        path = rnd.choice(["/voice", "/voice/turn?seq=1", "/voice/turn?seq=7", "/voice/dial-result?seq=2",
                           "/voice/status", "/voice/fallback"])
        r = signed_post(client, path, data)
        assert r.status_code in (200, 400), (path, data, r.get_data(as_text=True)[:300])
    # Nothing reached the catch-all error path (which would hide a bug behind the fallback TwiML).
    assert not [rec for rec in caplog.records if "answering with the fallback" in rec.getMessage()]


def test_every_route_takes_nested_bodies_odd_digits_and_huge_collections_without_a_5xx(tmp_path, caplog):
    """Seeded: every route the app serves, with hostile JSON, query strings and forms (issue 11)."""
    from tests.conftest import ADMIN, TOKEN, make_app
    from tests.twilio_helpers import form, signed_post

    app = make_app(tmp_path / "d")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {ADMIN}"}
    rnd = random.Random(11)
    bodies = ['{"a":[' * 5000 + "]}" * 5000, '{"a":[' * 40 + "]}" * 40] + [json.dumps(b) for b in (
        {"edgeCases": [{"id": f"e{i}"} for i in range(5000)]}, {"version": 2 ** 70}, [], "text",
        {"numbers": ["+15125550100"] * 300}, {"version": "²"}, {"x": "\ud800"})]
    odd = ["²", "١٢", "1_0", " 1", "1e3", "-1", "0", "99999999999999999999", "NaN", "1.5", "%00", "\u202e"]
    ids = {"company_id": ["demo-hvac", "nope", "x" * 300, "..", "%2F"], "call_sid": ["CAnope", "CA" + "0" * 32]}
    served = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for _ in range(6):
                path = rule.rule
                for arg in rule.arguments:
                    path = path.replace(f"<{arg}>", rnd.choice(ids.get(arg, ["x"])))
                query = "&".join(f"{k}={rnd.choice(odd)}" for k in rnd.sample(
                    ["page", "per_page", "seq", "since", "until", "tier", "state", "version"], 3))
                url = f"{path}?{query}"
                if path.startswith("/voice"):
                    data = form("CA" + "9" * 32, CallDuration=rnd.choice(odd), Confidence=rnd.choice(odd))
                    resp = signed_post(client, url, data, token=TOKEN)
                else:
                    body = rnd.choice(bodies)
                    resp = client.open(url, method=method, headers=auth, data=body,
                                       content_type="application/json")
                served += 1
                assert resp.status_code < 500, (method, url, resp.get_data(as_text=True)[:300])
    assert served > 60
    assert not [r for r in caplog.records if "answering with the fallback" in r.getMessage()]
