"""Conversation corpus: play scripted calls through the simulator and check what callers get.

Run:  .venv/bin/python bench/conversations.py [--part heldout|dev|all] [--corpus FILE ...]
      [--company FILE ...] [--only ID] [--quiet]

Each call (``bench/conversations/*.yaml``, format in its README) is played in-process against
a fresh app holding the example companies (imported as ``flask company import`` does), at the
company's local time the call names. It prints the pass rate by part and category, and every
failing call as a transcript with the reasons. Exit status 1 when a part is under 95%.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from admin.importer import import_company  # noqa: E402
from voice.simulator import CallResult, CallSimulator, flask_transport  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "bench" / "conversations"
COMPANIES = [ROOT / "examples" / "companies" / f"{name}.yaml" for name in ("demo-hvac", "demo-plumbing", "demo-electric")]
TOKEN = "corpus-token-0123456789abcdef"
DEFAULT_AT = "2026-01-05 10:00"  # a Monday mid-morning
TARGET = 0.95
#: Replies that never sound right, whatever the call.
NEVER = [
    (re.compile(r"\b(?:ok|okay|sure|got it|alright)[,.!]?\s+(?:hello|hi|hey|good (?:morning|afternoon|evening))\b", re.I),
     "an acknowledgement in front of a greeting"),
    (re.compile(r"\b(?:ok|okay|sure|got it|alright)[,.!]?\s+(?:you'?re welcome|thanks?\b|thank you|goodbye|bye)", re.I),
     "an acknowledgement in front of a thank-you or goodbye"),
    (re.compile(r"\b(?:ok|okay|sure|got it|alright)[,.!]?\s+(?:i'?m |we'?re )?(?:so |very |really )?sorry\b", re.I),
     "an acknowledgement in front of an apology"),
    (re.compile(r"\b(?:ok|okay|sure|got it|alright)[,.!]?\s+(?:please (?:leave|get out)|this sounds urgent|if you smell)", re.I),
     "an acknowledgement in front of a safety instruction"),
    (re.compile(r"\b(ok|okay|sure),?\s+\1\b", re.I), "a doubled acknowledgement"),
    (re.compile(r"[{}\[\]]"), "a raw variable or bracket"),
]
BUSY = re.compile(r"\beveryone\b.{0,40}\bbusy\b|\ball (?:of )?our .{0,20}\bbusy\b", re.I)
REPEAT_ASK = re.compile(r"\b(again|repeat|what was that|come again|pardon|didn'?t (?:catch|hear)|say that)\b", re.I)


def load_corpus(paths: list[Path]) -> list[dict[str, Any]]:
    """Every call of the given corpus files, each tagged with its part."""
    calls = []
    for path in paths:
        doc = yaml.safe_load(path.read_text()) or {}
        for call in doc.get("calls") or []:
            calls.append({**call, "part": doc.get("part", path.stem)})
    ids = [c["id"] for c in calls]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SystemExit(f"duplicate call ids: {', '.join(dupes)}")
    return calls


class Clock:
    """The app's clock, set to each call's time."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def build_app(company_files: list[Path], data_dir: str, clock: Clock) -> tuple[Any, dict[str, dict[str, Any]]]:
    """A fresh app with the companies imported (compiled and activated); returns it and the companies."""
    from app import create_app

    app = create_app({"TESTING": True, "DATA_DIR": data_dir, "TWILIO_AUTH_TOKEN": TOKEN, "ADMIN_TOKEN": "corpus",
                      "REDIS_URL": "", "MONGODB_URI": "", "SEED_DEMO": False, "CLOCK": clock, "ALERT_EVAL_S": 0})
    companies = {}
    for path in company_files:
        if not path.is_file():
            print(f"warning: company file {path} is missing; its calls will fail", file=sys.stderr)
            continue
        doc = yaml.safe_load(path.read_text())
        import_company(app.extensions["catalog"], path, by="corpus")
        companies[doc["id"]] = doc
    return app, companies


def replies(result: CallResult) -> list[str]:
    """The agent's words after each caller turn (index 0: after the first caller turn)."""
    out: list[str] = []
    current: list[str] | None = None
    for event in result.events:
        if event.kind == "caller":
            current = []
            out.append("")
        elif event.kind == "say" and current is not None:
            current.append(event.text)
            out[-1] = " ".join(current)
    return out


def _heard(text: str, want: Any) -> bool:
    options = want if isinstance(want, list) else [want]
    return any(str(o).lower() in text.lower() for o in options)


def destinations(company: dict[str, Any]) -> dict[str, str]:
    """Dial or queue target -> contact name."""
    out = {}
    for name, contact in (company.get("contacts") or {}).items():
        for key in ("phone", "queue", "sip"):
            if contact.get(key):
                out[contact[key]] = name
    return out


def check(call: dict[str, Any], result: CallResult, company: dict[str, Any] | None, messages: list[dict[str, Any]],
          dial_status: str) -> list[str]:
    """Why a call did not get what it should (empty: it passed)."""
    if company is None:
        return [f"company {call['company']} is not loaded"]
    expect = call.get("expect") or {}
    problems = [f"HTTP error: {e.text}" for e in result.events if e.kind == "http-error"]
    said = replies(result)
    agent = " ".join(result.heard()[1:])
    targets = destinations(company)
    dialed = [targets.get(e.text, e.text) for e in result.events if e.kind in ("dial", "enqueue")]
    if "transfer" in expect:
        want = expect["transfer"]
        if want in (None, "none"):
            if dialed:
                problems.append(f"transferred to {dialed} but should not be")
        elif want not in dialed:
            problems.append(f"not transferred to {want} (dialed: {dialed or 'nobody'})")
    if "message" in expect:
        problems += _check_message(expect["message"], messages)
    if "ended" in expect:
        ended = any(e.kind == "hangup" and e.text == "agent hangs up" for e in result.events)
        if ended != bool(expect["ended"]):
            problems.append("the agent ended the call" if ended else "the call did not end")
    problems += _hearing(agent, expect, "", "")
    for n, spec in (expect.get("turns") or {}).items():
        text = said[int(n) - 1] if int(n) - 1 < len(said) else ""
        problems += _hearing(text, spec, f"turn {n}: ", f" in {text!r}")
    problems += style(call, result, said, dial_status)
    return problems


def _hearing(text: str, expect: dict, before: str, after: str) -> list[str]:
    """What ``expect`` says must (``hears``) and must not (``not_hears``) be heard in ``text``."""
    return ([f"{before}never heard {want!r}{after}" for want in expect.get("hears") or [] if not _heard(text, want)]
            + [f"{before}heard {bad!r}{after}" for bad in expect.get("not_hears") or [] if _heard(text, bad)])


def _check_message(want: Any, messages: list[dict[str, Any]]) -> list[str]:
    if want in (None, "none"):
        return [f"a message was stored: {messages[0]}"] if messages else []
    if not messages:
        return ["no message was stored"]
    msg = messages[-1]
    problems = []
    if want.get("name") and want["name"].lower() not in str(msg.get("name") or "").lower():
        problems.append(f"message name {msg.get('name')!r}, expected {want['name']!r}")
    if want.get("phone") and msg.get("callback_phone") != want["phone"]:
        problems.append(f"message phone {msg.get('callback_phone')!r}, expected {want['phone']!r}")
    if want.get("contains") and want["contains"].lower() not in str(msg.get("message") or "").lower():
        problems.append(f"message {msg.get('message')!r} does not mention {want['contains']!r}")
    return problems


def style(call: dict[str, Any], result: CallResult, said: list[str], dial_status: str) -> list[str]:
    """What never sounds right, on any call."""
    problems = []
    for text in result.heard():
        for pattern, why in NEVER:
            if pattern.search(text):
                problems.append(f"{why}: {text!r}")
        if BUSY.search(text) and dial_status in ("completed",):
            problems.append(f"said everyone is busy though no transfer failed: {text!r}")
    says = call.get("say") or []
    for i in range(1, len(said)):
        if said[i] and said[i] == said[i - 1] and i < len(says) and says[i].strip() and not REPEAT_ASK.search(says[i]):
            problems.append(f"the same reply twice in a row: {said[i]!r}")
    return problems


def local_epoch(company: dict[str, Any] | None, at: str) -> float:
    """A call's local time in its company's timezone, as epoch seconds."""
    tz = ZoneInfo((company or {}).get("timezone") or "America/Chicago")
    return datetime.fromisoformat(at).replace(tzinfo=tz).timestamp()


def play(app: Any, clock: Clock, companies: dict[str, dict[str, Any]], call: dict[str, Any],
         n: int) -> tuple[CallResult, list[str]]:
    """Play one call and check it."""
    company = companies.get(call["company"])
    clock.t = local_epoch(company, str(call.get("at") or DEFAULT_AT))
    number = (company or {}).get("numbers", ["+15125550100"])[0]
    dial_status = call.get("dial_status", "completed")
    sim = CallSimulator(flask_transport(app.test_client()), auth_token=TOKEN, to=number,
                        caller=f"+1505555{7000 + n:04d}", call_sid=f"CA{n:032d}", dial_status=dial_status)
    result = sim.run([str(s) for s in call.get("say") or []])
    messages = list(app.extensions["docstore"]["messages"].find({"call_sid": result.call_sid}))
    return result, check(call, result, company, messages, dial_status)


def main() -> None:
    """Play the corpus and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["heldout", "dev", "all"], default="all")
    parser.add_argument("--corpus", type=Path, action="append", help="corpus file(s) (default: bench/conversations/*.yaml)")
    parser.add_argument("--company", type=Path, action="append", help="company file(s) to import (default: the examples)")
    parser.add_argument("--only", help="play only the call with this id (or ids starting with it)")
    parser.add_argument("--quiet", action="store_true", help="no transcripts, figures only")
    args = parser.parse_args()
    calls = load_corpus(args.corpus or sorted(CORPUS.glob("*.yaml")))
    if args.part != "all":
        calls = [c for c in calls if c["part"] == args.part]
    if args.only:
        calls = [c for c in calls if c["id"].startswith(args.only)]
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        app, companies = build_app(args.company or COMPANIES, tmp, clock)
        results: dict[tuple[str, str], list[bool]] = defaultdict(list)
        failures = []
        for n, call in enumerate(calls):
            result, problems = play(app, clock, companies, call, n)
            results[(call["part"], call.get("category", "other"))].append(not problems)
            if problems:
                failures.append((call, result, problems))
        report(results, failures, quiet=args.quiet)
    parts = {p for p, _ in results}
    low = [p for p in parts if _rate(results, p) < TARGET]
    sys.exit(1 if low else 0)


def _rate(results: dict[tuple[str, str], list[bool]], part: str) -> float:
    oks = [ok for (p, _), v in results.items() if p == part for ok in v]
    return sum(oks) / len(oks) if oks else 0.0


def report(results: dict[tuple[str, str], list[bool]], failures: list[Any], *, quiet: bool) -> None:
    """Print failures as transcripts, then the pass rates."""
    if not quiet:
        for call, result, problems in failures:
            print(f"=== FAIL {call['id']} ({call['part']}, {call.get('category')}, {call['company']})")
            for p in problems:
                print(f"  - {p}")
            print("  " + result.transcript().replace("\n", "\n  "))
    print(f"{'part':<8} {'category':<14} {'passed':>7} {'calls':>6} {'rate':>7}")
    for part in sorted({p for p, _ in results}):
        for (p, cat), oks in sorted(results.items()):
            if p == part:
                print(f"{p:<8} {cat:<14} {sum(oks):>7} {len(oks):>6} {sum(oks) / len(oks):>7.1%}")
        oks = [ok for (p, _), v in results.items() if p == part for ok in v]
        print(f"{part:<8} {'ALL':<14} {sum(oks):>7} {len(oks):>6} {sum(oks) / len(oks):>7.1%}"
              f"  (target {TARGET:.0%})")
    every = [ok for v in results.values() for ok in v]
    if every:
        print(f"{'total':<8} {'':<14} {sum(every):>7} {len(every):>6} {sum(every) / len(every):>7.1%}")


if __name__ == "__main__":
    main()
