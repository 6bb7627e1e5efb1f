"""The two learning queues, their reason codes, and which queue items a turn record gives (pure).

A turn can teach two things: the scenarios (what callers ask and how to recognize it) and the
cheat sheet (edge cases, transfers, guardrails, tone). ``classify`` reads one turn record and
returns the queue items it yields; the infrastructure's state when the turn happened comes in
as ``degraded`` (a list of reasons), and then every item goes to the incident queue instead:
an outage must not teach the system wrong lessons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from policy.text import padded

SCENARIO, CHEATSHEET, INCIDENT = "scenario", "cheatsheet", "incident"
QUEUES = (SCENARIO, CHEATSHEET, INCIDENT)

#: Scenario improvements (the guide's codes).
NEW_INTENT = "NEW_INTENT"            # no scenario came close (fallback, or Tier 3 answered)
NEW_VARIANT = "NEW_VARIANT"          # a scenario nearly matched: a new way of saying it
MISSING_ENTITY = "MISSING_ENTITY"    # an entity being collected could not be read
LOW_CONFIDENCE = "LOW_CONFIDENCE"    # Tier 1/2 answered with low confidence
REPEATED_TIER3 = "REPEATED_TIER3"    # the same words fell past the scenarios again
SPOT_CHECK = "SPOT_CHECK"            # a sure keyword answer of a scenario with few examples: staff confirm
#: Cheat-sheet improvements.
EDGE_CASE_DETECTED = "EDGE_CASE_DETECTED"          # urgent, unsafe or spam-like words no rule took
TRANSFER_PATTERN = "TRANSFER_PATTERN"              # the caller asked for a person and no transfer rule took it
GUARDRAIL_VIOLATION = "GUARDRAIL_VIOLATION"        # content or an action that had to be blocked
BEHAVIOR_INCONSISTENCY = "BEHAVIOR_INCONSISTENCY"  # an upset caller no rule acknowledged
#: Why items went to the incident queue.
REDIS_DEGRADED, DOCSTORE_DEGRADED, OUTBOX_PENDING, LLM_FAILED = (
    "REDIS_DEGRADED", "DOCSTORE_DEGRADED", "OUTBOX_PENDING", "LLM_FAILED")

SCENARIO_REASONS = (NEW_INTENT, NEW_VARIANT, MISSING_ENTITY, LOW_CONFIDENCE, REPEATED_TIER3, SPOT_CHECK)
CHEATSHEET_REASONS = (EDGE_CASE_DETECTED, TRANSFER_PATTERN, GUARDRAIL_VIOLATION, BEHAVIOR_INCONSISTENCY)
REASONS = {SCENARIO: SCENARIO_REASONS, CHEATSHEET: CHEATSHEET_REASONS,
           INCIDENT: SCENARIO_REASONS + CHEATSHEET_REASONS}

#: A Tier 2 answer below this confidence (0..1) is LOW_CONFIDENCE.
LOW_CONFIDENCE_BELOW = 0.9
#: A sure keyword answer (Tier 1) of a scenario with fewer examples than this is queued for staff to confirm
#: (``SPOT_CHECK``): confirmed, the caller's words become its examples; refused, they look for their scenario.
SPOT_CHECK_BELOW = 20
#: A fallback whose Tier 2 confidence (its examples' similarity) reached this was a near miss (NEW_VARIANT),
#: not a new intent.
NEAR_MISS_AT = 0.6

#: Cue families the cheat-sheet queue looks for in words no rule took (whole words or phrases).
CUES: dict[str, tuple[str, ...]] = {
    "person": ("speak to someone", "talk to someone", "speak to a person", "talk to a person", "real person",
               "a human", "representative", "operator", "speak to a manager", "talk to a manager", "your manager",
               "supervisor", "speak with someone", "customer service", "live agent", "transfer me"),
    "upset": ("frustrated", "frustrating", "angry", "upset", "ridiculous", "unacceptable", "pissed", "furious",
              "fed up", "worst", "terrible", "horrible", "awful", "disappointed", "annoyed", "rude", "scam",
              "sick of", "waste of time", "third time", "still waiting"),
    "urgent": ("emergency", "urgent", "asap", "right now", "immediately", "danger", "dangerous", "smoke", "fire",
               "sparks", "sparking", "gas", "carbon monoxide", "flood", "flooding", "burst", "electrocuted",
               "injured", "hurt", "stolen", "fraud", "hacked", "lawyer", "lawsuit", "sue"),
    "spam": ("are you a robot", "are you a bot", "is this a robot", "am i talking to a machine", "warranty expired",
             "business loan", "seo services", "google listing", "press one", "this is a courtesy call"),
}


@dataclass(frozen=True)
class Item:
    """One queue item: which queue, why, and what it carries (the text is scrubbed later)."""

    queue: str
    reason: str
    cue: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def cues_in(text: str) -> list[str]:
    """The cue families present in the caller's words, in ``CUES`` order."""
    hay = padded(text)
    return [family for family, phrases in CUES.items() if any(f" {p} " in hay for p in phrases)]


def _unanswered(record: Mapping[str, Any]) -> bool:
    """The scenarios had no answer and nothing else took the turn (Tier 3 answered or the fallback)."""
    return record.get("tier") in ("3", "fallback") and bool(record.get("base_used", True))


def _rule_took(record: Mapping[str, Any], kind: str) -> bool:
    return any(b.get("type") == kind for b in record.get("blocks") or ())


def scenario_reason(record: Mapping[str, Any], *, repeated: bool = False, disputed: bool = False) -> str | None:
    """The scenario queue's reason for a caller turn, or None when the scenarios did their job (``disputed``:
    the template's examples lean away from the scenario that answered)."""
    tier = record.get("tier")
    events = (record.get("collect") or {}).get("events") or ()
    if any(str(e).startswith(("invalid:", "escalated:", "skipped:")) for e in events):
        return MISSING_ENTITY
    if _unanswered(record):
        if repeated:
            return REPEATED_TIER3
        conf = record.get("confidence")
        if tier == "fallback" and conf is not None and conf >= NEAR_MISS_AT:
            return NEW_VARIANT
        return NEW_INTENT
    conf = record.get("confidence")
    if tier in ("1", "2") and record.get("base_used", True) and (
            disputed or (conf is not None and conf < LOW_CONFIDENCE_BELOW)):
        return LOW_CONFIDENCE
    return None


def cheatsheet_reasons(record: Mapping[str, Any], cues: list[str],
                       would_fire: tuple[str, ...] = ()) -> list[Item]:
    """The cheat-sheet queue's items for a turn: cues no rule took, and content that had to be blocked.

    ``would_fire``: guardrails the sheet has turned off that would have blocked what the caller heard.
    """
    items: list[Item] = []
    edge = _rule_took(record, "EDGE_CASE")
    transfer = _rule_took(record, "TRANSFER_RULE") or record.get("action") == "TRANSFER"
    if "person" in cues and not transfer and not edge:
        items.append(Item(CHEATSHEET, TRANSFER_PATTERN, "person"))
    if "upset" in cues and not edge:
        items.append(Item(CHEATSHEET, BEHAVIOR_INCONSISTENCY, "upset"))
    for family in ("urgent", "spam"):
        if family in cues and not edge and not transfer:
            items.append(Item(CHEATSHEET, EDGE_CASE_DETECTED, family))
    blocked = [b.get("id") for b in record.get("blocks") or () if b.get("type") == "ACTION_BLOCKED"]
    if blocked or would_fire or record.get("guardrails"):
        items.append(Item(CHEATSHEET, GUARDRAIL_VIOLATION, None,
                          {"fired": list(record.get("guardrails") or ()), "would_fire": list(would_fire),
                           "blocked_actions": blocked}))
    return items


def classify(record: Mapping[str, Any], *, degraded: list[str] | tuple[str, ...] = (), repeated: bool = False,
             would_fire: tuple[str, ...] = (), disputed: bool = False) -> list[Item]:
    """Every queue item one turn record gives; all of them to the incident queue while degraded."""
    if record.get("kind") != "turn" or not (record.get("caller") or {}).get("text"):
        return []
    reasons = list(degraded)
    if record.get("tier3") == "failed":
        reasons.append(LLM_FAILED)
    items: list[Item] = []
    reason = scenario_reason(record, repeated=repeated, disputed=disputed)
    if reason:
        items.append(Item(SCENARIO, reason))
    items += cheatsheet_reasons(record, cues_in(record["caller"]["text"]), would_fire)
    if reasons and items:
        return [Item(INCIDENT, it.reason, it.cue, {**it.detail, "infrastructure": reasons, "queue": it.queue})
                for it in items]
    return items


__all__ = ["Item", "classify", "cues_in", "scenario_reason", "cheatsheet_reasons", "QUEUES", "REASONS",
           "SCENARIO", "CHEATSHEET", "INCIDENT", "SCENARIO_REASONS", "CHEATSHEET_REASONS", "CUES",
           "NEW_INTENT", "NEW_VARIANT", "MISSING_ENTITY", "LOW_CONFIDENCE", "REPEATED_TIER3", "SPOT_CHECK", "EDGE_CASE_DETECTED",
           "TRANSFER_PATTERN", "GUARDRAIL_VIOLATION", "BEHAVIOR_INCONSISTENCY", "REDIS_DEGRADED",
           "DOCSTORE_DEGRADED", "OUTBOX_PENDING", "LLM_FAILED"]
