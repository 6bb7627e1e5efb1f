"""Seeded fuzzing: mangled cheat sheets are refused with field errors; odd turns never raise."""

from __future__ import annotations

import copy
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
