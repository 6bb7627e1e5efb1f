"""Tenants benchmark: a turn's cost as companies, history and real call pacing grow.

Run:  .venv/bin/python bench/tenants.py [--companies 1000] [--calls 400] [--turns 6]

Every figure is measured in one process, in-process through the WSGI app with signed
webhooks and Redis on loopback, beside its floor measured in the same run; the three cases'
requests are interleaved one by one, so noise on the machine falls on each alike:

- warm: one company, each call's turns back to back (the single-company warm case);
- paced: one company, calls interleaved round-robin so each call's turns are seconds apart
  (as on a real line: every time-limited cache has expired between two turns of a call);
- tenants: calls spread over ``--companies`` companies, interleaved the same way.

It also prints bytes stored per turn (turn records and call headers together, as the
document store holds them) and how long a new process takes to start with ``--companies``
and with ten times as many companies stored. SPEC section 12: each case within 1.2x of
warm, at most 1.5 KB stored per turn.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from twilio.request_validator import RequestValidator  # noqa: E402

from turn import TOKEN, UTTERANCES, pct, start_redis  # noqa: E402

DEMO = ROOT / "examples" / "companies" / "demo-hvac.yaml"


def number(i: int) -> str:
    """The Twilio number of company ``i``."""
    return f"+1512600{i:04d}"


def seed(app, companies: int) -> None:
    """``companies`` companies like the demo, each with its own number and its own compiled policy."""
    from policy.source import load_file

    doc = load_file(DEMO)
    sheet = doc.pop("cheatSheet")
    catalog = app.extensions["catalog"]
    catalog.templates.put(load_file(ROOT / "examples" / "scenarios" / f"{doc['scenarioTemplate']}.yaml"))
    for i in range(companies):
        company = {**doc, "id": f"co-{i:05d}", "name": f"Company {i}", "numbers": [number(i)]}
        catalog.put_company({**company, "cheatSheet": sheet}, by="bench")
        compiled = catalog.policies.compile_latest(company["id"], owner="bench")
        catalog.policies.activate(company["id"], compiled["version"], by="bench")


def call_requests(call_no: int, to: str, turns: int, validator: RequestValidator) -> list[tuple[str, dict, str]]:
    """The signed requests of one call to ``to``."""
    sid = f"CA{call_no:032x}"
    base = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": f"+1737555{call_no % 10000:04d}", "To": to,
            "Direction": "inbound", "CallStatus": "in-progress", "ApiVersion": "2010-04-01"}
    out = [("/voice", dict(base), validator.compute_signature("http://localhost/voice", base))]
    for seq in range(1, turns + 1):
        form = dict(base, SpeechResult=UTTERANCES[(call_no + seq) % len(UTTERANCES)], Confidence="0.91")
        path = f"/voice/turn?seq={seq}"
        out.append((path, form, validator.compute_signature("http://localhost" + path, form)))
    return out


def order(calls: list[list[tuple[str, dict, str]]], interleave: bool) -> list[tuple[int, int]]:
    """(call, request) pairs: each call's requests back to back, or round-robin across the calls."""
    if interleave:
        return [(c, i) for i in range(len(calls[0])) for c in range(len(calls))]
    return [(c, i) for c in range(len(calls)) for i in range(len(calls[0]))]


def play(client, cases: dict[str, tuple[list[list[tuple[str, dict, str]]], bool]]
         ) -> dict[str, tuple[list[float], list[float]]]:
    """Post the cases' requests interleaved with one another, one request of each case in turn, so machine
    noise falls on every case alike; each case keeps its own order (back to back, or round-robin across
    its calls). Returns each case's (greeting ms, turn ms)."""
    queues = {name: order(calls, interleave) for name, (calls, interleave) in cases.items()}
    out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in cases}
    gc.collect()
    for step in range(max(len(q) for q in queues.values())):
        for name, queue in queues.items():
            if step >= len(queue):
                continue
            c, i = queue[step]
            path, form, sig = cases[name][0][c][i]
            started = time.perf_counter()
            resp = client.post(path, data=form, headers={"X-Twilio-Signature": sig})
            elapsed = (time.perf_counter() - started) * 1000
            if resp.status_code != 200:
                sys.exit(f"{path} failed: {resp.status_code}")
            out[name][0 if i == 0 else 1].append(elapsed)
    return out


def stored_bytes(data_dir: str) -> tuple[int, int]:
    """(bytes of turn records and call headers, number of turn records) in the embedded store."""
    with sqlite3.connect(os.path.join(data_dir, "voiceagent.sqlite3")) as db:
        size = sum(db.execute(f"SELECT COALESCE(SUM(LENGTH(doc)), 0) FROM {t}").fetchone()[0]
                   for t in ("c_turns", "c_calls"))
        turns = db.execute("SELECT COUNT(*) FROM c_turns").fetchone()[0]
    return size, turns


def start_seconds(data_dir: str, redis_url: str) -> float:
    """How long a new process takes to build the app on this store (best of 3)."""
    code = ("import time, app; t = time.perf_counter(); app.create_app(); print(time.perf_counter() - t)")
    env = {**os.environ, "DATA_DIR": data_dir, "REDIS_URL": redis_url, "MONGODB_URI": "", "SEED_DEMO": "false",
           "TWILIO_AUTH_TOKEN": TOKEN}
    runs = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                                 check=True).stdout.strip().splitlines()[-1]) for _ in range(3)]
    return min(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--companies", type=int, default=1000)
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--turns", type=int, default=6)
    ap.add_argument("--start-companies", type=int, default=10_000,
                    help="companies stored (without policies) when the start time is measured again")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-tenants-")
    proc, redis_url = start_redis(tmp)
    data = os.path.join(tmp, "data")
    try:
        from app import create_app

        app = create_app({"DATA_DIR": data, "REDIS_URL": redis_url, "MONGODB_URI": "", "TWILIO_AUTH_TOKEN": TOKEN,
                          "VALIDATE_TWILIO_SIGNATURE": True, "SEED_DEMO": False, "ADMIN_TOKEN": "x"})
        logging.getLogger().setLevel(logging.ERROR)
        started = time.perf_counter()
        seed(app, args.companies)
        seeded = time.perf_counter() - started
        app.extensions["catalog"].companies.warm()
        app.extensions["catalog"].warm_policies()  # what a server that has been up holds (warmed at start)
        client, validator = app.test_client(), RequestValidator(TOKEN)
        play(client, {"warm-up": ([call_requests(10_000_000 + i, number(i), 2, validator) for i in range(20)], False)})
        n = 0

        def calls(to_company) -> list:
            nonlocal n
            out = [call_requests(n + i, number(to_company(i)), args.turns, validator) for i in range(args.calls)]
            n += args.calls
            return out
        results = play(client, {"warm": (calls(lambda i: 0), False), "paced": (calls(lambda i: 0), True),
                                "tenants": (calls(lambda i: i % args.companies), True)})
        from records.writer import land_deferred

        land_deferred()  # the last turns' records still in the journal
        size, turns = stored_bytes(data)
        print(f"{args.companies} companies (seeded in {seeded:.0f} s), {args.calls} calls x {args.turns} turns per case")
        print(f"{'case':<10} {'greeting P50/P99 ms':>22} {'ratio':>7} {'turn P50/P99 ms':>18} {'ratio':>7}")
        warm_g, warm_t = results["warm"]
        for name, (g, t) in results.items():
            print(f"{name:<10} {statistics.median(g):>10.2f} / {pct(g, 0.99):>7.2f} "
                  f"{statistics.median(g) / statistics.median(warm_g):>6.2f}x "
                  f"{statistics.median(t):>8.2f} / {pct(t, 0.99):>6.2f} "
                  f"{statistics.median(t) / statistics.median(warm_t):>6.2f}x")
        print(f"stored per turn (turn records + call headers): {size / max(1, turns):.0f} bytes "
              f"(target at most 1536)")
        print(f"process start with {args.companies} companies: {start_seconds(data, redis_url):.2f} s")
        companies = app.extensions["docstore"]["companies"]
        template = companies.find_one({"_id": "co-00000"})
        for i in range(args.companies, args.start_companies):
            companies.insert_one({**template, "_id": f"co-{i:05d}", "numbers": [number(i)],
                                  "doc": {**template["doc"], "id": f"co-{i:05d}", "numbers": [number(i)]}})
        print(f"process start with {args.start_companies} companies: {start_seconds(data, redis_url):.2f} s "
              f"(target under 1 s)")
    finally:
        proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
