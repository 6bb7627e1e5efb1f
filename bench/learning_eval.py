"""How much learning reduces the Tier 3 / fallback share, on labelled public utterances.

Run:  .venv/bin/python bench/learning_eval.py --train ../shared/data/clinc150/train_val.json \
          --test ../shared/data/clinc150/train_val.json
      .venv/bin/python bench/learning_eval.py --train ../shared/data/banking77/train.csv --holdout 0.2

A ``.csv`` file has ``text,category`` rows; a ``.json`` file maps split names to ``[text, intent]``
pairs (for ``--train`` the splits whose name has "train", for ``--test`` those with "test", or
"val" when the file has no "test" split); a split whose name starts with ``oos`` is out of scope.
``--holdout F`` holds out a share of ``--train`` (by a stable hash of the text) as the test set
when no test file exists.

It builds a starting template (one scenario per intent, its only keyword the words of the
intent's name; ``--start words`` makes each word a keyword), replays the training utterances as
caller calls through the real app (signed webhooks through the call simulator, in ``--rounds``
weeks), and after each week runs the learning loop. Simulated staff approve a suggestion when
most of the examples it shows (at most 10) carry the intent it proposes, else reject it; the
loop itself never sees a label. Approvals go through the product's approve path. The test
utterances are then replayed as calls to a second company with the same template (so they
never feed learning), before and after. Beside it: TF-IDF + logistic regression trained on the
same training utterances.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOKEN = "eval-auth-token"
TRAIN_NUMBER, TEST_NUMBER = "+15550100001", "+15550100002"
STOP = {"a", "an", "the", "by", "or", "of", "to", "my", "is", "and", "for", "on", "in", "not", "your", "you", "are",
        "do", "i", "what", "how", "up", "after", "into", "have"}


def load(path: str, role: str) -> list[tuple[str, str | None]]:
    """(text, intent or None for out of scope) pairs of a file's splits for a role (train | test)."""
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            return [(r["text"], r["category"]) for r in csv.DictReader(f)]
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    # Testing reads the "test" splits when the file has them (test, oos_test), else the "val" ones.
    wanted = "train" if role == "train" else ("test" if any("test" in split for split in data) else "val")
    rows: list[tuple[str, str | None]] = []
    for split, pairs in sorted(data.items()):
        if wanted in split:
            rows += [(t, None if split.startswith("oos") else i) for t, i in pairs]
    if not rows:
        raise SystemExit(f"{path}: no {wanted!r} split (splits: {', '.join(sorted(data))})")
    return rows


def held_out(text: str, share: float) -> bool:
    """Whether a text belongs to the held-out share (stable across runs)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big") / 2**32 < share


def scenario_id(intent: str) -> str:
    """An intent name as a scenario id."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", intent)[:64]


def template(intents: list[str], start: str) -> dict:
    """The starting template: one scenario per intent, keywords from the intent's name only."""
    scenarios = []
    for intent in intents:
        words = [w for w in re.split(r"[_\W]+", intent.lower()) if w]
        keywords = [" ".join(words)] if start == "phrase" else ([w for w in words if w not in STOP] or words)
        scenarios.append({"id": scenario_id(intent), "name": " ".join(words)[:200], "keywords": keywords,
                          "replies": [f"I can help with that: {' '.join(words)}."]})
    return {"id": "eval", "name": "Evaluation", "scenarios": scenarios}


def build_app(data_dir: str, intents: list[str], start: str):
    """The real app on its own store, with two companies on one template (training line, test line)."""
    from app import create_app

    app = create_app({"DATA_DIR": data_dir, "REDIS_URL": "", "MONGODB_URI": "", "TWILIO_AUTH_TOKEN": TOKEN,
                      "VALIDATE_TWILIO_SIGNATURE": True, "SEED_DEMO": False, "ADMIN_TOKEN": "x",
                      "LEARNING_BATCH_S": 0, "LEARNING_RUN_S": 0})
    logging.disable(logging.ERROR)  # the Tier 3 spike alert fires all along: the starting template is weak
    catalog = app.extensions["catalog"]
    catalog.templates.put(template(intents, start), by="eval")
    for cid, number in (("eval-train", TRAIN_NUMBER), ("eval-test", TEST_NUMBER)):
        catalog.put_company({"id": cid, "name": "Eval Co", "numbers": [number], "timezone": "UTC", "trade": "Eval",
                             "scenarioTemplate": "eval", "cheatSheet": {"guardrails": []}})
        version = catalog.policies.compile_latest(cid, owner="eval")["version"]
        catalog.policies.activate(cid, version)
    return app


def replay(app, rows, number: str, tag: str) -> list[dict]:
    """Each utterance as one call; the turn records of the caller turns, in order."""
    from voice.simulator import CallSimulator, flask_transport

    transport = flask_transport(app.test_client())
    turns = app.extensions["docstore"]["turns"]
    out = []
    for n, (text, _) in enumerate(rows):
        sid = "CA" + hashlib.blake2b(f"{tag}:{number}:{n}:{text}".encode(), digest_size=16).hexdigest()
        CallSimulator(transport, auth_token=TOKEN, to=number, call_sid=sid).run([text])
        out.append(turns.find_one({"_id": f"{sid}:00001"}) or {})
    return out


def score(records: list[dict], rows) -> dict:
    """Fallback share, answered accuracy, overall accuracy, out of scope answered."""
    ins = [(r, i) for r, (_, i) in zip(records, rows) if i is not None]
    oos = [r for r, (_, i) in zip(records, rows) if i is None]
    answered = [(r, i) for r, i in ins if r.get("tier") in ("1", "2")]
    right = sum(r.get("scenario") == scenario_id(i) for r, i in answered)
    return {"fallback": 1 - len(answered) / max(1, len(ins)), "answered_acc": right / max(1, len(answered)),
            "overall_acc": right / max(1, len(ins)),
            "oos_answered": (sum(r.get("tier") in ("1", "2") for r in oos) / len(oos)) if oos else None}


def staff(app, labels: dict[str, str | None], log: list | None = None) -> tuple[int, int, int]:
    """Simulated staff decide every pending suggestion; returns (made, approved, rejected). Each decision is
    appended to ``log`` (kind, scenario, the shown examples' intents, approved) when given."""
    store, decisions = app.extensions["learning"].store, app.extensions["learning_decisions"]
    made = approved = rejected = 0
    for s in store.suggestions.find({"company_id": "eval-train", "status": "pending"}):
        made += 1
        items = {i["text"]: labels.get(i["call_sid"]) for i in store.items.find({"suggestion": s["_id"]})}
        shown = [items.get(e) for e in s["examples"][:10]]
        ok = (s["queue"] == "scenario" and s["kind"] == "add_to_scenario"
              and sum(1 for lab in shown if lab is not None and scenario_id(lab) == s["scenario"]) * 2 > len(shown))
        if ok:
            decisions.approve(s["_id"], by="eval-staff")
            approved += 1
        else:
            decisions.reject(s["_id"], by="eval-staff", note="examples do not carry the proposed intent")
            rejected += 1
        if log is not None:
            log.append({"kind": s["kind"], "scenario": s.get("scenario"), "stray": s.get("stray"), "approved": ok,
                        "shown": [lab for lab in shown], "examples": s["examples"][:10], "proposed": (s.get("change") or {}).get("examples", []),
                        "proposed_intents": [items.get(e) for e in (s.get("change") or {}).get("examples", [])]})
    return made, approved, rejected


def settle(app) -> None:
    """Serve the template as approved: a large one trains its Tier 2 classifier in the background while the
    previous version answers; the evaluation waits for it, as a line does for a few seconds after a change."""
    templates = app.extensions["catalog"].templates
    templates._cache.clear()
    templates.get("eval")
    templates.settle()


def baseline(train, test) -> dict:
    """TF-IDF + logistic regression on the same training utterances (out of scope as its own class)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                          LogisticRegression(max_iter=1000, C=10.0))
    model.fit([t for t, _ in train], [i or "__oos__" for _, i in train])
    pred = model.predict([t for t, _ in test])
    ins = [(p, i) for p, (_, i) in zip(pred, test) if i is not None]
    oos = [p for p, (_, i) in zip(pred, test) if i is None]
    answered = [(p, i) for p, i in ins if p != "__oos__"]
    right = sum(p == i for p, i in answered)
    return {"fallback": 1 - len(answered) / max(1, len(ins)), "answered_acc": right / max(1, len(answered)),
            "overall_acc": right / max(1, len(ins)),
            "oos_answered": (sum(p != "__oos__" for p in oos) / len(oos)) if oos else None}


def show(name: str, m: dict) -> str:
    oos = "n/a" if m["oos_answered"] is None else f"{m['oos_answered']:.1%}"
    return (f"{name:<34} {m['fallback']:>9.1%} {m['answered_acc']:>12.1%} {m['overall_acc']:>10.1%} {oos:>10}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", default=None)
    ap.add_argument("--holdout", type=float, default=0.0, help="hold out this share of --train as the test set")
    ap.add_argument("--rounds", type=int, default=4, help="weeks of calls, each followed by staff review")
    ap.add_argument("--start", choices=("phrase", "words"), default="phrase")
    ap.add_argument("--limit", type=int, default=0, help="use at most this many training utterances (a quick run)")
    ap.add_argument("--intents", type=float, default=0.0,
                    help="keep only this share of the intents (a quick run; by a stable hash of the name's first word, "
                    "so intents named alike stay together)")
    ap.add_argument("--dump", default=None, help="write every test turn (text, intent, tier, scenario, confidence) "
                    "before and after learning to this JSON file, and beside it the learned template (FILE.template.json), every "
                    "staff decision (FILE.suggestions.json) and where the training turns ended in the scenario queue "
                    "(FILE.items.json)")
    args = ap.parse_args()
    if not args.test and not args.holdout:
        ap.error("give --test FILE, or --holdout SHARE to hold out part of --train")
    train = load(args.train, "train")
    if args.holdout:
        test = [r for r in train if held_out(r[0], args.holdout)]
        train = [r for r in train if not held_out(r[0], args.holdout)]
    else:
        test = load(args.test, "test")
    if args.intents:
        def kept(intent: str | None) -> bool:
            return intent is None or held_out(re.split(r"[_\W]+", intent.lower())[0], args.intents)
        train, test = [r for r in train if kept(r[1])], [r for r in test if kept(r[1])]
    if args.limit:
        train = train[:args.limit]
    intents = sorted({i for _, i in train + test if i is not None})
    started = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="learning-eval-")
    app = build_app(os.path.join(tmp, "data"), intents, args.start)
    before_records = replay(app, test, TEST_NUMBER, "before")
    before = score(before_records, test)
    totals = [0, 0, 0]
    order = sorted(range(len(train)), key=lambda n: hashlib.blake2b(train[n][0].encode(), digest_size=4).digest())
    week = max(1, -(-len(train) // args.rounds))
    feed, learning = app.extensions["learning_feed"], app.extensions["learning"]
    labels: dict[str, str | None] = {}
    decided: list[dict] = []
    for r in range(args.rounds):
        rows = [train[n] for n in order[r * week:(r + 1) * week]]
        records = replay(app, rows, TRAIN_NUMBER, f"week{r}")
        # Staff read every example a suggestion shows, including turns from earlier weeks still in the queue.
        labels.update({rec.get("call_sid"): i for rec, (_, i) in zip(records, rows)})
        feed.drain()
        learning.run("eval-train", now=time.time())
        made = staff(app, labels, decided)
        settle(app)
        totals = [a + b for a, b in zip(totals, made)]
        print(f"week {r + 1}: {len(rows)} calls, suggestions made {made[0]}, approved {made[1]}, rejected {made[2]}",
              file=sys.stderr, flush=True)
    settle(app)
    after_records = replay(app, test, TEST_NUMBER, "after")
    after = score(after_records, test)
    if args.dump:
        keep = ("tier", "scenario", "confidence", "matched")
        Path(args.dump).write_text(json.dumps([
            {"text": t, "intent": i, "before": {k: b.get(k) for k in keep}, "after": {k: a.get(k) for k in keep}}
            for (t, i), b, a in zip(test, before_records, after_records)], indent=0), encoding="utf-8")
        learned = app.extensions["catalog"].templates.current("eval")[0]
        Path(args.dump + ".suggestions.json").write_text(json.dumps(decided, indent=0), encoding="utf-8")
        Path(args.dump + ".template.json").write_text(json.dumps(learned, indent=0, default=str), encoding="utf-8")
        # Where the training turns ended in the scenario queue (pending, suggested, approved, rejected), with labels.
        Path(args.dump + ".items.json").write_text(json.dumps([
            {"text": i["text"], "intent": labels.get(i["call_sid"]), "status": i["status"], "reason": i["reason"],
             "tier": i.get("tier"), "scenario": i.get("scenario"), "refused": i.get("refused") or []}
            for i in learning.store.items.find({"company_id": "eval-train", "queue": "scenario"})], indent=0),
            encoding="utf-8")
    elapsed = time.perf_counter() - started
    base = baseline(train, test)
    print(f"train {args.train} ({len(train)} utterances, {len(intents)} intents), test "
          f"{'held out ' + str(args.holdout) if args.holdout else args.test} ({len(test)} utterances, "
          f"{sum(1 for _, i in test if i is None)} out of scope); start keywords: {args.start}")
    print(f"{'':<34} {'T3/fallbk':>9} {'answered acc':>12} {'overall':>10} {'OOS answ.':>10}")
    print(show("before learning", before))
    print(show("after learning", after))
    print(show("TF-IDF + logistic regression", base))
    drop = 1 - after["fallback"] / before["fallback"] if before["fallback"] else 0.0
    print(f"suggestions made {totals[0]}, approved {totals[1]}, rejected {totals[2]}; time {elapsed:.0f} s")
    oos_ok = after["oos_answered"] is None or after["oos_answered"] <= 0.10
    print(f"targets: fallback share down {drop:.0%} (>= 60%: {'met' if drop >= 0.6 else 'NOT met'}); answered "
          f"accuracy {after['answered_acc']:.1%} (>= 90% and >= before: "
          f"{'met' if after['answered_acc'] >= max(0.9, before['answered_acc']) else 'NOT met'}); out of scope "
          f"answered <= 10%: {'met' if oos_ok else 'NOT met'}")


if __name__ == "__main__":
    main()
