"""History benchmark: a caller turn, and staff listing calls, with 50,000 turn records already stored.

Run:  .venv/bin/python bench/history.py [--turns-stored 50000] [--code OTHER_CHECKOUT ...]

The same measurement runs against this checkout and against each ``--code`` directory (another
commit's checkout, e.g. ``git worktree add /tmp/old <commit>``), each in its own process, so
the figures sit side by side. Per checkout: an app on a fresh embedded store with Redis on
loopback; the store is filled through the app's own document-store object with call headers
and turn records shaped like the product's (calls spread over 1,000 companies, 1,000 of them
for the demo company); then signed calls of 6 turns are played through the WSGI app, and the
admin API lists, filters, pages and opens calls.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
TOKEN = "bench-auth-token"
ADMIN = "bench-admin"
UTTERANCES = ["what time do you close on saturday", "my furnace is making a loud banging noise",
              "I'd like to schedule a tune up for next week", "do you have a maintenance plan",
              "is this a real person", "thanks that's all I needed"]


def _redis(tmp: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    for _ in range(200):
        try:
            redis.Redis(port=port).ping()
            break
        except redis.RedisError:
            time.sleep(0.02)
    return proc, f"redis://127.0.0.1:{port}/0"


def _fill(db, turns: int, rng: random.Random) -> int:
    """Call headers and turn records shaped like the product's, ``turns`` of them over 1,000 companies."""
    calls, turn_docs = [], []
    now = time.time() - 86_400
    n_calls = turns // 7
    for c in range(n_calls):
        sid = f"CAhist{c:026d}"
        company = "demo-hvac" if c < 1000 else f"company-{c % 1000:04d}"
        started = now + c * 10
        tiers, actions = sorted({rng.choice("12")} | ({"fallback"} if c % 5 == 0 else set())), ["RESPOND"]
        if c % 7 == 0:
            actions.append("TRANSFER")
        tags = ["pricing_inquiry"] if c % 11 == 0 else []
        calls.append({"_id": sid, "company_id": company, "from": f"+1512555{c % 10000:04d}", "to": "+15125550100",
                      "started_at": started, "status": "completed", "tags": tags, "turns": 7, "actions": actions,
                      "tiers": tiers, "cost": 0.0004, "by_tier": {"1": {"turns": 5, "cost": 0.0}},
                      "policy": {"version": 1, "checksum": "c" * 64},
                      "session": {"call_sid": sid, "seq": 6, "company_id": company, "tags": tags}})
        for seq in range(7):
            turn_docs.append({
                "_id": f"{sid}:{seq:05d}", "call_sid": sid, "company_id": company, "seq": seq,
                "kind": "greeting" if seq == 0 else "turn", "at": started + seq * 8,
                "caller": {"text": rng.choice(UTTERANCES), "confidence": 0.91}, "tier": rng.choice(tiers),
                "base_used": True, "confidence": 1.0, "scenario": "hours", "base": "Our office hours are 8 to 5.",
                "final": "Ok, our office hours are 8 a.m. to 5 p.m. on weekdays.", "action": actions[-1],
                "blocks": [{"type": "BEHAVIOR_RULES", "id": "ACK_OK", "name": "Behavior rules"}], "matched": None,
                "guardrails": [], "tags": tags, "side_effects": [], "side_effects_done": [], "transfer": None,
                "policy": {"version": 1, "checksum": "c" * 64}, "arm": "full", "session_tier": "l0",
                "perf_fault": False, "cost": 0.0, "tier3": None,
                "latency_ms": {"session": 0.04, "policy": 0.01, "scenario": 0.07, "engine": 0.08, "total": 1.4}})
    for doc in calls:
        db["calls"].insert_one(doc)
    for doc in turn_docs:
        db["turns"].insert_one(doc)
    return len(turn_docs)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def _signed(validator, path: str, form: dict) -> dict:
    return {"X-Twilio-Signature": validator.compute_signature("http://localhost" + path, form)}


def measure(stored: int, calls: int) -> dict:
    """Run in the checkout on sys.path; returns the figures."""
    import logging

    from twilio.request_validator import RequestValidator

    from app import create_app

    tmp = tempfile.mkdtemp(prefix="bench-history-")
    proc, redis_url = _redis(tmp)
    try:
        app = create_app({"DATA_DIR": os.path.join(tmp, "data"), "REDIS_URL": redis_url, "MONGODB_URI": "",
                          "TWILIO_AUTH_TOKEN": TOKEN, "VALIDATE_TWILIO_SIGNATURE": True, "SEED_DEMO": True,
                          "ADMIN_TOKEN": ADMIN})
        logging.getLogger().setLevel(logging.ERROR)
        started = time.perf_counter()
        filled = _fill(app.extensions["docstore"], stored, random.Random(7))
        fill_s = time.perf_counter() - started
        client, validator = app.test_client(), RequestValidator(TOKEN)
        turn_ms: list[float] = []
        for c in range(calls + 3):
            sid = f"CAlive{c:026d}"
            base = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": f"+1737555{c:04d}", "To": "+15125550100",
                    "CallStatus": "in-progress", "Direction": "inbound"}
            client.post("/voice", data=base, headers=_signed(validator, "/voice", base))
            for seq in range(1, 7):
                form = dict(base, SpeechResult=UTTERANCES[(c + seq) % len(UTTERANCES)], Confidence="0.9")
                path = f"/voice/turn?seq={seq}"
                t0 = time.perf_counter()
                resp = client.post(path, data=form, headers=_signed(validator, path, form))
                if resp.status_code != 200:
                    raise SystemExit(f"turn failed: {resp.status_code}")
                if c >= 3:  # the first calls warm up
                    turn_ms.append((time.perf_counter() - t0) * 1000)
        auth = {"Authorization": f"Bearer {ADMIN}"}
        out = {"stored_turns": filled, "fill_s": round(fill_s, 1), "turn": turn_ms}
        for name, path in (("list", "/admin/companies/demo-hvac/calls?per_page=50"),
                           ("list page 10", "/admin/companies/demo-hvac/calls?per_page=50&page=10"),
                           ("list by tag", "/admin/companies/demo-hvac/calls?tag=pricing_inquiry"),
                           ("list by action", "/admin/companies/demo-hvac/calls?action=TRANSFER"),
                           ("one call", "/admin/companies/demo-hvac/calls/CAhist" + "0" * 23 + "500")):
            times = []
            for _ in range(6):
                t0 = time.perf_counter()
                resp = client.get(path, headers=auth)
                times.append((time.perf_counter() - t0) * 1000)
                if resp.status_code != 200:
                    raise SystemExit(f"{path}: {resp.status_code} {resp.get_data(as_text=True)[:200]}")
            out[name] = times[1:]
        return out
    finally:
        proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--turns-stored", type=int, default=50_000)
    ap.add_argument("--calls", type=int, default=60, help="live calls of 6 turns to time")
    ap.add_argument("--code", action="append", default=[], help="another checkout to measure the same way")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.turns_stored, args.calls)))
        return
    results = {}
    for code in [str(HERE), *args.code]:
        env = dict(os.environ, PYTHONPATH=code)
        done = subprocess.run([sys.executable, __file__, "--child", "--turns-stored", str(args.turns_stored),
                               "--calls", str(args.calls)], cwd=code, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{code}: {done.stderr[-2000:]}")
        results[code] = json.loads(done.stdout.strip().splitlines()[-1])
    names = list(results)
    print(f"{args.turns_stored} turn records stored; caller turns and admin listings (ms, P50 / P99)")
    print(f"{'':<18}" + "".join(f"{Path(n).name:>26}" for n in names))
    for key in ("turn", "list", "list page 10", "list by tag", "list by action", "one call"):
        row = "".join(f"{statistics.median(results[n][key]):>12.2f} / {_pct(results[n][key], 0.99):>9.2f}"
                      for n in names)
        print(f"{key:<18}{row}")
    print(f"{'fill (s)':<18}" + "".join(f"{results[n]['fill_s']:>26}" for n in names))


if __name__ == "__main__":
    main()
