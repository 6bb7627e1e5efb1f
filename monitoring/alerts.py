"""The five alerts of SPEC section 11, evaluated by the app over rolling windows shared by all workers.

Every worker adds its counts to per-minute Redis hashes (``aw:<minute>``), and keeps a local
copy for when Redis itself is down. One evaluator at a time (a Redis lock) reads the
windows, opens an alert record when a rule fires and closes it when it clears, and posts
both to ``ALERT_WEBHOOK_URL``. Alert records share the ``alerts`` collection with the call
log's critical edge-case events (``type: CRITICAL_EDGE_CASE``, state ``event``).

| alert | window | fires when |
|---|---|---|
| TIER3_SPIKE | 15 min | turns that asked Tier 3 (the LLM) > 8% of turns (at least 20 turns) |
| CHEATSHEET_PERF_FAULT | 5 min | engine P99 > 10 ms (at least 20 turns) |
| POLICY_COMPILE_FAILED | 10 min | compile success < 95% (at least 3 attempts) |
| CANARY_REGRESSION | 10 min | a rollout was rolled back automatically, or canary turns' errors are a regression against the active policy's (control and full) by ``policy.judgement.judge``, 100+ turns per arm |
| REDIS_DOWN | 5 min | Redis hit rate (successful calls / calls) < 50% (at least 5 calls) |
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import defaultdict
from typing import Any, Callable, Mapping

import requests
from pymongo.errors import DuplicateKeyError, PyMongoError

from policy.judgement import arm_error, two_proportion_p
from records.calllog import ALERTS
from records.locks import Locks

from .canary import canary_regression

log = logging.getLogger(__name__)

LAT_BUCKETS_MS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, math.inf)
RULES = {"TIER3_SPIKE": 15, "CHEATSHEET_PERF_FAULT": 5, "POLICY_COMPILE_FAILED": 10, "CANARY_REGRESSION": 10,
         "REDIS_DOWN": 5}
KEEP_MINUTES = 20
#: An alert stays open at least this long (rules that hover at their threshold do not flap).
MIN_FIRING_S = 60.0


class RedisShare:
    """Per-minute counts in Redis hashes (``aw:<minute>``), expiring after KEEP_MINUTES."""

    name = "redis"

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    def push(self, pending: Mapping[int, Mapping[str, float]]) -> None:
        """Add counts to the shared minutes, in one round trip (raises when Redis fails)."""
        def build(pipe: Any) -> None:
            for minute, counts in pending.items():
                for k, n in counts.items():
                    pipe.hincrbyfloat(f"aw:{minute}", k, n)
                pipe.expire(f"aw:{minute}", KEEP_MINUTES * 60)
        self.redis.pipelined(build)

    def read(self, span: range) -> list[Mapping[str, Any]]:
        """The shared counts of each minute in ``span``."""
        hashes = self.redis.pipelined(lambda pipe: [pipe.hgetall(f"aw:{m}") for m in span])
        return [{(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in h.items()} for h in hashes]


class StoreShare:
    """Per-minute counts in the document store (``alert_windows``), when there is no Redis to share them."""

    name = "docstore"

    def __init__(self, coll: Any) -> None:
        self.coll = coll

    @staticmethod
    def _field(key: str) -> str:
        return key.replace(".", "_")  # a document's field names cannot hold dots ("lat|0.05")

    def push(self, pending: Mapping[int, Mapping[str, float]]) -> None:
        """Add counts to the shared minutes, one update per minute (raises when the store fails)."""
        for minute, counts in pending.items():
            self.coll.update_one({"_id": minute}, {"$inc": {self._field(k): n for k, n in counts.items()}},
                                 upsert=True)

    def read(self, span: range) -> list[Mapping[str, Any]]:
        """The shared counts of each minute in ``span``."""
        docs = self.coll.find({"_id": {"$gte": span.start, "$lt": span.stop}})
        return [{k.replace("_", "."): v for k, v in d.items() if k != "_id"} for d in docs]


class Windows:
    """Per-minute counters shared by every worker (through Redis, else the document store), with this
    process's own copy as a fallback.

    ``add`` only touches memory (it runs on the request path); ``flush`` pushes the pending
    deltas to the shared copy (the background thread calls it every second).
    """

    def __init__(self, share: RedisShare | StoreShare | None, clock: Callable[[], float]) -> None:
        self.share = share
        self.clock = clock
        self.local: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.pending: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._lock = threading.Lock()

    def add(self, counts: Mapping[str, float]) -> None:
        """Add counts to the current minute (memory only; never raises)."""
        minute = int(self.clock() // 60)
        with self._lock:
            for target in (self.local[minute], self.pending[minute]):
                for k, n in counts.items():
                    target[k] += n
            for store in (self.local, self.pending):  # bounded even through a long outage
                for old in [m for m in store if m < minute - KEEP_MINUTES]:
                    del store[old]

    def flush(self) -> bool:
        """Push pending counts to the shared copy; they stay pending if it is down."""
        if self.share is None:
            return False
        with self._lock:
            pending, self.pending = self.pending, defaultdict(lambda: defaultdict(float))
        if not pending:
            return True
        try:
            self.share.push(pending)
            return True
        except Exception as exc:  # noqa: BLE001
            log.debug("alert windows not shared: %s", exc)
            with self._lock:
                for minute, counts in pending.items():
                    for k, n in counts.items():
                        self.pending[minute][k] += n
            return False

    def totals(self, minutes: int) -> tuple[dict[str, float], str]:
        """Counts over the last ``minutes`` minutes (this one included), and where they came from."""
        now = int(self.clock() // 60)
        span = range(now - minutes + 1, now + 1)
        if self.flush():
            try:
                out: dict[str, float] = defaultdict(float)
                for counts in self.share.read(span):  # type: ignore[union-attr]
                    for k, v in counts.items():
                        out[k] += float(v)
                return dict(out), self.share.name  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001 - the shared copy is down: this process's own view
                pass
        out = defaultdict(float)
        with self._lock:
            for m in span:
                for k, v in self.local.get(m, {}).items():
                    out[k] += v
        return dict(out), "local"


def p99_ms(counts: Mapping[str, float]) -> tuple[float, int]:
    """An upper bound of the engine's P99 from the latency buckets, and the sample size."""
    hist = [(b, counts.get(f"lat|{b}", 0.0)) for b in LAT_BUCKETS_MS]
    n = int(sum(c for _, c in hist))
    if n == 0:
        return 0.0, 0
    need, seen = 0.99 * n, 0.0
    for bound, c in hist:
        seen += c
        if seen >= need:
            return bound, n
    return math.inf, n


def evaluate_rules(w: Callable[[int], dict[str, float]]) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Each alert: whether it fires now, and the figures behind the answer (pure over the windows)."""
    out: dict[str, tuple[bool, dict[str, Any]]] = {}
    c = w(RULES["TIER3_SPIKE"])
    turns, t3 = c.get("turns", 0.0), c.get("tier3", 0.0)
    ratio = t3 / turns if turns else 0.0
    out["TIER3_SPIKE"] = (turns >= 20 and ratio > 0.08,
                          {"turns": turns, "tier3_turns": t3, "ratio": round(ratio, 4), "threshold": 0.08})
    c = w(RULES["CHEATSHEET_PERF_FAULT"])
    p99, n = p99_ms(c)
    out["CHEATSHEET_PERF_FAULT"] = (n >= 20 and p99 > 10.0,
                                    {"engine_p99_ms_upper_bound": p99 if p99 != math.inf else "inf", "turns": n,
                                     "threshold_ms": 10.0})
    c = w(RULES["POLICY_COMPILE_FAILED"])
    ok, bad = c.get("compile_ok", 0.0), c.get("compile_fail", 0.0)
    rate = ok / (ok + bad) if ok + bad else 1.0
    out["POLICY_COMPILE_FAILED"] = (ok + bad >= 3 and rate < 0.95,
                                    {"attempts": ok + bad, "failures": bad, "success_rate": round(rate, 4),
                                     "threshold": 0.95})
    out["CANARY_REGRESSION"] = canary_regression(w(RULES["CANARY_REGRESSION"]))
    c = w(RULES["REDIS_DOWN"])
    rok, rbad = c.get("redis_ok", 0.0), c.get("redis_fail", 0.0)
    hit = rok / (rok + rbad) if rok + rbad else 1.0
    out["REDIS_DOWN"] = (rok + rbad >= 5 and hit < 0.5,
                         {"redis_calls": rok + rbad, "failures": rbad, "hit_rate": round(hit, 4), "threshold": 0.5})
    return out


class AlertEngine:
    """Counts events, evaluates the rules, keeps alert records and sends them to a webhook."""

    def __init__(self, db: Any, redis: Any | None, *, locks: Locks | None = None,
                 clock: Callable[[], float] = time.time, webhook_url: str = "", interval: float = 15.0) -> None:
        self.records = db[ALERTS]
        self.redis = redis
        self.locks = locks
        self.clock = clock
        self.webhook_url = webhook_url
        self.interval = interval
        self.windows = Windows(RedisShare(redis) if redis is not None else StoreShare(db["alert_windows"]), clock)
        self.open: dict[str, dict[str, Any]] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.http = requests.Session()
        self.last_rollback: dict[str, Any] | None = None
        self.on_fire: dict[str, Callable[[], Any]] = {}

    # -- counting (called on the request path: cheap, never raises)

    def observe_turn(self, record: Mapping[str, Any]) -> None:
        """Count a recorded turn."""
        try:
            counts: dict[str, float] = {}
            if record.get("kind") == "turn":
                counts["turns"] = 1
                if record.get("tier3") in ("used", "failed"):
                    counts["tier3"] = 1  # the turn asked Tier 3 (never when no LLM is configured)
                arm = record.get("arm") or "full"
                counts[f"arm|{arm}|turns"] = 1
                if arm_error(record):
                    counts[f"arm|{arm}|errors"] = 1
            engine = (record.get("latency_ms") or {}).get("engine")
            if engine is not None:
                bucket = next(b for b in LAT_BUCKETS_MS if engine <= b)
                counts[f"lat|{bucket}"] = 1
            if counts:
                self.windows.add(counts)
            self._start()
        except Exception as exc:  # noqa: BLE001
            log.debug("alert counts not recorded: %s", exc)

    def arm_error(self, arm: str, kind: str, *, turn: bool = False) -> None:
        """Count an arm's error known after its turn (and the turn itself when it has no record)."""
        counts = {f"arm|{arm}|errors": 1.0}
        if turn:
            counts[f"arm|{arm}|turns"] = 1.0
        self.windows.add(counts)

    def regression(self, figures: Mapping[str, Any]) -> None:
        """A rollout was rolled back automatically: CANARY_REGRESSION fires now (with the rollback's figures)
        and stays firing for its window."""
        self.last_rollback = dict(figures)
        self.windows.add({"canary_rollbacks": 1})
        try:
            self.evaluate()
        except Exception as exc:  # noqa: BLE001 - the rollback is done; the alert is evaluated again soon
            log.error("CANARY_REGRESSION not evaluated: %s", exc)

    def compiled(self, ok: bool, seconds: float | None = None) -> None:
        """Count a compile attempt."""
        self.windows.add({"compile_ok" if ok else "compile_fail": 1})

    def redis_call(self, ok: bool) -> None:
        """Count a Redis call and whether it worked."""
        self.windows.add({"redis_ok" if ok else "redis_fail": 1})

    # -- evaluating (a background thread; tests call evaluate())

    def evaluate(self) -> dict[str, tuple[bool, dict[str, Any]]]:
        """Evaluate every rule now; open or close alert records and notify the webhook."""
        sources: dict[int, str] = {}

        def window(minutes: int) -> dict[str, float]:
            counts, source = self.windows.totals(minutes)
            sources[minutes] = source
            return counts

        results = evaluate_rules(window)
        now = self.clock()
        for name, (firing, figures) in results.items():
            figures = {**figures, "window_minutes": RULES[name], "source": sources.get(RULES[name])}
            if name == "CANARY_REGRESSION" and firing and self.last_rollback:
                figures["rollback"] = self.last_rollback
            current = self._current(name)
            if firing and current is None:
                doc = {"_id": f"{name}:{int(now // 60)}", "name": name, "state": "firing", "started_at": now,
                       "ended_at": None, "figures": figures, "last_figures": figures}
                try:
                    self.records.insert_one(doc)
                except DuplicateKeyError:
                    continue  # another worker opened it this minute
                except PyMongoError as exc:
                    log.error("alert %s not recorded: %s", name, exc)
                self.open[name] = doc
                log.error("ALERT %s firing: %s", name, figures)
                self._notify(doc)
                self._fired(name)
            elif firing and current is not None:
                self._update(current["_id"], {"last_figures": figures})
            elif not firing and current is not None and now - current["started_at"] >= MIN_FIRING_S:
                self._update(current["_id"], {"state": "resolved", "ended_at": now, "last_figures": figures})
                self.open.pop(name, None)
                log.warning("ALERT %s resolved: %s", name, figures)
                self._notify({**current, "state": "resolved", "ended_at": now, "last_figures": figures})
        return results

    def _fired(self, name: str) -> None:
        """Run what reacts to an alert opening (CANARY_REGRESSION: judge every running rollout now)."""
        react = self.on_fire.get(name)
        if react is None:
            return
        try:
            react()
        except Exception as exc:  # noqa: BLE001
            log.error("reaction to %s failed: %s", name, exc)

    def _current(self, name: str) -> dict[str, Any] | None:
        try:
            return self.records.find_one({"name": name, "state": "firing"})
        except PyMongoError:
            return self.open.get(name)

    def _update(self, rid: str, fields: dict[str, Any]) -> None:
        try:
            self.records.update_one({"_id": rid}, {"$set": fields})
        except PyMongoError as exc:
            log.error("alert %s not updated: %s", rid, exc)

    def _notify(self, doc: Mapping[str, Any]) -> None:
        if not self.webhook_url:
            return
        payload = {"alert": doc["name"], "status": doc["state"], "started_at": doc["started_at"],
                   "ended_at": doc.get("ended_at"), "figures": doc.get("last_figures") or doc.get("figures")}
        for attempt in range(2):
            try:
                self.http.post(self.webhook_url, json=payload, timeout=3).raise_for_status()
                return
            except requests.RequestException as exc:
                log.warning("alert webhook attempt %d failed: %s", attempt + 1, exc)

    def _start(self) -> None:
        if self.interval <= 0 or (self._thread is not None and self._thread.is_alive()):
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return

            def run() -> None:
                last = time.monotonic()
                while True:
                    time.sleep(1.0)
                    try:
                        self.windows.flush()
                        if time.monotonic() - last >= self.interval:
                            last = time.monotonic()
                            if self._leader():
                                self.evaluate()
                    except Exception as exc:  # noqa: BLE001
                        log.error("alert evaluation failed: %s", exc)

            self._thread = threading.Thread(target=run, name="alerts", daemon=True)
            self._thread.start()

    def _leader(self) -> bool:
        """One evaluator per interval across workers: a lock in Redis, else in the document store (a worker
        evaluates alone only when neither answers)."""
        ttl = self.interval * 0.9
        try:
            if self.redis is not None:
                return bool(self.redis.set("alerts:evaluator", "1", nx=True, px=int(ttl * 1000)))
            if self.locks is not None:
                return self.locks.acquire("alerts:evaluator", f"{os.getpid()}", ttl=ttl)
        except Exception:  # noqa: BLE001
            pass
        return True

    def list(self, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Alert records (and critical edge-case events), newest first; ``state``: firing, resolved or event."""
        flt = {"state": state} if state else {}
        return list(self.records.find(flt, sort=[("started_at", -1)], limit=limit))


__all__ = ["AlertEngine", "Windows", "evaluate_rules", "canary_regression", "p99_ms", "two_proportion_p", "RULES"]
