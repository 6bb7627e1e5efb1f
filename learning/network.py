"""Network learning: what several companies of one trade teach their shared template (pure).

Input: for each opt-in company, its scenario suggestions (already scrubbed of personal data)
and its vocabulary (the words its callers used). Suggestions for the same scenario (or, for a
new scenario, with the same leading keyword) are pooled across companies. A pooled cluster is
surfaced to template admins only when it occurs in at least ``MIN_COMPANIES`` companies, its
coherence is at least ``MIN_COHERENCE`` and its quality score at least ``MIN_QUALITY``.

Nothing only one company said leaves it: a keyword or an example phrase is shared only when
every word in it is used by at least ``MIN_COMPANIES`` companies. So a name, a street or a number
a detector missed cannot reach another company.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .cluster import tokens

MIN_COMPANIES = 3
MIN_COHERENCE = 0.8
MIN_QUALITY = 0.7
#: Quality = these weights over occurrence (share of the trade's opt-in companies), coherence, history.
WEIGHTS = (0.4, 0.4, 0.2)
#: History when nothing was decided yet: neutral.
NO_HISTORY = 0.5


@dataclass(frozen=True)
class CompanyInput:
    """One opt-in company's part: its suggestions and the words its callers used."""

    company_id: str
    template_id: str | None
    suggestions: Sequence[Mapping[str, Any]]
    vocabulary: frozenset[str]


def quality(occurrence: float, coherence: float, history: float | None) -> float:
    """The quality score of a network suggestion, 0..1."""
    w_occ, w_coh, w_hist = WEIGHTS
    return round(w_occ * occurrence + w_coh * coherence + w_hist * (NO_HISTORY if history is None else history), 3)


def shared_words(companies: Sequence[CompanyInput], minimum: int = MIN_COMPANIES) -> frozenset[str]:
    """Words used by at least ``minimum`` companies."""
    counts: Counter = Counter()
    for c in companies:
        counts.update(c.vocabulary)
    return frozenset(w for w, n in counts.items() if n >= minimum)


def _key(s: Mapping[str, Any]) -> str | None:
    if s.get("stray") or s.get("check"):
        return None  # turns in no cluster, grouped by the scenario they read like: not a cluster to pool
    change = s.get("change") or {}
    if s.get("kind") == "add_to_scenario" and s.get("scenario"):
        return f"scenario:{s['scenario']}"
    if s.get("kind") == "new_scenario":
        new = change.get("scenario") if isinstance(change.get("scenario"), Mapping) else {}
        kws = new.get("keywords") or []
        return f"new:{kws[0]}" if kws else None
    return None


def _safe(phrase: str, shared: frozenset[str]) -> bool:
    words = tokens(phrase)
    return bool(words) and "<" not in phrase and all(w in shared for w in words)


def aggregate(trade: str, companies: Sequence[CompanyInput], *, history: float | None = None
              ) -> list[dict[str, Any]]:
    """Network suggestions for one trade (only those passing every threshold), best first."""
    shared = shared_words(companies)
    pooled: dict[tuple[str | None, str], list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
    for c in companies:
        for s in c.suggestions:
            key = _key(s)
            if key:
                pooled[(c.template_id, key)].append((c.company_id, s))
    out = []
    total = max(1, len(companies))
    for (template_id, key), members in sorted(pooled.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        doc = _one(trade, template_id, key, members, shared, total, history)
        if doc is not None:
            out.append(doc)
    return sorted(out, key=lambda d: (-d["quality"], d["_id"]))


def _one(trade: str, template_id: str | None, key: str, members: list[tuple[str, Mapping[str, Any]]],
         shared: frozenset[str], total: int, history: float | None) -> dict[str, Any] | None:
    companies = sorted({cid for cid, _ in members})
    if len(companies) < MIN_COMPANIES:
        return None
    count = sum(int(s.get("count") or 0) for _, s in members)
    coherence = round(sum(float(s.get("coherence") or 0) * int(s.get("count") or 0) for _, s in members)
                      / max(1, count), 3)
    score = quality(len(companies) / total, coherence, history)
    if coherence < MIN_COHERENCE or score < MIN_QUALITY:
        return None
    kw_companies: dict[str, set[str]] = defaultdict(set)
    examples: list[str] = []
    for cid, s in members:
        change = s.get("change") or {}
        new = change.get("scenario") if isinstance(change.get("scenario"), Mapping) else {}
        kws = change.get("keywords") or new.get("keywords") or []
        for k in kws:
            kw_companies[k].add(cid)
        examples += [e for e in s.get("examples") or () if _safe(e, shared)]
    keywords = sorted((k for k, cs in kw_companies.items() if len(cs) >= 2 and _safe(k, shared)),
                      key=lambda k: (-len(kw_companies[k]), k))[:5]
    examples = list(dict.fromkeys(examples))[:10]
    if not keywords and not examples:
        return None
    scenario = key.split(":", 1)[1] if key.startswith("scenario:") else None
    sig = hashlib.blake2b(f"{trade}|{template_id}|{key}".encode(), digest_size=8).hexdigest()
    return {"_id": f"{trade}:{sig}", "trade": trade, "template_id": template_id, "key": key,
            "kind": "add_to_scenario" if scenario else "new_scenario", "scenario": scenario,
            "keywords": keywords, "examples": examples, "companies": len(companies), "company_ids": companies,
            "count": count, "coherence": coherence, "quality": score}


__all__ = ["aggregate", "quality", "shared_words", "CompanyInput", "MIN_COMPANIES", "MIN_COHERENCE", "MIN_QUALITY"]
