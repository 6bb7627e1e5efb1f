"""Network learning, demonstrated: five opt-in companies of one trade, personal data planted in their callers'
words; prints what reaches template admins, and checks nothing planted left a company.

Run:  .venv/bin/python bench/learning_network.py [--data ../shared/data/clinc150/train_val.json]

Each company gets its own slice of the utterances of a few intents (some intents at all five
companies, some at two only), with names, phone numbers, emails, card numbers and street
addresses planted in a third of them. Turns enter through learning's feed as unanswered caller
turns; each company's learning run makes suggestions; the network run pools them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PLANTED = ["my name is Zebulon Quixworth", "call me at 512 555 0177", "email zq.private@example.org",
           "card 4111 1111 1111 1111", "I live at 4821 Pemberly Hollow Lane"]
SECRETS = ["Zebulon", "Quixworth", "0177", "zq.private", "4111", "Pemberly"]
EVERYWHERE = ["freeze_account", "report_lost_card", "pin_change"]   # at all five companies
TWO_ONLY = ["rewards_balance"]                                       # at two companies only


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/clinc150/train_val.json"))
    args = ap.parse_args()
    from app import create_app

    pairs = json.loads(Path(args.data).read_text(encoding="utf-8"))["train"]
    by_intent: dict[str, list[str]] = {}
    for text, intent in pairs:
        by_intent.setdefault(intent, []).append(text)
    app = create_app({"DATA_DIR": os.path.join(tempfile.mkdtemp(prefix="learning-net-"), "data"), "REDIS_URL": "",
                      "MONGODB_URI": "", "SEED_DEMO": False, "LEARNING_BATCH_S": 0, "LEARNING_RUN_S": 0})
    logging.disable(logging.ERROR)
    catalog, feed, learning = (app.extensions[k] for k in ("catalog", "learning_feed", "learning"))
    catalog.templates.put({"id": "bank", "name": "Banking", "scenarios": [
        {"id": i, "name": i.replace("_", " "), "keywords": [i.replace("_", " ")], "replies": ["I can help."]}
        for i in EVERYWHERE + TWO_ONLY]})
    n = 0
    for c in range(5):
        cid = f"bank-{c}"
        catalog.put_company({"id": cid, "name": f"Bank {c}", "numbers": [f"+1555020000{c}"], "timezone": "UTC",
                             "trade": "Banking", "scenarioTemplate": "bank", "networkLearning": True})
        intents = EVERYWHERE + (TWO_ONLY if c < 2 else [])
        for intent in intents:
            for k, text in enumerate(by_intent[intent][c * 20:(c + 1) * 20]):
                if k % 3 == 0:
                    text = f"{text}, {PLANTED[(k + c) % len(PLANTED)]}"
                n += 1
                feed.turn({"kind": "turn", "company_id": cid, "call_sid": f"CA{n:032d}", "seq": 1, "at": float(n),
                           "caller": {"text": text}, "tier": "fallback", "base_used": True, "confidence": 0.0})
        feed.drain()
        made = learning.run(cid, now=1.0)["suggestions"]["scenario"]
        print(f"{cid}: {len(intents)} intents, {made} suggestion(s)")
    result = learning.run_network("Banking", now=2.0)
    docs = learning.store.list_network({"trade": "Banking"})
    print(f"network: {result['companies']} opt-in companies, {len(docs)} network suggestion(s)")
    for d in docs:
        print(f"  {d['scenario'] or d['key']}: {d['companies']} companies, coherence {d['coherence']:.2f}, "
              f"quality {d['quality']:.2f}, keywords {d['keywords']}, e.g. {d['examples'][:2]}")
    text = json.dumps(docs, default=str)
    leaked = [s for s in SECRETS if s.lower() in text.lower()]
    local = " ".join(i["text"] for i in learning.store.items.find({}))
    print(f"planted personal data in the companies' own queues after scrubbing: "
          f"{[s for s in SECRETS if s.lower() in local.lower()] or 'none'}")
    print(f"planted personal data in network suggestions: {leaked or 'none'}")
    print(f"every network suggestion has >= 3 companies: {all(d['companies'] >= 3 for d in docs)}; "
          f"intents at two companies surfaced: {[d['scenario'] for d in docs if d['scenario'] in TWO_ONLY] or 'none'}")


if __name__ == "__main__":
    main()
