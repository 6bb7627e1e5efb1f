"""Cheat-sheet suggestions from the cheat-sheet queue (pure: items and the company in, proposals out).

Items are grouped by reason and cue (callers asking for a person, upset callers, urgent or
spam-like words); a group of at least ``min_size`` turns becomes one proposal: a transfer rule
for people asking for a person, an edge case for the others, triggered by the cue phrases those
callers actually used. The text the caller would hear is a starting point staff can edit before
approving. Content the guardrails had to block stays in the queue for staff to read (no rule is
proposed for it: the fix is in the scenario or the model that produced it).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from typing import Any, Mapping, Sequence

from policy.text import padded

from .reasons import BEHAVIOR_INCONSISTENCY, CUES, EDGE_CASE_DETECTED, TRANSFER_PATTERN
from .scrub import has_placeholder

SHOWN = 10
EMPATHY_LINE = ("I'm sorry about the trouble, and I want to help make this right. "
                "Can you tell me a little more about what's going on?")
TRANSFER_SCRIPT = "Of course. Let me connect you with someone from our team."
URGENT_LINE = ("That sounds urgent. If anyone is in danger, please hang up and call 911. "
               "Otherwise, let me get someone from our team on the line for you.")
SPAM_LINE = "Thank you for calling, but we're not interested. Goodbye."
#: Contacts preferred for a person (in order), then for urgent calls.
PERSON_CONTACTS = ("general", "office", "dispatch", "front desk", "reception", "manager")
URGENT_CONTACTS = ("emergency", "dispatch", "on call", "manager", "general", "office")


def _contact(company: Mapping[str, Any], preferred: Sequence[str]) -> str | None:
    contacts = list((company.get("contacts") or {}).keys())
    for name in preferred:
        if name in contacts:
            return name
    return contacts[0] if contacts else None


def _phrases(texts: Sequence[str], cue: str) -> list[tuple[str, int]]:
    counts: Counter = Counter()
    for t in texts:
        hay = padded(t)
        for p in CUES.get(cue, ()):
            if f" {p} " in hay:
                counts[p] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _change(reason: str, cue: str, keywords: list[str], company: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The kind of proposal and the rule it adds."""
    rid = f"learned-{cue}"
    if reason == TRANSFER_PATTERN:
        contact = _contact(company, PERSON_CONTACTS)
        if contact:
            return "transfer_rule", {"transferRule": {
                "id": rid, "name": "Caller asks for a person", "intentTag": "general",
                "contactNameOrQueue": contact, "script": TRANSFER_SCRIPT, "keywords": keywords, "priority": 50}}
        action: dict[str, Any] = {"type": "override_response",
                                  "inlineResponse": "I can take a message and have someone call you back."}
    elif reason == BEHAVIOR_INCONSISTENCY:
        action = {"type": "override_response", "inlineResponse": EMPATHY_LINE}
    elif cue == "spam":
        action = {"type": "polite_hangup", "hangupMessage": SPAM_LINE}
    else:
        contact = _contact(company, URGENT_CONTACTS)
        action = ({"type": "force_transfer", "transferTarget": contact, "transferMessage": URGENT_LINE} if contact
                  else {"type": "override_response", "inlineResponse": URGENT_LINE})
    names = {"upset": "Upset caller", "urgent": "Urgent request", "spam": "Sales or robocall", "person": "Asks for a person"}
    return "edge_case", {"edgeCase": {"id": rid, "name": names.get(cue, cue), "priority": 50,
                                      "match": {"keywordsAny": keywords}, "action": action,
                                      "sideEffects": {"autoTag": [f"learned_{cue}"]}}}


def cheatsheet_suggestions(items: Sequence[Mapping[str, Any]], company: Mapping[str, Any], *,
                           min_size: int = 3) -> list[dict[str, Any]]:
    """Proposals (documents without ids or status) from a company's pending cheat-sheet items."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for it in items:
        if it.get("reason") in (TRANSFER_PATTERN, BEHAVIOR_INCONSISTENCY, EDGE_CASE_DETECTED) and it.get("cue"):
            groups[(it["reason"], it["cue"])].append(it)
    out = []
    for (reason, cue), group in sorted(groups.items()):
        if len(group) < min_size:
            continue
        group = sorted(group, key=lambda it: (it.get("at") or 0, it["_id"]))
        texts = [it["text"] for it in group]
        phrases = _phrases(texts, cue)
        if not phrases:
            continue
        keywords = [p for p, _ in phrases[:8]]
        kind, change = _change(reason, cue, keywords, company)
        top = phrases[0][1]
        shown = [t for t in texts if not has_placeholder(t)][:SHOWN] or texts[:SHOWN]
        ids = [it["_id"] for it in group]
        sig = hashlib.blake2b(f"{reason}|{cue}|{'|'.join(ids)}".encode(), digest_size=8).hexdigest()
        out.append({"signature": sig, "kind": kind, "reason": reason, "cue": cue, "examples": shown,
                    "count": len(group), "coherence": round(top / len(group), 3), "item_ids": ids, "change": change,
                    "impact": {"turns_taken_by_rule": sum(1 for t in texts if any(f" {k} " in padded(t)
                                                                                  for k in keywords)),
                               "answers_changed": len(group)}})
    return out


__all__ = ["cheatsheet_suggestions"]
