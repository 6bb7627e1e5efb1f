"""Prometheus metrics (prometheus_client), correct under several gunicorn workers.

gunicorn.conf.py sets ``PROMETHEUS_MULTIPROC_DIR`` before any worker imports prometheus_client,
so every worker writes its samples to files there; ``exposition`` merges them for
``/metrics`` (``MultiProcessCollector``). Recording never raises into a turn.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest

from policy.judgement import arm_error

log = logging.getLogger(__name__)

FAST = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
TURN = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0)

ENGINE_LATENCY = Histogram("voice_engine_latency_seconds", "Cheat-sheet engine time per turn", buckets=FAST)
TURN_LATENCY = Histogram("voice_turn_latency_seconds", "Whole turn time inside the app", buckets=TURN)
TURNS = Counter("voice_turns_total", "Caller turns answered, by scenario tier", ["tier"])
GUARDRAILS = Counter("voice_guardrails_fired_total", "Guardrails that changed a reply", ["guardrail"])
BLOCKED = Counter("voice_unauthorized_actions_blocked_total", "Actions refused by the allowlist", ["action"])
EDGE_HITS = Counter("voice_edge_case_hits_total", "Edge cases that matched", ["company", "rule"])
TRANSFER_HITS = Counter("voice_transfer_rule_hits_total", "Transfer rules that matched", ["company", "rule"])
SESSION_LOADS = Counter("voice_session_loads_total", "Session loads by the tier that served them", ["tier"])
FALLBACKS = Counter("voice_backend_fallbacks_total", "Backend failures that a lower tier covered", ["backend"])
COMPILES = Counter("policy_compiles_total", "Cheat-sheet compiles", ["result"])
COMPILE_SECONDS = Histogram("policy_compile_seconds", "Cheat-sheet compile time",
                            buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
ARMS = Counter("policy_rollout_arm_turns_total", "Turns by rollout arm", ["arm"])
ARM_ERRORS = Counter("policy_rollout_arm_errors_total",
                     "Caller turns that count as errors for their rollout arm (policy.judgement.turn_error)", ["arm"])
ERROR_KINDS = Counter("policy_rollout_errors_total", "Error turns by rollout arm and kind (policy.judgement)",
                      ["arm", "kind"])
ROLLBACKS = Counter("policy_rollout_rollbacks_total", "Rollouts rolled back, automatically or by staff", ["by"])
REDIS_CALLS = Counter("voice_redis_calls_total", "Redis session calls by result", ["result"])
PERF_FAULTS = Counter("voice_perf_faults_total", "Turns whose engine time was over its 10 ms budget")


def observe_turn(record: Mapping[str, Any]) -> None:
    """Count one recorded turn (never raises)."""
    try:
        lat = record.get("latency_ms") or {}
        if lat.get("engine") is not None:
            ENGINE_LATENCY.observe(lat["engine"] / 1000.0)
        if lat.get("total") is not None:
            TURN_LATENCY.observe(lat["total"] / 1000.0)
        if record.get("kind") == "turn":
            TURNS.labels(tier=record.get("tier") or "none").inc()
        for g in record.get("guardrails") or ():
            GUARDRAILS.labels(guardrail=g).inc()
        company = record.get("company_id") or ""
        for block in record.get("blocks") or ():
            kind = block.get("type")
            if kind == "ACTION_BLOCKED":
                BLOCKED.labels(action=block.get("id") or "").inc()
            elif kind in ("EDGE_CASE", "EDGE_CASE_FLAG"):
                EDGE_HITS.labels(company=company, rule=block.get("id") or "").inc()
            elif kind == "TRANSFER_RULE":
                TRANSFER_HITS.labels(company=company, rule=block.get("id") or "").inc()
        SESSION_LOADS.labels(tier=record.get("session_tier") or "unknown").inc()
        arm = record.get("arm") or "full"
        ARMS.labels(arm=arm).inc()
        kind = arm_error(record)
        if kind:
            ARM_ERRORS.labels(arm=arm).inc()
            ERROR_KINDS.labels(arm=arm, kind=kind).inc()
        if record.get("perf_fault"):
            PERF_FAULTS.inc()
    except Exception as exc:  # noqa: BLE001 - metrics never break a turn
        log.debug("metrics not recorded: %s", exc)


def arm_error_late(arm: str, kind: str, *, turn: bool = False) -> None:
    """An arm's error known after its turn (a hang-up, a failed dial, the webhook's fallback) (never raises)."""
    try:
        if turn:
            ARMS.labels(arm=arm).inc()
        ARM_ERRORS.labels(arm=arm).inc()
        ERROR_KINDS.labels(arm=arm, kind=kind).inc()
    except Exception:  # noqa: BLE001
        pass


def rolled_back(by: str) -> None:
    """A rollout was rolled back (never raises)."""
    try:
        ROLLBACKS.labels(by=by).inc()
    except Exception:  # noqa: BLE001
        pass


def fallback(backend: str) -> None:
    """A backend failed and a lower tier served (never raises)."""
    try:
        FALLBACKS.labels(backend=backend).inc()
    except Exception:  # noqa: BLE001
        pass


def redis_call(ok: bool) -> None:
    """One Redis session call and whether it worked (never raises)."""
    try:
        REDIS_CALLS.labels(result="ok" if ok else "fail").inc()
    except Exception:  # noqa: BLE001
        pass


def compiled(ok: bool, seconds: float | None = None) -> None:
    """One compile (or a draft refused by validation) (never raises)."""
    try:
        COMPILES.labels(result="success" if ok else "failure").inc()
        if seconds is not None:
            COMPILE_SECONDS.observe(seconds)
    except Exception:  # noqa: BLE001
        pass


def exposition(directory: str = "") -> tuple[bytes, str]:
    """The metrics text for /metrics, merged across workers when ``directory`` (multiprocess mode) is set."""
    if directory:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


__all__ = ["observe_turn", "arm_error_late", "rolled_back", "fallback", "compiled", "redis_call", "exposition"]
