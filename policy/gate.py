"""The deploy gate (pure: cases in, report out).

A candidate policy is run, beside the active one, on the 25 canned cases, the sheet's own
golden ``tests`` and the company's last real turns (replays). The report lists every case
with its result, every difference between what the two policies decided (action, spoken
text, blocks), the coverage (rules the cases exercised, and rules nothing reaches: shadowed
by a higher-priority rule, or unreachable), and whether the candidate may deploy: at least
95% of the applicable cases pass and no critical case fails.

Every case, whatever its source, fails when the candidate raises, goes over the engine's
budget or leaks a guardrail (of the candidate or the active policy; a leak is critical). A
replayed turn also fails on a blocked action the active policy did not block on the same
turn (an allowlist refusal both share is the allowlist working, not a regression).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .canned import Case, Probe, blocked, canned_cases, edge_trigger, transfer_trigger, winner
from .company import CompanyProfile
from .compiler import CompiledPolicy
from .decision import Decision
from .engine import apply
from .guardrails import Guardrails, combined
from .harness import context, golden_failures, golden_probe

THRESHOLD = 0.95
#: A decision over budget is tried again (a pause of the process is not the policy's fault).
TRIES = 3


@dataclass(frozen=True)
class Replay:
    """A real turn from the call log, to be decided again by both policies."""

    ref: str                      # "CallSid:seq"
    probe: Probe


def decide(pol: CompiledPolicy, probe: Probe, profile: CompanyProfile) -> tuple[Decision | None, str]:
    """The policy's decision on a probe (the fastest of up to ``TRIES`` when over budget), or the error it raised."""
    ctx = context(probe, profile)
    best: Decision | None = None
    try:
        for _ in range(TRIES):
            d = apply(pol, probe.utterance, probe.base, ctx)
            best = d if best is None or d.elapsed_ms < best.elapsed_ms else best
            if not best.perf_fault:
                break
    except Exception as exc:  # noqa: BLE001 - a policy that raises fails its case; the gate goes on
        return None, f"{type(exc).__name__}: {exc}"
    return best, ""


def summary(d: Decision | None) -> dict[str, Any] | None:
    """What a decision did, as the report shows it."""
    if d is None:
        return None
    return {"action": d.action, "text": d.response,
            "blocks": [f"{b['type']}:{b['id']}" if b["id"] else b["type"] for b in d.applied_blocks]}


class _Gate:
    """Runs cases against both policies and keeps the results."""

    def __init__(self, candidate: CompiledPolicy, active: CompiledPolicy | None, profile: CompanyProfile) -> None:
        self.candidate, self.active, self.profile = candidate, active, profile
        self.checker: Guardrails = combined(candidate.content, *([active.content] if active else []))
        self.results: list[dict[str, Any]] = []
        self.decisions: list[Decision] = []

    def active_transfers(self, probe: Probe) -> bool:
        """Whether the active policy transfers a probe."""
        d = decide(self.active, probe, self.profile)[0] if self.active else None
        return d is not None and d.action == "TRANSFER"

    def run(self, cid: str, source: str, group: str, name: str, probe: Probe, *, critical: bool,
            check: Callable[[Decision], list[str]] | None = None) -> None:
        """Decide one case with both policies and record the result."""
        cand, error = decide(self.candidate, probe, self.profile)
        act = decide(self.active, probe, self.profile)[0] if self.active else None
        failures: list[str] = []
        if cand is None:
            failures.append(f"the candidate failed: {error}")
            critical = True
        else:
            self.decisions.append(cand)
            leaked = self.checker.leaks(cand.response, self.profile)
            if leaked:
                failures.append(f"guardrail leak ({', '.join(leaked)}): {cand.response!r}")
                critical = True
            if cand.perf_fault and group != "budget":
                failures.append(f"over the engine's budget: {cand.elapsed_ms:.2f} ms")
            if source == "replay":
                new = sorted(blocked(cand) - (blocked(act) if act else set()))
                failures += [f"{a} is now blocked by the allowlist" for a in new]
            failures += check(cand) if check else []
        self.results.append({"id": cid, "source": source, "group": group, "name": name, "utterance": probe.utterance,
                             "critical": critical, "status": "failed" if failures else "passed",
                             "failures": failures, "candidate": summary(cand), "active": summary(act)})

    def skip(self, case: Case) -> None:
        """A canned case that does not apply to this policy."""
        self.results.append({"id": case.id, "source": "canned", "group": case.group, "name": case.name,
                             "critical": False, "status": "n/a", "failures": [], "why": case.not_applicable})


def differences(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every case where the candidate decided otherwise than the active policy: action, spoken text, blocks."""
    out = []
    for r in results:
        a, c = r.get("active"), r.get("candidate")
        if not a or not c:
            continue
        changed = {k: {"active": a[k], "candidate": c[k]} for k in ("action", "text", "blocks") if a[k] != c[k]}
        if changed:
            out.append({"case": r["id"], "source": r["source"], "utterance": r.get("utterance", ""), **changed})
    return out


def _reach(gate: _Gate, rid: str, block_types: tuple[str, ...], probe: Probe | None) -> str:
    """Why a rule no case reached is not reached: shadowed by another rule, or unreachable."""
    if probe is None:
        return "no case or real turn reached it, and its words cannot be made up (regular expressions only, " \
               "a trade the company lacks, or after hours at a company that never closes)"
    d, error = decide(gate.candidate, probe, gate.profile)
    if d is None:
        return f"the candidate fails on its words: {error}"
    if any(b["type"] in block_types and b["id"] == rid for b in d.applied_blocks):
        return "reachable, but no case or real turn reached it"
    if winner(d):
        return f"shadowed: {winner(d)} takes its own words first"
    if blocked(d):
        return f"blocked: {', '.join(sorted(blocked(d)))} not in allowedActions"
    return "unreachable: its own words and conditions do not fire it"


def coverage(gate: _Gate) -> dict[str, Any]:
    """Rules and guardrails the candidate's decisions exercised, and the rules none reached (and why)."""
    hit = {b["id"] for d in gate.decisions for b in d.applied_blocks
           if b["type"] in ("EDGE_CASE", "EDGE_CASE_FLAG", "TRANSFER_RULE")}
    fired = {g for d in gate.decisions for g in d.guardrails_fired}
    content = gate.candidate.content
    not_reached = []
    for rule in content["edgeCases"]:
        if rule["enabled"] and rule["id"] not in hit:
            why = _reach(gate, rule["id"], ("EDGE_CASE", "EDGE_CASE_FLAG"), edge_trigger(rule, gate.profile))
            not_reached.append({"id": rule["id"], "kind": "edge case", "why": why})
    for rule in content["transferRules"]:
        if rule["enabled"] and rule["id"] not in hit:
            probe = transfer_trigger(rule, content["intentPhrases"], gate.profile)
            not_reached.append({"id": rule["id"], "kind": "transfer rule",
                                "why": _reach(gate, rule["id"], ("TRANSFER_RULE",), probe)})
    rules = [r["id"] for r in (*content["edgeCases"], *content["transferRules"]) if r["enabled"]]
    behavior = sorted(r["id"].split(":", 1)[1] for r in gate.results
                      if r["group"] == "behavior" and r["status"] == "passed")
    return {"rules": len(rules), "exercised": sorted(i for i in rules if i in hit), "not_reached": not_reached,
            "guardrails_fired": sorted(fired), "guardrails_not_fired": sorted(set(content["guardrails"]) - fired),
            "behavior_rules_exercised": behavior}


def run_gate(candidate: CompiledPolicy, active: CompiledPolicy | None,
             company: Mapping[str, Any] | CompanyProfile | None, replays: Iterable[Replay] = (), *,
             threshold: float = THRESHOLD) -> dict[str, Any]:
    """The gate's report on a candidate replacing ``active`` (None: the company has no policy yet)."""
    profile = CompanyProfile.from_dict(company)
    gate = _Gate(candidate, active, profile)
    for case in canned_cases(candidate, active, profile, gate.checker, gate.active_transfers):
        if case.probe is None:
            gate.skip(case)
        else:
            gate.run(case.id, "canned", case.group, case.name, case.probe, critical=case.critical, check=case.check)
    for i, test in enumerate(candidate.content["tests"]):
        gate.run(f"test:{i}", "test", "test", test.get("name") or test["utterance"][:60], golden_probe(test, profile),
                 critical=bool(test.get("critical")), check=lambda d, t=test: golden_failures(t, d))
    for replay in replays:
        gate.run(f"replay:{replay.ref}", "replay", "replay", replay.ref, replay.probe, critical=False)
    return report(gate, threshold)


def report(gate: _Gate, threshold: float) -> dict[str, Any]:
    """Figures by source, the verdict and every case."""
    results = gate.results
    counts: dict[str, dict[str, int]] = {}
    for r in results:
        slot = counts.setdefault(r["source"], {"passed": 0, "failed": 0, "n/a": 0})
        slot[r["status"]] += 1
    passed = sum(c["passed"] for c in counts.values())
    failed = sum(c["failed"] for c in counts.values())
    rate = passed / (passed + failed) if passed + failed else None
    critical = [r["id"] for r in results if r["status"] == "failed" and r["critical"]]
    refused = []
    if rate is None or rate < threshold:
        refused.append(f"{passed} of {passed + failed} applicable cases pass"
                       f" ({(rate or 0) * 100:.1f}% < {threshold * 100:.0f}%)")
    if critical:
        refused.append(f"critical case(s) failed: {', '.join(critical)}")
    verdict = ("refused: " + "; ".join(refused) if refused else
               f"deployable: {passed} of {passed + failed} applicable cases pass ({(rate or 0) * 100:.1f}%), "
               f"no critical case failed")
    return {"candidate": {"version": gate.candidate.version, "checksum": gate.candidate.checksum},
            "active": ({"version": gate.active.version, "checksum": gate.active.checksum} if gate.active else None),
            "deployable": not refused, "verdict": verdict, "threshold": threshold, "passed": passed, "failed": failed,
            "not_applicable": sum(c["n/a"] for c in counts.values()),
            "pass_rate": None if rate is None else round(rate, 4), "critical_failures": critical, "counts": counts,
            "differences": differences(results), "coverage": coverage(gate), "cases": results}


__all__ = ["run_gate", "Replay", "decide", "summary", "differences", "THRESHOLD"]
