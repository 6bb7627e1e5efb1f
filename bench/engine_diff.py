"""Differential check of the engine: this tree's decisions against another tree's, turn by turn.

Run:  .venv/bin/python bench/engine_diff.py --against /tmp/eng-base [--turns 40000]
      (make the other tree with ``git archive COMMIT | tar -x -C /tmp/eng-base``)

Both trees decide the same seeded turns (caller words from the templates, the conversation corpus,
the rules' own phrases and random recombinations with numbers, spelled letters, punctuation and
non-ASCII; replies with prices, phone numbers, web addresses, apologies, guardrail terms, casual words
and variables; every caller type, time of the week, first turns, collected details) over four
policies (the 1,000-rule bench sheet and the three example companies). Each turn's decision (but its
time), ``speak``, ``leaks``, ``canon`` and ``normalize`` must be identical; so must the text helpers'
results on as many random strings (odd spacing, case and characters). Exit status 1 on any
difference, printing the first ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

FRAGMENTS = (
    "Our diagnostic visit is {diagnosticFee}.", "It costs $4,500 installed.", "That's about ninety nine dollars.",
    "We charge 20 bucks for that.", "Call us at 512-555-0123.", "Reach us at {phone}.", "Our number is +1 512 555 0100.",
    "Dial 555-0199.", "Try (512) 555 0188 anytime.", "+44 20 7946 0958 is the office.", "Visit www.example.com for more.",
    "See demo-hvac.example/pricing for details.", "Go to http://foo.io/x now.", "Email us at a@b.com.",
    "I'm sorry about that.", "Sorry, we apologize for the wait.", "My apologies, but sorry again.",
    "Sounds like your compressor is failing.", "You should take ibuprofen.", "You could sue them in court.",
    "The heat exchanger is cracked, I think.", "Yeah, no problem, you guys are awesome.", "Hey folks, sure thing!",
    "We're gonna send someone.", "Thanks for calling {companyname}.", "The {nope} team will call.", "Ok, got it.",
    "What's the address?", "A technician can take a look and give you options.", "We have openings this week.",
    "Your reference is 17.", "Café hours are 8 to 5 — naïve résumé.", "Is anyone in the home vulnerable to the cold?",
    "AC units need care.", "I'll have someone call you back.", "This sounds urgent, please leave the house.",
    "It's short cycling because of the filter.", "Kinda cool, yep.", "We're open {hours}.", "{maintenancePlan} covers it.",
)
EXTRA_WORDS = ("twenty", "a hundred and five", "ninety", "40 degrees in here", "it's 102 degrees inside", "a c",
               "c o alarm", "isn't", "can't", "don't", "won't", "um", "uh", "like", "the", "gas", "smell", "leak",
               "leaking", "no heat", "not working", "lawyer", "robot", "human", "bill", "invoice", "manager",
               "emergency", "fire", "flooding", "$89", "512 555 0199", "five one two", "!", "?", ",", ".", "...",
               "ロボ", "é", "—", "how much", "unless", "frozen", "broke", "burnt", "hello?", "yes", "no",
               "can you hear me", "A/C", "e-mail", "it's", "there's", "y'all", "0", "7", "1st", "x2", "_", "#cold")
CALLER_TYPES = ("new", "existing", "vendor", "unknown", None, "VENDOR")
ACTIONS = (None, None, None, "BOOK_APPT", "TAKE_MESSAGE", "TRANSFER_BILLING", "TRANSFER_EMERGENCY",
           "TRANSFER_SALES", "PROVIDE_PRICING", "REFUND")


def _load(path: Path) -> dict:
    import yaml
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _policies() -> list[tuple[str, dict, dict]]:
    """(name, cheat sheet, company) for each policy the turns run on."""
    sys.path.insert(0, str(HERE / "bench"))
    import engine as bench_engine  # this tree's bench sheet, the same for both sides
    out = [("bench-1000", bench_engine.make_sheet(1000), dict(bench_engine.COMPANY))]
    for name in ("demo-hvac", "demo-plumbing", "demo-electric"):
        doc = _load(HERE / "examples" / "companies" / f"{name}.yaml")
        out.append((name, doc["cheatSheet"], {k: v for k, v in doc.items() if k != "cheatSheet"}))
    return out


def _corpus() -> tuple[list[str], list[str]]:
    """Caller words and replies gathered from the templates, the conversation corpus and the bench."""
    sys.path.insert(0, str(HERE / "bench"))
    import engine as bench_engine
    said: list[str] = list(bench_engine.UTTERANCES)
    replies: list[str] = [bench_engine.BASE]
    for path in sorted((HERE / "examples" / "scenarios").glob("*.yaml")):
        doc = _load(path)
        replies.append(doc.get("greeting") or "")
        for sc in doc.get("scenarios", ()):
            said += list(sc.get("keywords") or ()) + list(sc.get("examples") or ())
            replies += list(sc.get("replies") or ())
            for qa in sc.get("qna") or ():
                said.append(qa["q"])
                replies.append(qa["a"])
    for path in sorted((HERE / "bench" / "conversations").glob("*.yaml")):
        for call in _load(path).get("calls", ()):
            said += [s for s in call.get("say", ()) if isinstance(s, str)]
    for _, sheet, _ in _policies()[1:]:
        for ec in sheet.get("edgeCases", ()):
            said += list(ec.get("match", {}).get("keywordsAny", ())) + list(ec.get("match", {}).get("keywordsAll", ()))
            act = ec.get("action", {})
            replies += [act[k] for k in ("inlineResponse", "transferMessage", "hangupMessage") if act.get(k)]
        for tr in sheet.get("transferRules", ()):
            said += list(tr.get("keywords", ()))
            replies.append(tr.get("script") or "")
    return [s for s in said if s], [r for r in replies if r]


def _utterance(rnd: random.Random, said: list[str]) -> str:
    r = rnd.random()
    if r < 0.02:
        return rnd.choice(("", "   ", "\x00odd\ud800", "a" * 1200, "?!", "..."))
    text = rnd.choice(said)
    if r < 0.35:
        return text
    words = text.split()
    for _ in range(rnd.randint(1, 4)):
        words.insert(rnd.randint(0, len(words)), rnd.choice(EXTRA_WORDS + tuple(rnd.choice(said).split()[:2])))
    text = " ".join(words)
    if rnd.random() < 0.3:
        text = text.upper() if rnd.random() < 0.3 else text.capitalize()
    if rnd.random() < 0.3:
        text += rnd.choice((".", "?", "!", ",", " ..."))
    return text


def _reply(rnd: random.Random, replies: list[str]) -> str:
    r = rnd.random()
    if r < 0.02:
        return rnd.choice(("", " ", "{nope}", "Sorry. Sorry. Sorry.", "ok"))
    if r < 0.4:
        return rnd.choice(replies)
    parts = [rnd.choice(FRAGMENTS + tuple(replies)) for _ in range(rnd.randint(1, 5))]
    text = " ".join(parts)
    if rnd.random() < 0.1:
        text = "  " + text.replace(". ", ".  ", 1) + " "
    return text


PIECES = ("you guys", "no problem", "cool", "cooling", "yeah's", "Guys", "sure thing", "$", "$89", "89 dollars",
          "bucks", "usd", "www.", "http://", ".com", "a.b", "sorry", "apologize", "my apologies", "sue", "issue",
          "capacitor is", "heat exchanger is cracked", "short cycling because", "lawyer", "512", "555", "0199",
          "+1", "(512)", "{phone}", "{diagnosticFee}", "{nope}", "{companyname}", "{Phone}", "it's", "there's",
          "twenty", "a c", "i a", "5", "#cold", "degrees", "in here", "ok", "Ok,", "no", "not", "8 a.m.", "p.m.",
          "x.\u0131o", "y.u\u017f", "HTTP://", "WWW.", "e.g.", "fifty bucks", "twenty-five dollars", "10 USD",
          "are you", "Is it", "can y'all", "what", "When's", "um,", "quick question", "I need", "i'd like", "book",
          "set up", "send2", "urgent", "leave the house", "911", "Danger!", "get out", "Thanks", "no",
          "_cool", "cool2", "Yeah-yeah", "no  problem", "NO PROBLEM", "awesome folks", "hey", "kinda", "Nope.")
ALPHABET = "ab xyzK $.,!?'`\"-/:;_{}()0123456789\t\n\x0b\x1c\xa0\u2003\u212a\u017fé漢"


def _unit_text(rnd: random.Random) -> str:
    """A random string made to reach the corners of the text helpers (spacing, case, non-ASCII, marks)."""
    out = []
    for _ in range(rnd.randint(0, 12)):
        r = rnd.random()
        out.append(rnd.choice(PIECES) if r < 0.5 else "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(1, 4))))
        out.append(rnd.choice((" ", " ", " ", "", "  ", ". ", "? ", ".\t", "!  ", ".\xa0", ", ")))
    text = "".join(out)
    return text.upper() if rnd.random() < 0.1 else text


def emit_units(count: int, seed: int) -> None:
    """The text helpers on random strings: one JSON line each."""
    import policy
    from policy.canon import canon
    from policy.behavior import acknowledgement
    from policy.text import normalize, substitute
    _, sheet, company = _policies()[1]
    compiled = policy.compile_cheatsheet(sheet)
    profile = policy.CompanyProfile.from_dict(company)
    rt = compiled.runtime
    rnd = random.Random(f"{seed}-units")
    for i in range(count):
        text = _unit_text(rnd)
        c = canon(text)
        asked = _unit_text(rnd)
        out = [acknowledgement(text, asked, i % 5), acknowledgement(rnd.choice(PIECES), asked, i % 3), substitute(text, profile.variables), rt.guardrails.enforce(text, profile),
               rt.guardrails.leaks(text, profile), rt.behavior.formal(text), normalize(text),
               [c.stems, c.clauses, sorted(c.markers), c.joined], sorted(rt.phrases.scored(text).items())]
        print(json.dumps([i, text, out], default=str))


def emit(turns: int, seed: int) -> None:
    """Decide the seeded turns with the ``policy`` package on sys.path; print one JSON line each."""
    import policy
    from policy.canon import canon
    from policy.text import normalize
    said, replies = _corpus()
    start = datetime(2026, 1, 4, 0, 0, tzinfo=timezone.utc)
    for name, sheet, company in _policies():
        compiled = policy.compile_cheatsheet(sheet)
        profile = policy.CompanyProfile.from_dict(company)
        rnd = random.Random(f"{seed}-{name}")
        entities = ({}, {}, {}, {"name": "Ann Lee"}, {"callbackPhone": "+15125550101", "name": "Bo"})
        for i in range(turns // 4):
            utterance = _utterance(rnd, said)
            reply = _reply(rnd, replies)
            ctx = policy.TurnContext(
                company=profile, now=start + timedelta(minutes=rnd.randrange(7 * 24 * 60)),
                caller_type=rnd.choice(CALLER_TYPES), spam_flags=rnd.choice(((), (), ("robocall",), ("spoofed",))),
                is_first_turn=rnd.random() < 0.15, collected_entities=rnd.choice(entities),
                variation=rnd.randrange(6))
            base = policy.BaseResponse(reply, rnd.choice(ACTIONS), rnd.choice(("scenario", "tier3")))
            try:
                d = policy.apply(compiled, utterance, base, ctx).to_dict()
                d.pop("elapsed_ms"), d.pop("perf_fault")
            except Exception as exc:  # noqa: BLE001 - a raise is an outcome to compare too
                d = {"raised": type(exc).__name__}
            out = {"d": d, "speak": policy.speak(compiled, reply, ctx, utterance=utterance),
                   "leaks": list(compiled.runtime.guardrails.leaks(reply, profile))}
            if i % 4 == 0:
                routing = policy.route(compiled, utterance, ctx)
                f = policy.finish(compiled, routing, base, ctx).to_dict()
                f.pop("elapsed_ms"), f.pop("perf_fault")
                out["same"] = f == d
                c = canon(utterance)
                out["canon"] = [c.stems, c.clauses, sorted(c.markers), c.joined]
                out["norm"] = [normalize(utterance), normalize(reply)]
                out["scored"] = sorted(compiled.runtime.phrases.scored(utterance).items())
            print(json.dumps([name, i, utterance, reply, out], sort_keys=True, default=str))


def main() -> None:
    """Run both trees and compare their lines."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", help="the other tree (holding policy/)")
    parser.add_argument("--turns", type=int, default=40000, help="turns in all, spread over the four policies")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--emit", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.emit:
        sys.path.insert(0, args.emit)
        emit(args.turns, args.seed)
        emit_units(args.turns, args.seed)
        return
    if not args.against:
        parser.error("--against is required")
    runs = []
    for root in (str(HERE), args.against):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--emit", root, "--turns", str(args.turns),
               "--seed", str(args.seed)]
        runs.append(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines())
    new, old = runs
    diffs = [(a, b) for a, b in zip(new, old) if a != b]
    digest = hashlib.sha256("\n".join(new).encode()).hexdigest()[:12]
    print(f"{len(new)} lines here, {len(old)} there; {len(diffs)} differ; digest {digest}")
    for a, b in diffs[:5]:
        print("here: ", a[:2000], "\nthere:", b[:2000], "\n")
    sys.exit(1 if diffs or len(new) != len(old) else 0)


if __name__ == "__main__":
    main()
