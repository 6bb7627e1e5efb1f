"""Ready-to-run structures built from compiled content: rules sorted, phrases and patterns indexed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Mapping

import ahocorasick

from .behavior import BehaviorRules
from .guardrails import Guardrails
from .matching import PatternIndex, SpokenIndex
from .text import normalize, substitute


@dataclass(frozen=True, slots=True)
class Window:
    """A timeWindow in minutes of the day; days use 0 = Sunday; None = any day."""

    days: frozenset[int] | None
    start: int
    end: int

    def contains(self, day: int, minute: int) -> bool:
        """Whether (day, minute) in the company's timezone falls in the window."""
        days = self.days
        if self.start < self.end:
            return (days is None or day in days) and self.start <= minute < self.end
        if self.start == self.end:
            return days is None or day in days
        if minute >= self.start:  # the evening part belongs to the day it starts on
            return days is None or day in days
        if minute < self.end:
            return days is None or (day - 1) % 7 in days
        return False


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


@dataclass(frozen=True, slots=True)
class EdgeRule:
    """One enabled edge case, compiled."""

    id: str
    name: str
    priority: int
    action: str
    any_ids: tuple[int, ...]
    all_ids: frozenset[int]
    regex_ids: tuple[int, ...]
    caller_types: frozenset[str]
    windows: tuple[Window, ...]
    spam_required: frozenset[str]
    trades: frozenset[str]
    text: str | None
    transfer: str | None
    tags: tuple[str, ...]
    side_effects: tuple[Mapping[str, Any], ...]
    description: str
    #: What the turn's record shows when it flags, when its hangup is withheld, when it decides (made once).
    flag_block: Mapping[str, str]
    withheld_block: Mapping[str, str]
    block: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class TransferRuleRT:
    """One enabled transfer rule, compiled: its own keywords apart from its intent's built-in words."""

    id: str
    name: str
    priority: int
    intent: str
    action: str  # TRANSFER_<INTENT>
    phrase_ids: tuple[int, ...]
    after_hours_only: bool
    contact: str
    phone: str | None
    script: str
    entities: tuple[Mapping[str, Any], ...]
    own_ids: frozenset[int] = frozenset()
    own_words: tuple[str, ...] = ()
    unless_ids: frozenset[int] = frozenset()
    combos: tuple[tuple[frozenset[int], ...], ...] = ()
    block: Mapping[str, str] = field(default_factory=dict)  # what the turn's record shows when it decides


def block(kind: str, rid: str | None, name: str | None) -> Mapping[str, str]:
    """One applied block of a decision: its type, the rule's id and name."""
    return MappingProxyType({"type": kind, "id": rid or "", "name": name or ""})


def _index(mapping: dict[int, list[int]]) -> Mapping[int, tuple[int, ...]]:
    return MappingProxyType({k: tuple(v) for k, v in mapping.items()})


def _by_priority(rules: Any) -> list[Mapping[str, Any]]:
    """Enabled rules by priority, declaration order within a priority."""
    return [r for _, _, r in sorted(((r["priority"], i, r) for i, r in enumerate(rules) if r["enabled"]),
                                    key=lambda t: (t[0], t[1]))]


def _side_effects(ec: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    se, act = ec["sideEffects"], ec["action"]
    source = MappingProxyType({"type": "EDGE_CASE", "id": ec["id"], "name": ec["name"]})
    effects: list[Mapping[str, Any]] = []
    if se["autoBlacklist"]:
        effects.append(MappingProxyType({"type": "AUTO_BLACKLIST", "source": source}))
    if se["notifyContacts"]:
        effects.append(MappingProxyType({"type": "NOTIFY_CONTACTS", "contacts": tuple(se["notifyContacts"]),
                                         "source": source}))
    if se["autoTag"]:
        effects.append(MappingProxyType({"type": "TAG", "tags": tuple(se["autoTag"]), "source": source}))
    effects.append(MappingProxyType({"type": "LOG", "severity": se["logSeverity"], "source": source,
                                     "message": f"edge case {ec['id']} ({ec['name']}) matched: {act['type']}"}))
    return tuple(effects)


def _edge_rule(ec: Mapping[str, Any], phrases: SpokenIndex, regex_sources: list[str]) -> EdgeRule:
    """Compile one edge case, registering its phrases and patterns."""
    m, act = ec["match"], ec["action"]
    regex_ids = []
    for p in m["regexPatterns"]:
        regex_ids.append(len(regex_sources))
        regex_sources.append(p)
    text = {"override_response": act.get("inlineResponse"), "force_transfer": act.get("transferMessage"),
            "polite_hangup": act.get("hangupMessage")}.get(act["type"])
    return EdgeRule(
        id=ec["id"], name=ec["name"], priority=ec["priority"], action=act["type"],
        any_ids=tuple(phrases.add(k) for k in m["keywordsAny"]),
        all_ids=frozenset(phrases.add(k) for k in m["keywordsAll"]),
        regex_ids=tuple(regex_ids), caller_types=frozenset(m["callerType"]),
        windows=tuple(Window(frozenset(w["daysOfWeek"]) or None, _minutes(w["start"]), _minutes(w["end"]))
                      for w in m["timeWindows"]),
        spam_required=frozenset(m["spamFlagsRequired"]), trades=frozenset(m["tradeRequired"]),
        text=text, transfer=act.get("transferTarget"), tags=tuple(ec["sideEffects"]["autoTag"]),
        side_effects=_side_effects(ec), description=ec["description"],
        flag_block=block("EDGE_CASE_FLAG", ec["id"], ec["name"]),
        withheld_block=block("HANGUP_WITHHELD", ec["id"], ec["name"]), block=block("EDGE_CASE", ec["id"], ec["name"]))


def _transfer_rule(tr: Mapping[str, Any], phrases: SpokenIndex, content: Mapping[str, Any]) -> TransferRuleRT:
    """Compile one transfer rule: its own keywords, and (unless it opts out) its intent's built-in
    words, "unless" phrases and combinations."""
    intent = tr["intentTag"]
    inherit = tr.get("inheritIntentWords", True)
    own = [phrases.add(p) for p in tr["keywords"]]
    builtin = [phrases.add(p) for p in content["intentPhrases"].get(intent, ())] if inherit else []
    unless = [phrases.add(p) for p in (content.get("intentUnless") or {}).get(intent, ())] if inherit else []
    combos = tuple(tuple(frozenset(phrases.add(p) for p in group) for group in combo)
                   for combo in ((content.get("intentCombos") or {}).get(intent, ()) if inherit else ()))
    return TransferRuleRT(
        id=tr["id"], name=tr["name"], priority=tr["priority"], intent=intent,
        action=f"TRANSFER_{intent.upper()}", phrase_ids=tuple(dict.fromkeys(builtin + own)),
        after_hours_only=tr["afterHoursOnly"], contact=tr["contactNameOrQueue"], phone=tr["phoneNumber"],
        script=tr["script"], entities=tuple(MappingProxyType(dict(e)) for e in tr["collectEntities"]),
        own_ids=frozenset(own), own_words=tuple(normalize(k) for k in tr["keywords"]),
        unless_ids=frozenset(unless), combos=combos, block=block("TRANSFER_RULE", tr["id"], tr["name"]))


def _hints(content: Mapping[str, Any]) -> tuple[str, ...]:
    """Speech-recognition hints for <Gather>: the rules' own phrases first, then their intents' words
    (shortest first within each; no digits or markers)."""
    own: list[str] = []
    for ec in content["edgeCases"]:
        if ec["enabled"]:
            own += list(ec["match"]["keywordsAny"]) + list(ec["match"]["keywordsAll"])
    intents = []
    for tr in content["transferRules"]:
        if tr["enabled"]:
            own += list(tr["keywords"])
            intents.append(tr["intentTag"])
    builtin = [w for i in dict.fromkeys(intents) for w in content["intentPhrases"].get(i, ())]
    out: list[str] = []
    for group in (own, builtin):
        for p in sorted({normalize(w) for w in group}, key=lambda p: (len(p), p)):
            if len(p) > 2 and not re.search(r"\d", p) and p not in out:
                out.append(p)
    return tuple(out[:100])


class Runtime:
    """Matchers and rule tables for one compiled policy; read-only after construction."""

    __slots__ = ("edges", "edge_by_phrase", "edge_by_regex", "edge_always", "transfers", "render",
                 "transfer_by_phrase", "transfer_by_own", "transfer_by_unless", "transfer_emergency", "transfer_exact", "transfer_by_id", "transfer_by_intent",
                 "transfer_combos", "combo_size", "combo_rules", "phrases", "patterns",
                 "allowed", "guardrails", "behavior", "behavior_block", "hints")

    def __init__(self, content: Mapping[str, Any]) -> None:
        phrases = SpokenIndex(())
        regex_sources: list[str] = []
        edges = [_edge_rule(ec, phrases, regex_sources) for ec in _by_priority(content["edgeCases"])]
        transfers = [_transfer_rule(tr, phrases, content)
                     for tr in _by_priority(content["transferRules"])]
        phrases.finish()
        self._index_edges(edges)
        self.transfers = tuple(transfers)
        tr_by_phrase: dict[int, list[int]] = {}
        for pos, rule in enumerate(transfers):
            for pid in rule.phrase_ids:
                tr_by_phrase.setdefault(pid, []).append(pos)
        self.transfer_by_phrase = _index(tr_by_phrase)
        by_own: dict[int, list[int]] = {}
        for pos, rule in enumerate(transfers):
            for pid in rule.own_ids:
                by_own.setdefault(pid, []).append(pos)
        #: phrase id -> rules for which it is one of their own keywords (they rank before built-in words).
        self.transfer_by_own = _index(by_own)
        by_unless: dict[int, list[int]] = {}
        for pos, rule in enumerate(transfers):
            for pid in rule.unless_ids:
                by_unless.setdefault(pid, []).append(pos)
        #: phrase id -> rules its saying stops (an "unless" phrase of their intent).
        self.transfer_by_unless = _index(by_unless)
        self.transfer_emergency = frozenset(pos for pos, rule in enumerate(transfers) if rule.intent == "emergency")
        # Each rule's own keywords as written (" keyword " in the padded words), all found in one pass.
        exact: dict[str, list[int]] = {}
        for pos, rule in enumerate(transfers):
            for w in rule.own_words:
                if w:
                    exact.setdefault(f" {w} ", []).append(pos)
        self.transfer_exact = ahocorasick.Automaton() if exact else None
        if self.transfer_exact is not None:
            for key, positions in exact.items():
                self.transfer_exact.add_word(key, tuple(positions))
            self.transfer_exact.make_automaton()
        self.transfer_by_id = MappingProxyType({t.id: t for t in transfers})
        by_intent: dict[str, TransferRuleRT] = {}
        for t in transfers:
            by_intent.setdefault(t.intent, t)
        self.transfer_by_intent = MappingProxyType(by_intent)
        # Rules of one intent share its combinations: each distinct one is found once per turn.
        combo_ids: dict[tuple[frozenset[int], ...], int] = {}
        combo_rules: list[list[int]] = []
        members: dict[int, list[tuple[int, int]]] = {}
        for pos, rule in enumerate(transfers):
            for combo in rule.combos:
                cid = combo_ids.get(combo)
                if cid is None:
                    cid = combo_ids[combo] = len(combo_rules)
                    combo_rules.append([])
                    for gi, group in enumerate(combo):
                        for pid in group:
                            members.setdefault(pid, []).append((cid, gi))
                combo_rules[cid].append(pos)
        #: phrase id -> (combination, group) it belongs to; a combination's size; the rules it opens.
        self.transfer_combos = _index(members)
        self.combo_size = tuple(len(combo) for combo in combo_ids)
        self.combo_rules = tuple(tuple(dict.fromkeys(rules)) for rules in combo_rules)
        self.phrases = phrases
        self.patterns = PatternIndex(regex_sources)
        self.allowed = frozenset(content["allowedActions"])
        self.guardrails = Guardrails(content)
        self.behavior = BehaviorRules(content)
        self.behavior_block = block("BEHAVIOR_RULES", ",".join(sorted(self.behavior.flags)), "Behavior rules")
        # Replies repeat (scenario texts, rule texts): variables + guardrails are memoized per (text, company).
        self.render = lru_cache(maxsize=4096)(self._render)
        self.hints = _hints(content)

    def _index_edges(self, edges: list[EdgeRule]) -> None:
        """Which edge cases each phrase or pattern can fire, and those checked on every turn."""
        by_phrase: dict[int, list[int]] = {}
        by_regex: dict[int, list[int]] = {}
        always: list[int] = []
        for pos, rule in enumerate(edges):
            if rule.any_ids or rule.all_ids:
                for pid in rule.any_ids or rule.all_ids:
                    by_phrase.setdefault(pid, []).append(pos)
            elif rule.regex_ids:
                for rid in rule.regex_ids:
                    by_regex.setdefault(rid, []).append(pos)
            else:
                always.append(pos)
        self.edges = tuple(edges)
        self.edge_by_phrase = _index(by_phrase)
        self.edge_by_regex = _index(by_regex)
        # Rules with no text condition are checked on every turn; split them by caller type up front, and
        # group those with the same conditions (spam flags, trade, time windows), checked once a turn.
        grouped: dict[str, tuple[tuple[EdgeRule, tuple[int, ...]], ...]] = {}
        for ct in ("new", "existing", "vendor", "unknown"):
            groups: dict[tuple[Any, ...], list[int]] = {}
            for p in always:
                rule = edges[p]
                if not rule.caller_types or ct in rule.caller_types:
                    groups.setdefault((rule.spam_required, rule.trades, rule.windows), []).append(p)
            grouped[ct] = tuple((edges[ps[0]], tuple(ps)) for ps in groups.values())
        #: caller type -> (a rule standing for its group, the group's positions), groups by their conditions.
        self.edge_always = MappingProxyType(grouped)

    def _render(self, text: str, company: Any) -> tuple[str, tuple[str, ...], tuple[str, ...], bool]:
        """Fill variables, enforce guardrails, make the tone formal (the parts that depend on text only).

        Returns (spoken text, missing variables, guardrails fired, whether the tone changed it).
        """
        spoken, missing = substitute(text, company.variables)
        spoken, fired = self.guardrails.enforce(spoken, company)
        formal = self.behavior.formal(spoken)
        return formal, tuple(missing), fired, formal != spoken

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, name):
            raise AttributeError("a compiled policy is immutable")
        object.__setattr__(self, name, value)
