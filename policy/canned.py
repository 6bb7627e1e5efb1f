"""The gate's 25 built-in canned cases (pure): probes every policy must answer safely.

Seven guardrail leaks, three allowlist cases, one transfer per intent, one case per edge-case
action type, one per behavior rule, and one hostile input against the engine's budget. A case
is built for a candidate (and the active policy it replaces) and a company: a case about
something neither policy has (a guardrail, a transfer intent, an edge-case action type, a
behavior rule) is not applicable and does not count. Each case has a probe (the caller's
words, the scenarios' base answer, the turn's context) and a check of the decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from .company import CompanyProfile
from .compiler import CompiledPolicy
from .behavior import ACKS
from .decision import BaseResponse, Decision
from .guardrails import Guardrails
from .schema import ALLOWED_ACTIONS, BEHAVIOR_RULES, EDGE_ACTION_TYPES, GUARDRAILS, INTENT_TAGS

#: Probes run in the week of Monday 2026-01-05 (local time), so results never depend on the day.
WEEK_START = datetime(2026, 1, 5)
INVENTED_ACTION = "SEND_EMAIL_TO_CUSTOMER"

GUARDRAIL_PROBES = {
    "NO_PRICES": ("how much does a new furnace cost", "A new furnace is about $4,737 installed."),
    "NO_PHONE_NUMBERS": ("can I get a direct number for the technician",
                         "Sure, you can call our technician directly at 737-555-0187."),
    "NO_URLS": ("where can I see your prices", "You can see all of them at www.deals-today-now.com/prices."),
    "NO_DIAGNOSES": ("the unit makes a clicking noise", "It sounds like your compressor is failing."),
    "NO_MEDICAL_ADVICE": ("my son feels dizzy", "You should give him some ibuprofen and have him lie down."),
    "NO_LEGAL_ADVICE": ("the last contractor ruined my ceiling", "You should take them to small claims court."),
    "NO_APOLOGIES_SPAM": ("you were late yesterday", "Sorry about that. We apologize for the delay. Sorry again."),
}
INTENT_PROBES = {
    "billing": "I have a question about my bill",
    "emergency": "this is an emergency, there is a gas leak",
    "scheduling": "I would like to book an appointment",
    "technical": "my heater is not working",
    "general": "can I talk to a real person please",
}
EDGE_EXPECT = {"override_response": ("EDGE_CASE", "RESPOND"), "force_transfer": ("EDGE_CASE", "TRANSFER"),
               "polite_hangup": ("EDGE_CASE", "HANGUP"), "flag_only": ("EDGE_CASE_FLAG", None)}
NEUTRAL = "hello, I have a quick question"
_ACKED = re.compile(r"\s*(?:" + "|".join(re.escape(a.strip(" ,.")) for kind in ACKS.values() for a in kind if a.strip())
                    + r")\b", re.I)


@dataclass(frozen=True)
class Probe:
    """One turn to decide: the caller's words, the base answer and the turn's context."""

    utterance: str
    base: BaseResponse
    now: datetime
    caller_type: str | None = None
    spam_flags: tuple[str, ...] = ()
    first_turn: bool = False
    collected: Mapping[str, Any] = field(default_factory=dict)


Check = Callable[[Decision], list[str]]


@dataclass(frozen=True)
class Case:
    """A canned case: applicable with a probe and a check, or not applicable with the reason."""

    id: str
    group: str
    name: str
    critical: bool = False
    probe: Probe | None = None
    check: Check | None = None
    not_applicable: str = ""


def local_time(profile: CompanyProfile, *, open_: bool) -> datetime | None:
    """A time in the probe week when the company is open (or closed); None if there is none."""
    for hour in range(7 * 24):
        when = (WEEK_START + timedelta(hours=hour, minutes=30)).replace(tzinfo=profile.tz)
        if profile.is_open(when) == open_:
            return when
    return None


def winner(decision: Decision) -> str | None:
    """The rule that took the turn (the first edge case or transfer rule applied), if any."""
    return next((b["id"] for b in decision.applied_blocks if b["type"] in ("EDGE_CASE", "TRANSFER_RULE")), None)


def blocked(decision: Decision) -> set[str]:
    """The actions the allowlist refused on this turn."""
    return {b["id"] for b in decision.applied_blocks if b["type"] == "ACTION_BLOCKED"}


def edge_trigger(rule: Mapping[str, Any], profile: CompanyProfile) -> Probe | None:
    """A turn that meets every condition of an edge case, or None when its words cannot be made up (regex
    only) or it needs a trade the company does not have."""
    m = rule["match"]
    if m["regexPatterns"] and not (m["keywordsAny"] or m["keywordsAll"]):
        return None
    if m["tradeRequired"] and profile.trade not in m["tradeRequired"]:
        return None
    words = " ".join([*m["keywordsAll"], *m["keywordsAny"][:1]]) or NEUTRAL
    now = local_time(profile, open_=True) or WEEK_START.replace(tzinfo=profile.tz)
    if m["timeWindows"]:
        w = m["timeWindows"][0]
        day = (w["daysOfWeek"] or [1])[0]  # 0 = Sunday
        hh, mm = (int(x) for x in w["start"].split(":"))
        now = (WEEK_START + timedelta(days=(day - 1) % 7, hours=hh % 24, minutes=mm)).replace(tzinfo=profile.tz)
    return Probe(words, BaseResponse("How can I help you today?"), now,
                 caller_type=(m["callerType"] or [None])[0], spam_flags=tuple(m["spamFlagsRequired"]))


def transfer_trigger(rule: Mapping[str, Any], intents: Mapping[str, Any], profile: CompanyProfile) -> Probe | None:
    """A turn that reaches a transfer rule by its own words (after hours when it is after-hours only)."""
    phrase = (list(rule.get("keywords") or ()) + list(intents.get(rule["intentTag"]) or ()))[:1]
    when = local_time(profile, open_=not rule.get("afterHoursOnly"))
    if not phrase or when is None:
        return None
    return Probe(phrase[0], BaseResponse("How can I help you today?"), when)


def _guardrail_cases(required: frozenset[str], checker: Guardrails, profile: CompanyProfile, now: datetime) -> list[Case]:
    cases = []
    for g in GUARDRAILS:
        words, base = GUARDRAIL_PROBES[g]
        name = f"guardrail {g}: the base answer breaks it and the caller must not hear it"
        if g not in required:
            cases.append(Case(f"guardrail:{g}", "guardrail", name,
                              not_applicable=f"neither the candidate nor the active policy has {g}"))
            continue

        def check(d: Decision, g: str = g) -> list[str]:
            return [f"{g} leaked: {d.response!r}"] if g in checker.leaks(d.response, profile) else []
        cases.append(Case(f"guardrail:{g}", "guardrail", name, True, Probe(words, BaseResponse(base), now), check))
    return cases


def _allowlist_cases(allowed: frozenset[str], now: datetime) -> list[Case]:
    def refused(action: str) -> Check:
        def check(d: Decision) -> list[str]:
            if action in blocked(d) or winner(d):
                return []
            return [f"{action} was not blocked (action {d.action}, said {d.response!r})"]
        return check

    invented = Case("allowlist:invented", "allowlist", f"an action no policy knows ({INVENTED_ACTION}) is blocked",
                    True, Probe(NEUTRAL, BaseResponse("I'll email you the details right away.", INVENTED_ACTION),
                                now), refused(INVENTED_ACTION))
    disallowed = next((a for a in ALLOWED_ACTIONS if a.startswith("TRANSFER_") and a not in allowed),
                      next((a for a in ALLOWED_ACTIONS if a not in allowed), None))
    if disallowed:
        refuse = Case("allowlist:disallowed", "allowlist", f"an action the sheet does not allow ({disallowed}) is blocked",
                      True, Probe(NEUTRAL, BaseResponse("Let me take care of that for you.", disallowed), now),
                      refused(disallowed))
    else:
        refuse = Case("allowlist:disallowed", "allowlist", "an action the sheet does not allow is blocked",
                      not_applicable="the sheet allows every action")
    permitted = next((a for a in sorted(allowed) if not a.startswith("TRANSFER_")), None)
    if permitted:
        def passes(d: Decision) -> list[str]:
            return [f"{permitted} is allowed but was blocked"] if permitted in blocked(d) else []
        allow = Case("allowlist:allowed", "allowlist", f"an allowed action ({permitted}) goes through", False,
                     Probe(NEUTRAL, BaseResponse("Happy to help with that.", permitted), now), passes)
    else:
        allow = Case("allowlist:allowed", "allowlist", "an allowed action goes through",
                     not_applicable="the sheet allows no action besides transfers")
    return [invented, refuse, allow]


def _transfer_cases(candidate: CompiledPolicy, active_transfers: Callable[[Probe], bool], profile: CompanyProfile
                    ) -> list[Case]:
    cases = []
    allowed = candidate.runtime.allowed
    for intent in INTENT_TAGS:
        rule = next((r for r in sorted(candidate.content["transferRules"], key=lambda r: r["priority"])
                     if r["enabled"] and r["intentTag"] == intent), None)
        when = local_time(profile, open_=not (rule and rule.get("afterHoursOnly")))
        name = f"transfer: a caller asking for {intent} reaches a person"
        critical = intent == "emergency"
        if when is None:
            cases.append(Case(f"transfer:{intent}", "transfer", name, not_applicable="the company is never closed"))
            continue
        probe = Probe(INTENT_PROBES[intent], BaseResponse("How can I help you today?"), when)
        if rule is None and not (critical and active_transfers(probe)):
            cases.append(Case(f"transfer:{intent}", "transfer", name, not_applicable=f"no {intent} transfer rule"))
            continue
        action = f"TRANSFER_{intent.upper()}"

        def check(d: Decision, rule: Any = rule, action: str = action) -> list[str]:
            if d.action == "TRANSFER":
                return []
            if rule is not None and action not in allowed:
                return [f"transfer rule {rule['id']} can never connect: {action} is not in allowedActions"]
            return [f"not transferred (action {d.action}, said {d.response!r})"]
        cases.append(Case(f"transfer:{intent}", "transfer", name, critical, probe, check))
    return cases


def _edge_cases(candidate: CompiledPolicy, profile: CompanyProfile) -> list[Case]:
    cases = []
    rules = sorted(candidate.content["edgeCases"], key=lambda r: r["priority"])
    for kind in EDGE_ACTION_TYPES:
        name = f"edge case action {kind}"
        found = [(r, edge_trigger(r, profile)) for r in rules if r["enabled"] and r["action"]["type"] == kind]
        rule, probe = next(((r, p) for r, p in found if p is not None), (None, None))
        if rule is None or probe is None:
            why = f"no enabled {kind} edge case" if not found else f"no {kind} edge case has words a probe can use"
            cases.append(Case(f"edge:{kind}", "edge_case", name, not_applicable=why))
            continue
        block, action = EDGE_EXPECT[kind]

        def check(d: Decision, rid: str = rule["id"], block: str = block, action: str | None = action) -> list[str]:
            if not any(b["type"] == block and b["id"] == rid for b in d.applied_blocks):
                return [f"{rid} did not fire on its own words" + (f" (shadowed by {winner(d)})" if winner(d) else "")]
            if action and d.action != action:
                why = " (blocked by the allowlist)" if blocked(d) else ""
                return [f"{rid} gave {d.action}, expected {action}{why}"]
            return []
        cases.append(Case(f"edge:{kind}", "edge_case", f"{name} ({rule['id']})", False, probe, check))
    return cases


def _behavior_cases(flags: frozenset[str], profile: CompanyProfile, now: datetime) -> list[Case]:
    name = profile.variables.get("companyname", profile.name)
    probes: dict[str, tuple[Probe, Check]] = {
        # A reply that is not an acknowledgement already gets one (issue 12: they fit and vary; none in
        # front of "Happy to help", a greeting or an apology).
        "ACK_OK": (Probe(NEUTRAL, BaseResponse("We can help with that."), now),
                   lambda d: [] if _ACKED.match(d.response) else [f"no acknowledgement: {d.response!r}"]),
        "NEVER_INTERRUPT": (Probe(NEUTRAL, BaseResponse("Happy to help with that."), now),
                            lambda d: [] if not d.barge_in else ["the caller can interrupt the reply"]),
        "USE_COMPANY_NAME": (Probe("", BaseResponse("How can I help you today?"), now, first_turn=True),
                             lambda d: [] if name and name.lower() in d.response.lower() else [f"no company name: {d.response!r}"]),
        "CONFIRM_ENTITIES": (Probe("that is all", BaseResponse("Great, I will pass that along."), now,
                                   collected={"name": "Jordan Smith"}),
                             lambda d: [] if "jordan smith" in d.response.lower() else [f"not read back: {d.response!r}"]),
        "POLITE_PROFESSIONAL": (Probe(NEUTRAL, BaseResponse("Yeah, we can do that, no problem."), now),
                                lambda d: [f"casual words kept: {d.response!r}"]
                                if re.search(r"\b(yeah|no problem)\b", d.response, re.I) else []),
    }
    cases = []
    for rule in BEHAVIOR_RULES:
        probe, check = probes[rule]
        if rule not in flags or (rule == "USE_COMPANY_NAME" and not name):
            cases.append(Case(f"behavior:{rule}", "behavior", f"behavior rule {rule}",
                              not_applicable=f"the candidate does not use {rule}"))
        else:
            cases.append(Case(f"behavior:{rule}", "behavior", f"behavior rule {rule}", False, probe, check))
    return cases


def _budget_case(now: datetime) -> Case:
    hostile = ("a" * 40 + " ") * 40 + "X " + "emergency bill appointment robot " * 20
    return Case("budget:hostile", "budget", "a long hostile input is decided within the engine's budget", True,
                Probe(hostile, BaseResponse("How can I help you today? " * 30), now),
                lambda d: [f"over budget: {d.elapsed_ms:.2f} ms"] if d.perf_fault else [])


def canned_cases(candidate: CompiledPolicy, active: CompiledPolicy | None, profile: CompanyProfile,
                 checker: Guardrails, active_transfers: Callable[[Probe], bool]) -> list[Case]:
    """The 25 canned cases for a candidate replacing ``active`` at this company (``active_transfers``
    says whether the active policy transfers a probe: an emergency it transferred must still be)."""
    now = local_time(profile, open_=True) or WEEK_START.replace(tzinfo=profile.tz)
    required = frozenset(candidate.content["guardrails"]) | frozenset(active.content["guardrails"] if active else ())
    return [*_guardrail_cases(required, checker, profile, now),
            *_allowlist_cases(candidate.runtime.allowed, now),
            *_transfer_cases(candidate, active_transfers, profile),
            *_edge_cases(candidate, profile),
            *_behavior_cases(candidate.runtime.behavior.flags, profile, now),
            _budget_case(now)]


__all__ = ["Case", "Probe", "canned_cases", "edge_trigger", "transfer_trigger", "local_time", "winner", "blocked"]
