"""Console benchmark: how long each staff page takes the server as a company's day fills up.

Run:  .venv/bin/python bench/console.py [--calls 300 1500] [--repeat 20]

For each size, a fresh app on the embedded store gets that many calls today for the demo company
(four caller turns each, through the real webhooks in-process), then each console page is asked
``--repeat`` times through the WSGI app with a signed-in session. Figures are P50 and P95 in ms, and
each page's P50 as a ratio of the admin API's ``GET /admin/companies/<id>`` measured in the same run
(the floor: auth, one record, JSON).
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import ADMIN, make_app  # noqa: E402
from tests.twilio_helpers import call  # noqa: E402

WORDS = ("what are your hours", "my furnace is making a noise", "can I book an appointment", "thanks, bye")
PAGES = ("/console/companies/demo-hvac/", "/console/companies/demo-hvac/calls",
         "/console/companies/demo-hvac/cheatsheet", "/console/companies/demo-hvac/learning")


def timed(fn, repeat: int) -> tuple[float, float]:
    """P50 and P95 of ``repeat`` calls, in ms."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def run(calls: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp) / "data", LEARNING_BATCH_S=0, LEARNING_RUN_S=0, TESTING=False)
        for _ in range(calls):
            call(app, *WORDS)
        client = app.test_client()
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/signin").text).group(1)
        client.post("/console/signin", data={"token": ADMIN, "csrf": csrf})
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/companies/demo-hvac/").text).group(1)
        sid = re.search(r"/calls/(CA\w+)", client.get(PAGES[1]).text).group(1)
        floor, _ = timed(lambda: client.get("/admin/companies/demo-hvac",
                                            headers={"Authorization": f"Bearer {ADMIN}"}), repeat)
        print(f"\n{calls} calls today ({calls * 5} turns); floor GET /admin/companies/demo-hvac P50 {floor:.2f} ms")
        rows = [(p.split("demo-hvac")[1] or "/", lambda p=p: client.get(p)) for p in PAGES]
        rows.append((f"/calls/{sid}", lambda: client.get(f"/console/companies/demo-hvac/calls/{sid}")))
        rows.append(("/test-call (4 turns)", lambda: client.post(
            "/console/companies/demo-hvac/test-call",
            data={"csrf": csrf, "policy": "active", "said": list(WORDS[:3]), "say": WORDS[3]})))
        for name, fn in rows:
            p50, p95 = timed(fn, repeat)
            print(f"  {name:<22} P50 {p50:8.2f} ms  P95 {p95:8.2f} ms  {p50 / floor:6.1f}x the floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[300, 1500])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    for calls in args.calls:
        run(calls, args.repeat)


if __name__ == "__main__":
    main()
