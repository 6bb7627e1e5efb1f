"""Embedded document store benchmark: the product's queries on the old and the new store.

Run:  .venv/bin/python bench/store.py [--turns 50000] [--calls 6000] [--companies 1000] [--n 400]

Builds one SQLite file with realistic records (turns of about 1.5 KB: call_sid, company_id,
seq, at, caller text, tier, action, blocks, latency ...; call headers with company_id,
started_at, from, tags, actions, tiers; three cheat sheets per company), copies it for each
store, indexes each copy the way that store can, then times the product's queries with the
same parameters on both, in one process: the OLD store is ``records/docstore.py`` at commit
893ff2f (loaded from git as a separate module; it keeps indexes in memory, single-field
only, and ``find`` returns a list), the NEW one is the working tree's. Prints median and P99
in microseconds per call and old/new ratios, and checks both return the same documents.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OLD_COMMIT = "893ff2f"
WARMUP = 20
DAY = 86400.0
T0 = 1_760_000_000.0
TAGS = ["pricing_inquiry", "machine_question", "hours", "emergency", "billing", "transfer_busy", "spam", "booking"]
ACTIONS = ["SAY", "TRANSFER", "MESSAGE", "HANGUP", "GATHER"]
TIERS = ["0", "1", "2", "3", "fallback"]
UTTERANCES = [
    "hi yes my furnace is making a loud banging noise when it kicks on and I am worried about it",
    "what time do you close on saturday and are you open on sunday for emergencies",
    "I'd like to schedule a tune up for next week, preferably tuesday morning if you have it",
    "how much is a service call and do you charge extra for evenings or weekends",
    "there is water everywhere in my basement and I think it is coming from the water heater",
]


# --- data -------------------------------------------------------------------------------------

def _turn(rng: random.Random, call: dict[str, Any], seq: int) -> dict[str, Any]:
    """One turn record of about 1.5 KB, as the voice service writes it."""
    action = rng.choice(call["actions"])
    return {
        "_id": f"{call['_id']}:{seq:04d}", "call_sid": call["_id"], "company_id": call["company_id"],
        "seq": seq, "at": call["started_at"] + 15.0 * seq, "kind": "turn",
        "caller": rng.choice(UTTERANCES), "tier": rng.choice(call["tiers"]), "action": action,
        "asr": {"confidence": round(rng.random(), 3), "alternatives": rng.sample(UTTERANCES, 2)},
        "scenario": rng.choice(["hours", "pricing", "emergency", "booking", None]),
        "confidence": round(rng.random(), 3), "cost": round(rng.random() / 1000, 6),
        "blocks": [{"type": "EDGE_CASE", "id": f"ec-{rng.randrange(40)}", "name": "Machine question",
                    "matched": ["robot", "machine"]} for _ in range(rng.randrange(1, 4))],
        "latency": {"asr_ms": rng.randrange(80, 400), "engine_ms": round(rng.random() * 3, 3),
                    "tts_ms": rng.randrange(50, 300), "total_ms": rng.randrange(200, 900)},
        "final": "Thanks for calling. Our office hours are 8 a.m. to 5 p.m. Monday through Friday, and we "
                 "offer emergency service around the clock. Is there anything else I can help you with today?",
        "policy": {"version": rng.randrange(1, 4), "checksum": f"{rng.getrandbits(128):032x}"},
        "twiml": "<Response><Gather input=\"speech\" action=\"/voice/turn\" speechTimeout=\"auto\">"
                 "<Say voice=\"Polly.Joanna\">Thanks for calling. Our office hours are 8 a.m. to 5 p.m."
                 "</Say></Gather></Response>",
        "tags": rng.sample(TAGS, rng.randrange(0, 2)),
        "collect": {"slot": "callbackPhone", "events": ["asked", "invalid:callbackPhone", "asked"],
                    "value": "+15125550199", "attempts": rng.randrange(1, 4)},
    }


def _call(rng: random.Random, n: int, company: str) -> dict[str, Any]:
    """One call header."""
    return {
        "_id": f"CA{n:032x}", "company_id": company,
        "started_at": T0 + rng.random() * 30 * DAY, "from": f"+1512{rng.randrange(10 ** 7):07d}",
        "to": "+15125550100", "status": "completed", "duration_s": rng.randrange(10, 600),
        "tags": rng.sample(TAGS, rng.randrange(0, 3)), "actions": rng.sample(ACTIONS, rng.randrange(1, 4)),
        "tiers": rng.sample(TIERS, rng.randrange(1, 4)), "outcome": rng.choice(["answered", "transferred"]),
        "collected": {"name": "Jane Doe", "callbackPhone": "+15125550199"},
    }


def _sheet(company: str, version: int) -> dict[str, Any]:
    return {"_id": f"{company}:{version:06d}", "company_id": company, "version": version,
            "status": "active" if version == 3 else "archived", "checksum": f"{version:064d}",
            "artifact": {"scenarios": [{"id": f"s{i}", "answer": "We are open 8 to 5."} for i in range(10)]}}


def make_records(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """calls (companies as skewed as real traffic: Zipf), turns (in time order) and cheatsheets."""
    rng = random.Random(7)
    companies = [f"co{c:04d}" for c in range(args.companies)]
    weights = [1 / (rank + 1) for rank in range(args.companies)]
    calls = [_call(rng, n, company) for n, company in enumerate(rng.choices(companies, weights, k=args.calls))]
    turns = [_turn(rng, calls[i % len(calls)], i // len(calls)) for i in range(args.turns)]
    turns.sort(key=lambda t: t["at"])
    sheets = [_sheet(f"co{c:04d}", v) for c in range(args.companies) for v in (1, 2, 3)]
    return {"calls": calls, "turns": turns, "cheatsheets": sheets}


def build_file(path: str, records: dict[str, list[dict[str, Any]]]) -> None:
    """The stores' on-disk format (one table per collection: id, doc JSON), written in one go."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for name, docs in records.items():
        conn.execute(f'CREATE TABLE "c_{name}" (id TEXT PRIMARY KEY, doc TEXT NOT NULL)')
        conn.executemany(f'INSERT INTO "c_{name}" (id, doc) VALUES (?, ?)',
                         [(json.dumps(d["_id"]), json.dumps(d, separators=(",", ":"))) for d in docs])
    conn.execute("COMMIT")
    conn.close()


# --- the two stores ---------------------------------------------------------------------------

def load_old_module(tmp: str) -> ModuleType:
    """records/docstore.py as it was at OLD_COMMIT, imported under another name."""
    source = subprocess.run(["git", "show", f"{OLD_COMMIT}:records/docstore.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = os.path.join(tmp, "docstore_old.py")
    Path(path).write_text(source)
    spec = importlib.util.spec_from_file_location("docstore_old", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def open_store(module: ModuleType, directory: str, base: str, indexes: dict[str, list[Any]]) -> Any:
    """A copy of the base file, opened by a store and indexed as given."""
    os.makedirs(directory)
    shutil.copy(base, os.path.join(directory, "voiceagent.sqlite3"))
    db = module.EmbeddedClient(directory, timeout_s=2.0)["voiceagent"]
    for name, keys in indexes.items():
        for key in keys:
            db[name].create_index(key)
    return db


#: What the product's ensure_indexes creates today (all the old store supports).
OLD_INDEXES = {"calls": ["company_id", "started_at", "from"], "turns": ["company_id", "at", "call_sid"],
               "cheatsheets": ["company_id"]}
#: The same with the compound indexes the product's queries want.
NEW_INDEXES = {"calls": [[("company_id", 1), ("started_at", -1)], "started_at", "from"],
               "turns": [[("call_sid", 1), ("seq", 1)], "company_id", "at"], "cheatsheets": ["company_id"]}


# --- queries ----------------------------------------------------------------------------------

def _calls_filter(rng: random.Random, call: dict[str, Any], extra: str) -> dict[str, Any]:
    start = call["started_at"] - rng.random() * 5 * DAY
    flt = {"company_id": call["company_id"], "started_at": {"$gte": start, "$lt": start + 10 * DAY}}
    values = {"tags": call["tags"] or TAGS, "actions": call["actions"], "tiers": call["tiers"]}
    for field in extra.split("+"):
        flt[field] = rng.choice(values[field])
    return flt


def queries(records: dict[str, list[dict[str, Any]]], n: int) -> list[tuple[str, list[tuple], Callable, Callable]]:
    """(label, parameter list, call on the old store, call on the new store) for each query."""
    rng = random.Random(11)
    calls = rng.sample(records["calls"], n + WARMUP)
    sheets = rng.sample(records["cheatsheets"], n + WARMUP)
    by_time = [("started_at", -1)]
    out: list[tuple[str, list[tuple], Callable, Callable]] = [
        ("turns find call_sid sort seq", [(c["_id"],) for c in calls],
         lambda db, sid: db["turns"].find({"call_sid": sid}, sort=[("seq", 1)]),
         lambda db, sid: list(db["turns"].find({"call_sid": sid}, sort=[("seq", 1)])))]
    for extra in ("tags", "actions", "tiers", "tags+actions"):
        params = [(_calls_filter(rng, c, extra), rng.choice([0, 0, 20])) for c in calls]
        out.append((f"calls page (window, {extra})", params,
                    lambda db, f, s: db["calls"].find(f, sort=by_time, skip=s, limit=20),
                    lambda db, f, s: list(db["calls"].find(f, sort=by_time).skip(s).limit(20))))
        out.append((f"calls count (window, {extra})", params,
                    lambda db, f, s: db["calls"].count_documents(f), lambda db, f, s: db["calls"].count_documents(f)))
    return out + [
        ("calls find_one from+company", [(c["from"], c["company_id"]) for c in calls],
         lambda db, f, co: db["calls"].find_one({"from": f, "company_id": co}),
         lambda db, f, co: db["calls"].find_one({"from": f, "company_id": co})),
        ("cheatsheets latest version", [(s["company_id"],) for s in sheets],
         lambda db, co: db["cheatsheets"].find_one({"company_id": co}, sort=[("version", -1)]),
         lambda db, co: db["cheatsheets"].find_one({"company_id": co}, sort=[("version", -1)])),
        ("calls find_one _id", [(c["_id"],) for c in calls],
         lambda db, sid: db["calls"].find_one({"_id": sid}), lambda db, sid: db["calls"].find_one({"_id": sid})),
    ]


def writes(records: dict[str, list[dict[str, Any]]], n: int) -> list[tuple[str, list[tuple], Callable, Callable]]:
    """update_one by _id with $set, and insert_one of a new turn (same on both stores)."""
    rng = random.Random(13)
    calls = rng.sample(records["calls"], n + WARMUP)
    turns = [dict(t, _id=f"{t['_id']}:new{i}") for i, t in enumerate(rng.sample(records["turns"], n + WARMUP))]

    def update(db: Any, sid: str, k: int) -> Any:
        return db["calls"].update_one({"_id": sid}, {"$set": {"status": "completed", "duration_s": k}})

    def insert(db: Any, turn: dict[str, Any]) -> Any:
        return db["turns"].insert_one(turn)
    return [("calls update_one _id $set", [(c["_id"], i) for i, c in enumerate(calls)], update, update),
            ("turns insert_one", [(t,) for t in turns], insert, insert)]


# --- timing -----------------------------------------------------------------------------------

def timed(fn: Callable, db: Any, p: tuple) -> tuple[float, Any]:
    """Microseconds one call took, and its result."""
    started = time.perf_counter_ns()
    result = fn(db, *p)
    return (time.perf_counter_ns() - started) / 1000, result


def same(a: Any, b: Any) -> bool | None:
    """Whether the old and the new store answered alike (documents by _id); None for write results."""
    if isinstance(a, list):
        return [d["_id"] for d in a] == [d["_id"] for d in b]
    if isinstance(a, dict) or a is None:
        return (a or {}).get("_id") == (b or {}).get("_id")
    return a == b if isinstance(a, int) else None


def p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * 0.99))]


def run_case(label: str, params: list[tuple], old_fn: Callable, new_fn: Callable, old: Any, new: Any) -> str:
    """Both stores on the same parameters (the first WARMUP are not counted), as one table row."""
    old_t, new_t, checks = [], [], set()
    for i, p in enumerate(params):  # interleaved, so both see the same machine
        if i % 2:
            (nt, nr), (ot, orr) = timed(new_fn, new, p), timed(old_fn, old, p)
        else:
            (ot, orr), (nt, nr) = timed(old_fn, old, p), timed(new_fn, new, p)
        if i >= WARMUP:
            old_t.append(ot)
            new_t.append(nt)
            checks.add(same(orr, nr))
    agree = "-" if checks == {None} else "yes" if checks == {True} else "NO"
    om, nm = statistics.median(old_t), statistics.median(new_t)
    return (f"{label:<36} {om:>9.1f} {p99(old_t):>9.1f} {nm:>9.1f} {p99(new_t):>9.1f} "
            f"{om / nm:>7.1f}x {p99(old_t) / p99(new_t):>7.1f}x  {agree}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--turns", type=int, default=50_000)
    ap.add_argument("--calls", type=int, default=6_000)
    ap.add_argument("--companies", type=int, default=1_000)
    ap.add_argument("--n", type=int, default=400, help="calls timed per query and store")
    args = ap.parse_args()
    from records import docstore as new_module

    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="bench-store-")
    try:
        old_module = load_old_module(tmp)
        records = make_records(args)
        size = statistics.mean(len(json.dumps(t)) for t in records["turns"][:2000])
        biggest = max(Counter(c["company_id"] for c in records["calls"]).values())
        base = os.path.join(tmp, "base.sqlite3")
        build_file(base, records)
        t = time.monotonic()
        old = open_store(old_module, os.path.join(tmp, "old"), base, OLD_INDEXES)
        t_old = time.monotonic() - t
        t = time.monotonic()
        new = open_store(new_module, os.path.join(tmp, "new"), base, NEW_INDEXES)
        t_new = time.monotonic() - t
        gc.collect()
        gc.freeze()  # the records above would make every full collection a multi-millisecond pause
        print(f"{args.turns} turns (mean {size:.0f} B JSON) over {args.calls} calls, {args.companies} companies "
              f"(the busiest has {biggest} calls); {args.n} timed calls per query and store, interleaved; "
              f"SQLite {sqlite3.sqlite_version}")
        print(f"open + create indexes: old {t_old:.1f} s, new {t_new:.1f} s\n")
        print(f"{'query':<36} {'old med':>9} {'old P99':>9} {'new med':>9} {'new P99':>9} "
              f"{'med':>8} {'P99':>8}  same")
        print(f"{'':<36} {'us':>9} {'us':>9} {'us':>9} {'us':>9} {'old/new':>8} {'old/new':>8}")
        for case in queries(records, args.n) + writes(records, args.n):
            print(run_case(*case, old, new), flush=True)
        print(f"\ntotal {time.monotonic() - started:.0f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
