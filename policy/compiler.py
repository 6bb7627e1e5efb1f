"""Policy compiler: cheat sheet -> validated -> normalized -> conflicts resolved -> checksummed artifact."""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .errors import PolicyError, PolicyIntegrityError
from .frozen import freeze, thaw
from .schema import CheatSheet, TERM_GUARDRAILS, validate
from .source import load_file, parse_text
from .text import normalize, variables_in

#: Bumped whenever the meaning of compiled content changes; part of every checksum.
FORMAT_VERSION = 1
CONFLICT_THRESHOLD = 0.3
#: The compile report lists at most this many conflicts (``conflictsTotal`` counts them all).
MAX_REPORTED_CONFLICTS = 200
#: A sheet with more conflicts than this is refused (its rules need priorities of their own).
MAX_CONFLICTS = 2000
_DATA = Path(__file__).with_name("data")


@lru_cache(maxsize=None)
def builtin_data(name: str) -> Mapping[str, Any]:
    """A built-in data file (intents, guardrail terms, polite replacements), read once."""
    return MappingProxyType(load_file(_DATA / f"{name}.yaml"))


def _sorted_unique(items: list[str], *, norm: bool = False) -> list[str]:
    return sorted({normalize(i) if norm else i for i in items})


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _group(group: Any) -> list[str]:
    """The phrases of one group of a built-in combination: a list, or ``pairs`` (every "thing failure"
    phrase of two lists) plus ``also``."""
    if isinstance(group, Mapping):
        things, failures = group.get("pairs") or ([], [])
        return [f"{a} {b}" for a in things for b in failures] + list(group.get("also") or [])
    return list(group)


def _content(sheet: CheatSheet) -> dict[str, Any]:
    """The canonical, behaviour-defining content of a cheat sheet (no versions, no audit data)."""
    edge_cases = []
    for ec in sheet.edgeCases:
        m = ec.match
        edge_cases.append({
            "id": ec.id, "name": ec.name, "description": ec.description, "enabled": ec.enabled,
            "priority": ec.priority,
            "match": {
                "keywordsAny": _sorted_unique(m.keywordsAny, norm=True),
                "keywordsAll": _sorted_unique(m.keywordsAll, norm=True),
                "regexPatterns": _dedupe(m.regexPatterns),
                "callerType": _sorted_unique(m.callerType),
                "timeWindows": [{"daysOfWeek": sorted(set(w.daysOfWeek)), "start": w.start, "end": w.end}
                                for w in m.timeWindows],
                "spamFlagsRequired": _sorted_unique(m.spamFlagsRequired),
                "tradeRequired": _sorted_unique([t.casefold() for t in m.tradeRequired]),
            },
            "action": ec.action.model_dump(),
            "sideEffects": {**ec.sideEffects.model_dump(), "autoTag": _dedupe(ec.sideEffects.autoTag),
                            "notifyContacts": _dedupe(ec.sideEffects.notifyContacts)},
        })
    transfer_rules = []
    for tr in sheet.transferRules:
        d = tr.model_dump(exclude={"auditMeta"})
        d["keywords"] = _sorted_unique(tr.keywords, norm=True)
        d["name"] = tr.name or f"{tr.intentTag.capitalize()} transfer to {tr.contactNameOrQueue}"
        transfer_rules.append(d)
    intents = builtin_data("intents")
    terms = builtin_data("guardrail_terms")
    phrase = lambda p: p if p.startswith("#") else normalize(p)  # noqa: E731 - markers keep their "#"
    return {
        "format": FORMAT_VERSION,
        "behaviorRules": _sorted_unique(sheet.behaviorRules),
        "guardrails": _sorted_unique(sheet.guardrails),
        "allowedActions": _sorted_unique(sheet.allowedActions),
        "edgeCases": edge_cases,
        "transferRules": transfer_rules,
        "intentPhrases": {k: _sorted_unique(list(v["words"]), norm=True) for k, v in intents.items()},
        "intentUnless": {k: _sorted_unique(list(v["unless"]), norm=True) for k, v in intents.items() if v.get("unless")},
        "intentCombos": {k: [[sorted({phrase(p) for p in _group(group)}) for group in combo] for combo in v["combos"]]
                         for k, v in intents.items() if v.get("combos")},
        "guardrailTerms": {g: _sorted_unique(list(terms.get(g, [])) + list(sheet.guardrailTerms.get(g, [])), norm=True)
                           for g in TERM_GUARDRAILS},
        "politeReplacements": dict(sorted(builtin_data("polite").items())),
        "tests": [t.model_dump(mode="json", exclude_none=True) for t in sheet.tests],
    }


_REGEX_ESCAPES = re.compile(r"\\[A-Za-z]|\(\?[a-z]*[:)]?")


def _word_set(rule: Mapping[str, Any], kind: str, intents: Mapping[str, list[str]]) -> set[str]:
    if kind == "edgeCases":
        m = rule["match"]
        phrases = list(m["keywordsAny"]) + list(m["keywordsAll"])
        for pattern in m["regexPatterns"]:
            phrases.append(_REGEX_ESCAPES.sub(" ", pattern))
    else:
        phrases = list(intents.get(rule["intentTag"], [])) + list(rule["keywords"])
    return {w for p in phrases for w in re.split(r"\W+", p.lower()) if w}


def detect_conflicts(content: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Find same-priority enabled rules of one kind whose words overlap (Jaccard > 0.3); demote the later.

    Demoting means priority + 1 (a larger number is a lower priority). A demoted rule is
    checked again at its new priority, so three overlapping rules end up at p, p+1, p+2.
    Mutates the priorities in ``content``; returns the first ``MAX_REPORTED_CONFLICTS`` report
    entries and how many there were. Candidates come from an index of each placed rule's rarest
    words at each priority (prefix filtering: common words are never walked), and a sheet with more than
    ``MAX_CONFLICTS`` conflicts is refused: its rules need priorities of their own.
    """
    entries: list[dict[str, Any]] = []
    total = 0
    for kind, label in (("edgeCases", "EDGE_CASE_CONFLICT"), ("transferRules", "TRANSFER_RULE_CONFLICT")):
        rules = [r for r in content[kind] if r["enabled"]]
        words = [frozenset(_word_set(r, kind, content["intentPhrases"])) for r in rules]
        prefixes = _prefixes(words)
        index: dict[tuple[int, str], list[int]] = {}  # (priority, prefix word) -> positions placed there
        for i in sorted(range(len(rules)), key=lambda i: rules[i]["priority"]):  # stable: declaration order
            rule = rules[i]
            while (clash := _first_clash(i, rule["priority"], words, prefixes, index)) is not None:
                total += 1
                if total > MAX_CONFLICTS:
                    raise PolicyError([{"path": kind, "message": (
                        f"more than {MAX_CONFLICTS} conflicts between rules of the same priority (the limit): "
                        f"give overlapping rules priorities of their own")}])
                stuck = rule["priority"] >= 100
                if len(entries) < MAX_REPORTED_CONFLICTS:
                    entries.append(_conflict(label, rules[clash[0]], rule, clash[1], stuck))
                if stuck:
                    break
                rule["priority"] += 1
            for word in prefixes[i]:
                index.setdefault((rule["priority"], word), []).append(i)
    return entries, total


def _prefixes(words: list[frozenset[str]]) -> list[tuple[str, ...]]:
    """Each set's rarest words, enough that two sets with Jaccard > t share one of them (prefix filtering):
    overlap > t * |A | B| >= t * |A|, so A's first |A| - floor(t * |A|) words in rarity order hold a shared one."""
    freq: dict[str, int] = {}
    for ws in words:
        for w in ws:
            freq[w] = freq.get(w, 0) + 1
    return [tuple(sorted(ws, key=lambda w: (freq[w], w))[:len(ws) - int(CONFLICT_THRESHOLD * len(ws))])
            for ws in words]


def _first_clash(i: int, priority: int, words: list[frozenset[str]], prefixes: list[tuple[str, ...]],
                 index: dict[tuple[int, str], list[int]]) -> tuple[int, float] | None:
    """The earliest placed rule at ``priority`` whose words overlap rule ``i``'s (Jaccard > t), with the score."""
    candidates = {j for word in prefixes[i] for j in index.get((priority, word), ())}
    for j in sorted(candidates):
        both = len(words[i] & words[j])
        score = both / (len(words[i]) + len(words[j]) - both)
        if score > CONFLICT_THRESHOLD:
            return j, score
    return None


def _conflict(label: str, other: Mapping[str, Any], rule: Mapping[str, Any], score: float,
              stuck: bool) -> dict[str, Any]:
    """One report entry: who overlaps whom, and how it was resolved."""
    before = rule["priority"]
    entry = {"type": label, "rule1": other["id"], "rule2": rule["id"], "overlapScore": round(score, 3),
             "resolution": "AUTO_DEMOTE_LATER", "severity": "WARNING", "priorityBefore": before,
             "priorityAfter": before if stuck else before + 1}
    if stuck:
        entry["message"] = (f"{rule['id']} overlaps {other['id']} at priority 100; it cannot be demoted further, "
                            f"so declaration order decides ({other['id']} first)")
    else:
        entry["message"] = (f"{rule['id']} overlaps {other['id']} (Jaccard {score:.2f}) at priority {before}; "
                            f"{rule['id']} demoted to {before + 1}")
    return entry


def _warnings(content: dict[str, Any]) -> list[dict[str, str]]:
    allowed = set(content["allowedActions"])
    rules_by_id = {r["id"]: r for r in content["transferRules"]}
    intents = {r["intentTag"] for r in content["transferRules"] if r["enabled"]}
    out = []
    for i, tr in enumerate(content["transferRules"]):
        need = f"TRANSFER_{tr['intentTag'].upper()}"
        if tr["enabled"] and need not in allowed:
            out.append({"path": f"transferRules[{i}]",
                        "message": f"{need} is not in allowedActions: this transfer will be blocked and the caller offered a message instead"})
    for i, ec in enumerate(content["edgeCases"]):
        act = ec["action"]
        if act["type"] == "force_transfer" and ec["enabled"]:
            target = act["transferTarget"]
            rule = rules_by_id.get(target)
            intent = rule["intentTag"] if rule else (target if target in intents else None)
            need = f"TRANSFER_{intent.upper()}" if intent else "TRANSFER_GENERAL"
            if need not in allowed:
                out.append({"path": f"edgeCases[{i}].action.transferTarget",
                            "message": f"{need} is not in allowedActions: this forced transfer will be blocked"})
            if not rule and not intent and not re.search(r"\d{7}", re.sub(r"\D", "", target)):
                out.append({"path": f"edgeCases[{i}].action.transferTarget", "contact": target,
                            "message": f"{target!r} is not a transfer rule id or intent; it must name one of the company's contacts"})
    return out


def _inherited(content: dict[str, Any]) -> list[dict[str, Any]]:
    """Which built-in words each transfer rule inherits from its intent (beside its own keywords)."""
    out = []
    for tr in content["transferRules"]:
        intent = tr["intentTag"]
        inherit = tr.get("inheritIntentWords", True)
        own = set(tr["keywords"])
        words = [w for w in content["intentPhrases"].get(intent, []) if w not in own] if inherit else []
        out.append({"rule": tr["id"], "intent": intent, "ownKeywords": list(tr["keywords"]), "inherits": words,
                    "unless": list((content.get("intentUnless") or {}).get(intent, [])) if inherit else [],
                    "combinations": len((content.get("intentCombos") or {}).get(intent, [])) if inherit else 0})
    return out


def canonical_json(content: Any) -> str:
    """The one serialization that checksums are taken over: sorted keys, no whitespace, UTF-8."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def checksum_of(content: Any) -> str:
    """SHA-256 (64 hex characters) of the canonical content."""
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


class CompiledPolicy:
    """An immutable compiled policy: content, checksum, compile report and ready-to-run matchers."""

    __slots__ = ("version", "checksum", "report", "content", "runtime")

    def __init__(self, *, version: int, checksum: str, report: Mapping[str, Any],
                 content: Mapping[str, Any]) -> None:
        from .runtime import Runtime  # runtime imports the matchers; keep compiler import light

        frozen = freeze(content) if isinstance(content, dict) else content
        set_ = object.__setattr__
        set_(self, "version", version)
        set_(self, "checksum", checksum)
        set_(self, "report", freeze(thaw(report)))
        set_(self, "content", frozen)
        set_(self, "runtime", Runtime(frozen))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a compiled policy is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("a compiled policy is immutable")

    def __repr__(self) -> str:
        return f"<CompiledPolicy v{self.version} {self.checksum[:12]}>"

    def to_artifact(self) -> dict[str, Any]:
        """The stored form: JSON-ready, self-contained, verified by ``load_artifact``."""
        return {"format": FORMAT_VERSION, "version": self.version, "checksum": self.checksum,
                "content": thaw(self.content), "report": thaw(self.report)}


def compile_cheatsheet(source: Mapping[str, Any] | str) -> CompiledPolicy:
    """Compile a cheat sheet (a dict, or YAML/JSON text) into an immutable, checksummed policy."""
    data = parse_text(source) if isinstance(source, str) else source
    sheet = validate(dict(data) if isinstance(data, Mapping) else data)
    content = _content(sheet)
    conflicts, conflicts_total = detect_conflicts(content)
    used_vars = sorted({v for ec in content["edgeCases"] for key in ("inlineResponse", "transferMessage", "hangupMessage")
                        for v in variables_in(ec["action"].get(key) or "")}
                       | {v for tr in content["transferRules"] for v in variables_in(tr["script"])})
    report = {
        "conflicts": conflicts,
        "conflictsTotal": conflicts_total,
        "warnings": _warnings(content),
        "intentWords": _inherited(content),
        "variables": used_vars,
        "stats": {"edgeCases": sum(1 for e in content["edgeCases"] if e["enabled"]),
                  "transferRules": sum(1 for t in content["transferRules"] if t["enabled"]),
                  "disabled": sum(1 for r in content["edgeCases"] + content["transferRules"] if not r["enabled"]),
                  "tests": len(content["tests"])},
    }
    return CompiledPolicy(version=sheet.version, checksum=checksum_of(content), report=report, content=content)


def load_artifact(artifact: Mapping[str, Any] | str) -> CompiledPolicy:
    """Rebuild a policy from its stored artifact, refusing one whose checksum does not verify."""
    data = json.loads(artifact) if isinstance(artifact, str) else artifact
    if not isinstance(data, Mapping) or not isinstance(data.get("content"), Mapping):
        raise PolicyIntegrityError([{"path": "content", "message": "artifact has no content"}])
    if data.get("format") != FORMAT_VERSION:
        raise PolicyIntegrityError([{"path": "format", "message": f"artifact format {data.get('format')!r} is not {FORMAT_VERSION}"}])
    content = thaw(data["content"])
    actual = checksum_of(content)
    if actual != data.get("checksum"):
        raise PolicyIntegrityError([{"path": "checksum",
                                     "message": f"checksum mismatch: stored {str(data.get('checksum'))[:16]}..., content hashes to {actual[:16]}..."}])
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise PolicyIntegrityError([{"path": "version", "message": "artifact version must be a positive integer"}])
    return CompiledPolicy(version=version, checksum=actual, report=data.get("report") or {}, content=content)


__all__ = ["CompiledPolicy", "compile_cheatsheet", "load_artifact", "checksum_of", "canonical_json",
           "detect_conflicts", "FORMAT_VERSION", "PolicyError"]
