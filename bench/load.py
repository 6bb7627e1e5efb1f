"""Load benchmark: concurrent simulated calls against gunicorn on loopback, with one fault injected mid-run.

Run:  .venv/bin/python bench/load.py [--calls 300] [--concurrency 8] [--workers 4] [--fault NAME ...]

Starts its own redis-server and gunicorn (embedded document store in a temporary
directory, the demo company seeded), then plays ``--calls`` calls from ``--concurrency``
threads: every request signed like Twilio signs it, a greeting plus several caller turns
with realistic utterances (scenario questions, edge cases, silence, transfers with their
Dial result). It reports calls completed, turns answered, errors, P50/P99 request latency,
and afterwards checks the call log: every answered turn recorded exactly once, in order,
every call's stored session at its last answered turn (none rolled back), and no caller
hearing the error apology. A request that gets no answer (its worker was killed) is sent
again with the same idempotency token, as Twilio retries.
Faults (``--fault``, each its own run; at 30% of the calls, undone at 60%):
  kill-redis      Redis killed, then restarted
  freeze-redis    Redis stopped with SIGSTOP (it accepts connections and never answers), then SIGCONT
  unwritable      the embedded store's file and its WAL made immutable (chattr +i), then writable
  kill-worker     a gunicorn worker killed with SIGKILL every 10% of the calls (the master starts another)
Targets: 0 errors, 0 lost turns, 0 rolled back, 0 apologies under any single fault.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import signal  # noqa: E402

import requests  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

TOKEN = "load-auth-token"
SCRIPTS = [
    ["what time do you close today", "do you have a maintenance plan", "are you a robot", "thanks that's all"],
    ["hi there", "", "how much is a service call", "can I get a discount on a new unit"],
    ["my thermostat screen is blank", "when r you guys open", "do you guys do financing", "ok thanks"],
    ["there's water everywhere in the basement"],                      # emergency transfer -> Dial
    ["I have a question about my bill", "my name is Jane Doe", "five one two five five five zero one nine nine"],
    ["my ac is blowing warm air", "is my technician still coming today", "", "that's all"],
]


FAULTS = ["none", "kill-redis", "freeze-redis", "unwritable", "kill-worker"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """The benchmark's own redis-server (killable)."""

    def __init__(self, directory: str) -> None:
        self.dir, self.port, self.proc = directory, free_port(), None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(self.port),
                                      "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        for _ in range(200):
            try:
                redis.Redis(port=self.port, socket_timeout=0.2).ping()
                return
            except redis.RedisError:
                time.sleep(0.02)

    def kill(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def signal(self, sig: int) -> None:
        if self.proc:
            self.proc.send_signal(sig)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.answered: dict[str, int] = {}
        self.completed = 0
        self.apologies = 0
        self.retries = 0


def play(base: str, sid: str, script: list[str], stats: Stats, session: requests.Session) -> None:
    """One call: greeting, turns until the app hangs up or dials, Dial result, status callback."""
    validator = RequestValidator(TOKEN)
    common = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": f"+1512555{int(sid[-4:], 16) % 10000:04d}",
              "To": "+15125550100", "Direction": "inbound", "CallStatus": "in-progress", "ApiVersion": "2010-04-01",
              "FromCity": "AUSTIN", "FromState": "TX", "FromCountry": "US", "ToCountry": "US"}

    def post(path: str, extra: dict[str, str]) -> ET.Element | None:
        data = {**common, **extra}
        url = base + path
        headers = {"X-Twilio-Signature": validator.compute_signature(url, data),
                   "I-Twilio-Idempotency-Token": f"{sid}:{path}"}
        started = time.perf_counter()
        for attempt in range(3):
            try:
                r = session.post(url, data=data, headers=headers, timeout=15)
                break
            except requests.RequestException as exc:
                if attempt == 2:
                    with stats.lock:
                        stats.errors.append(f"{path}: {exc.__class__.__name__}")
                    return None
                with stats.lock:
                    stats.retries += 1
                time.sleep(0.3)  # the worker died: Twilio's retry of the same request
        elapsed = (time.perf_counter() - started) * 1000
        if "problem on our end" in r.text:
            with stats.lock:
                stats.apologies += 1
        with stats.lock:
            stats.latencies.append(elapsed)
        if r.status_code != 200:
            with stats.lock:
                stats.errors.append(f"{path}: HTTP {r.status_code}")
            return None
        try:
            return ET.fromstring(r.text)
        except ET.ParseError:
            with stats.lock:
                stats.errors.append(f"{path}: invalid TwiML")
            return None

    root = post("/voice", {"CallStatus": "ringing"})
    answered = 1 if root is not None else 0
    seq = 0
    for words in script:
        if root is None or root.find("./Gather") is None:
            break
        seq += 1
        root = post(f"/voice/turn?seq={seq}", {"SpeechResult": words, "Confidence": "0.9"} if words else {})
        answered += root is not None
    if root is not None and (root.find("./Dial") is not None or root.find("./Enqueue") is not None):
        seq += 1
        dial = root.find("./Dial") if root.find("./Dial") is not None else root.find("./Enqueue")
        path = dial.get("action")
        root = post(path, {"DialCallStatus": "completed", "QueueResult": "bridged"})
        answered += root is not None
    post("/voice/status", {"CallStatus": "completed", "CallDuration": "30"})
    with stats.lock:
        stats.answered[sid] = answered
        stats.completed += 1


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def _chattr(flag: str, data: str) -> None:
    for name in ("voiceagent.sqlite3", "voiceagent.sqlite3-wal"):
        subprocess.run(["chattr", flag, os.path.join(data, name)], check=False, capture_output=True)


def _kill_a_worker(master: subprocess.Popen) -> None:
    out = subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True).stdout.split()
    if out:
        os.kill(int(out[0]), signal.SIGKILL)


def inject(fault: str, when: str, redis: Redis, data: str, master: subprocess.Popen) -> None:
    """Start (``when="on"``) or end (``"off"``) one fault."""
    if fault == "kill-redis":
        redis.kill() if when == "on" else redis.start()
    elif fault == "freeze-redis":
        redis.signal(signal.SIGSTOP if when == "on" else signal.SIGCONT)
    elif fault == "unwritable":
        _chattr("+i" if when == "on" else "-i", data)
    elif fault == "kill-worker" and when == "tick":
        _kill_a_worker(master)


def _children(pids: list[str]) -> list[str]:
    return [c for pid in pids for c in subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()]


def cpu_seconds(master: subprocess.Popen, *, learning: bool = False) -> float:
    """User + system CPU of the master's worker processes so far (Linux /proc); with ``learning``, of the workers'
    own children instead (learning's processes)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = _children([str(master.pid)])
    for pid in (_children(pids) if learning else pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def run(args: argparse.Namespace, fault: str, target: str = "app:app") -> dict[str, object]:
    tmp = tempfile.mkdtemp(prefix="bench-load-")
    redis = Redis(tmp)
    redis.start()
    data = os.path.join(tmp, "data")
    env = {**os.environ, "DATA_DIR": data, "REDIS_URL": redis.url, "MONGODB_URI": "", "TWILIO_AUTH_TOKEN": TOKEN,
           "ADMIN_TOKEN": "x", "VALIDATE_TWILIO_SIGNATURE": "true", "WEB_CONCURRENCY": str(args.workers),
           "PUBLIC_BASE_URL": "", "TRUSTED_PROXY_HOPS": "0"}
    subprocess.run([sys.executable, "-c", "import app; app.create_app()"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # seed the demo once
    port = free_port()
    gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind",
                                 f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "--log-level", "critical",
                                 target], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        stats = Stats()
        local = threading.local()

        def one(n: int) -> None:
            if time.monotonic() - started > args.max_seconds:
                return
            if n == int(args.calls * 0.3):
                inject(fault, "on", redis, data, gunicorn)
            if n == int(args.calls * 0.6):
                inject(fault, "off", redis, data, gunicorn)
            if n and n % max(1, args.calls // 10) == 0:
                inject(fault, "tick", redis, data, gunicorn)
            sess = getattr(local, "s", None) or requests.Session()
            local.s = sess
            play(base, f"CA{n:032x}", SCRIPTS[n % len(SCRIPTS)], stats, sess)

        # /readyz is answered by the first worker up; the others may still be importing and warming their
        # caches. Wait until the workers are idle, so start-up CPU is not counted as the cost of requests.
        settle = time.monotonic()
        while time.monotonic() - settle < 30:
            before = cpu_seconds(gunicorn)
            time.sleep(0.5)
            if cpu_seconds(gunicorn) - before < 0.02:
                break
        cpu_before, learning_before = cpu_seconds(gunicorn), cpu_seconds(gunicorn, learning=True)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(one, range(args.calls)))
        wall = time.monotonic() - started
        cpu = cpu_seconds(gunicorn) - cpu_before
        if args.cpu:
            time.sleep(3.0)  # the last batch reaches learning's processes
            learning_cpu = cpu_seconds(gunicorn, learning=True) - learning_before
            return {"turns": len(stats.latencies), "cpu": cpu, "rps": len(stats.latencies) / wall,
                    "learning_cpu": learning_cpu}
        # Every answered turn must be in the call log once, in order (queued writes drain first).
        from records.docstore import EmbeddedClient

        inject(fault, "off", redis, data, gunicorn)
        time.sleep(3.0)  # queued writes drain
        db = EmbeddedClient(data)["voiceagent"]
        # What a killed worker answered is in its journal file until a live process replays it (its sweep every few
        # seconds, or any read that needs every answered turn): replay it here, as that read would, before counting.
        from records.journal import Journal
        from records.writer import DurableWriter
        replayed = DurableWriter(db, None, journal=Journal(os.path.join(data, "journal"))).recover()
        lost = dupes = rolled_back = 0
        for sid, answered in stats.answered.items():
            seqs = [t["seq"] for t in db["turns"].find({"call_sid": sid}, sort=[("seq", 1)])]
            dupes += len(seqs) - len(set(seqs))
            lost += max(0, answered - len(set(seqs)))
            header = db["calls"].find_one({"_id": sid}) or {}
            if answered and (header.get("session") or {}).get("seq", -1) < max(seqs, default=-1):
                rolled_back += 1
        return {"calls": stats.completed, "turns": len(stats.latencies), "errors": len(stats.errors),
                "error_kinds": sorted(set(stats.errors))[:5], "lost": lost, "dupes": dupes,
                "rolled_back": rolled_back, "apologies": stats.apologies, "retries": stats.retries, "replayed": replayed,
                "p50": statistics.median(stats.latencies) if stats.latencies else float("nan"),
                "p99": pct(stats.latencies, 0.99), "rps": len(stats.latencies) / wall, "wall": wall, "cpu": cpu}
    finally:
        inject(fault, "off", redis, data, gunicorn)
        gunicorn.terminate()
        gunicorn.wait(15)
        redis.signal(signal.SIGCONT)
        redis.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--fault", action="append", choices=FAULTS, help="a fault to run (repeatable; default: all)")
    ap.add_argument("--cpu", action="store_true",
                    help="only worker CPU per request, the app against bench/bare_app.py (the floor)")
    args = ap.parse_args()
    if args.cpu:
        app_run, bare_run = run(args, "none"), run(args, "none", target="bench.bare_app:app")
        per = {name: r["cpu"] / max(1, r["turns"]) * 1000 for name, r in (("app", app_run), ("bare", bare_run))}
        print(f"gunicorn sync x{args.workers}, {args.concurrency} concurrent callers, {args.calls} calls")
        print(f"worker CPU per request: app {per['app']:.2f} ms ({app_run['rps']:.0f} req/s), bare floor "
              f"{per['bare']:.2f} ms ({bare_run['rps']:.0f} req/s): ratio {per['app'] / per['bare']:.2f}x "
              f"(target at most 1.6x)")
        print(f"learning's own processes (started by the workers; their start-up included): "
              f"{app_run['learning_cpu'] / max(1, app_run['turns']) * 1000:.2f} ms per request more")
        return
    print(f"gunicorn sync x{args.workers} on loopback, {args.concurrency} concurrent callers, {args.calls} calls")
    print(f"{'fault':<14} {'calls':>6} {'requests':>8} {'req/s':>7} {'errors':>6} {'lost':>5} {'dupes':>5} "
          f"{'rolled':>6} {'apology':>7} {'retries':>7} {'P50 ms':>7} {'P99 ms':>7}")
    for fault in args.fault or FAULTS:
        r = run(args, fault)
        print(f"{fault:<14} {r['calls']:>6} {r['turns']:>8} {r['rps']:>7.0f} {r['errors']:>6} {r['lost']:>5} "
              f"{r['dupes']:>5} {r['rolled_back']:>6} {r['apologies']:>7} {r['retries']:>7} {r['p50']:>7.2f} "
              f"{r['p99']:>7.2f}")
        if r["error_kinds"]:
            print(f"  errors: {r['error_kinds']}")
        if r["replayed"]:
            print(f"  {r['replayed']} turn write group(s) replayed from a stopped worker's journal before counting")


if __name__ == "__main__":
    main()
