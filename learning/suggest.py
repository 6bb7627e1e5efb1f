"""Scenario suggestions from clusters of queue items (pure: data in, suggestions out).

For each cluster: the scenario it most resembles (word stems of the cluster against each
scenario's name, keywords and examples), the proposed change (keywords and example phrases for
that scenario, or a new scenario when none is close), and its estimated impact over the turns
learning has seen (the queue and a sample of answered turns): how many would have moved to
Tier 1 or 2, and how many answered turns a new keyword could take from another scenario.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from rapidfuzz import fuzz

from policy.text import normalize

from .cluster import STOP_WORDS, Cluster, cluster, content_words, ngrams, stems, tokens
from .scrub import has_placeholder

#: Examples shown to staff per suggestion, and example phrases proposed per suggestion.
SHOWN, PROPOSED_EXAMPLES, PROPOSED_KEYWORDS = 10, 5, 3
#: A cluster needs this stem similarity to an existing scenario to be proposed for it.
MIN_SIMILARITY = 0.35


@dataclass(frozen=True)
class Turn:
    """What a suggestion needs of one queue item or sampled answered turn."""

    id: str
    text: str                      # scrubbed
    count: int = 1
    scenario: str | None = None    # the scenario that answered it (None: unanswered)
    reply: str | None = None       # Tier 3's reply, if Tier 3 answered


@dataclass
class Suggestion:
    """A proposed change to a scenario template, with its evidence."""

    kind: str                                  # add_to_scenario | new_scenario
    scenario: str | None
    examples: list[str]
    count: int
    coherence: float
    item_ids: list[str]
    change: dict[str, Any]
    impact: dict[str, int] = field(default_factory=dict)
    similarity: float = 0.0

    @property
    def signature(self) -> str:
        """A stable id for the same proposal (the same cluster proposed again is the same suggestion)."""
        key = f"{self.kind}|{self.scenario}|{'|'.join(sorted(self.item_ids))}"
        return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()

    def to_doc(self) -> dict[str, Any]:
        """The suggestion as a stored document's fields."""
        return {"kind": self.kind, "scenario": self.scenario, "examples": self.examples, "count": self.count,
                "coherence": self.coherence, "item_ids": self.item_ids, "change": self.change,
                "impact": self.impact, "similarity": round(self.similarity, 3)}


def _bag(texts: Sequence[str]) -> Counter:
    bag: Counter = Counter()
    for t in texts:
        bag.update(set(stems(t)))
    return bag


class Profiles:
    """Each scenario's stems (name, id, keywords, examples), weighted by how rare a stem is across scenarios."""

    def __init__(self, template: Mapping[str, Any]) -> None:
        import math

        self.ids = [sc["id"] for sc in template.get("scenarios") or ()]
        self.keywords = {sc["id"]: {normalize(k) for k in sc.get("keywords") or ()}
                         for sc in template.get("scenarios") or ()}
        bags = []
        for sc in template.get("scenarios") or ():
            words = [sc.get("name", ""), sc["id"].replace("_", " ").replace("-", " "), *(sc.get("keywords") or ()),
                     *(sc.get("examples") or ()), *(q.get("q", "") for q in sc.get("qna") or ())]
            bags.append(_bag(words))
        df = Counter(s for b in bags for s in b)
        n = max(1, len(bags))
        self.idf = {s: math.log((1 + n) / (1 + d)) + 1.0 for s, d in df.items()}
        self.vectors = [self._unit({s: (1 + math.log(c)) * self.idf[s] for s, c in b.items()}) for b in bags]

    @staticmethod
    def _unit(vec: dict[str, float]) -> dict[str, float]:
        norm = sum(v * v for v in vec.values()) ** 0.5
        return {k: v / norm for k, v in vec.items()} if norm else {}

    def nearest(self, texts: Sequence[str]) -> tuple[str | None, float]:
        """The scenario closest to a group of texts, and the cosine similarity."""
        import math

        bag = _bag(texts)
        total = sum(bag.values()) or 1
        unseen = max(self.idf.values(), default=1.0)  # a stem no scenario uses counts against every scenario
        vec = self._unit({s: (c / total) * self.idf.get(s, unseen) for s, c in bag.items()})
        best, best_sim = None, 0.0
        for sid, prof in zip(self.ids, self.vectors):
            sim = sum(w * prof.get(s, 0.0) for s, w in vec.items())
            if sim > best_sim + 1e-12:
                best, best_sim = sid, sim
        return best, (best_sim if not math.isnan(best_sim) else 0.0)


class Pool:
    """Every phrase (1-3 words) of the turns learning has seen, with who answered the turns it occurs in."""

    def __init__(self, turns: Sequence[Turn], owners: Sequence[str | None]) -> None:
        self.turns = turns
        self.owners = owners
        self.where: dict[str, list[int]] = defaultdict(list)
        for i, t in enumerate(turns):
            for g in ngrams(tokens(t.text)):
                self.where[g].append(i)

    def precision(self, phrase: str, owner: str) -> tuple[float, int]:
        """The share of turns (occurrences) with the phrase that belong to ``owner``, and their number."""
        hits = self.where.get(phrase, ())
        total = sum(self.turns[i].count for i in hits)
        mine = sum(self.turns[i].count for i in hits if self.owners[i] == owner)
        return (mine / total if total else 0.0), total


def choose_keywords(texts: Sequence[str], counts: Sequence[int], owner: str, pool: Pool,
                    taken: Mapping[str, str], *, share: float = 0.25, precision: float = 0.8) -> list[str]:
    """Phrases common in the cluster that rarely occur in turns anything else answered; at most a few."""
    size = sum(counts)
    df: Counter = Counter()
    for text, c in zip(texts, counts):
        for g in ngrams(tokens(text)):
            df[g] += c
    ranked = []
    for g, n in df.items():
        if n < max(2, share * size) or taken.get(g, owner) != owner or not any(w not in STOP_WORDS for w in g.split()):
            continue
        p, total = pool.precision(g, owner)
        if p >= precision:
            ranked.append((-p, -n, len(g.split()), g))
    chosen: list[str] = []
    for _, _, _, g in sorted(ranked):
        if any(f" {g} " in f" {c} " or f" {c} " in f" {g} " for c in chosen):
            continue
        chosen.append(g)
        if len(chosen) == PROPOSED_KEYWORDS:
            break
    return chosen


def _examples(texts: Sequence[str], existing: set[str], n: int) -> list[str]:
    out: list[str] = []
    for t in texts:
        norm = normalize(t)
        if has_placeholder(t) or not norm or norm in existing or len(t) > 200 or norm in (normalize(o) for o in out):
            continue
        out.append(t.strip())
        if len(out) == n:
            break
    return out


def _slug(words: Sequence[str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join(words).lower()).strip("-")[:48]
    return slug or "new-scenario"


def estimate(keywords: Sequence[str], examples: Sequence[str], members: Sequence[int], owner: str, pool: Pool,
             threshold: float) -> dict[str, int]:
    """Turns that would have moved to Tier 1 (a proposed keyword) or Tier 2 (a proposed example), and answered
    turns a proposed keyword could take from the scenario that answered them."""
    hit: set[int] = set()
    for k in keywords:
        hit.update(pool.where.get(normalize(k), ()))
    to1 = sum(pool.turns[i].count for i in hit if pool.turns[i].scenario is None)
    changed = sum(pool.turns[i].count for i in hit
                  if pool.turns[i].scenario is not None and pool.turns[i].scenario != owner)
    norm_examples = [normalize(e) for e in examples]
    to2 = 0
    for i in members:
        if i in hit or pool.turns[i].scenario is not None or not norm_examples:
            continue
        text = normalize(pool.turns[i].text)
        if max(fuzz.token_set_ratio(text, e) for e in norm_examples) >= threshold:
            to2 += pool.turns[i].count
    return {"to_tier1": to1, "to_tier2": to2, "changed_answers": changed, "turns_checked": len(pool.turns)}


def suggest(template: Mapping[str, Any], items: Sequence[Turn], context: Sequence[Turn] = (), *,
            radius: float = 0.3, min_size: int = 3) -> list[Suggestion]:
    """Suggestions for one template from the scenario queue's items (and a sample of answered turns)."""
    clusters = cluster([t.text for t in items], radius=radius, min_size=min_size)
    profiles = Profiles(template)
    targets: list[tuple[str, float]] = []
    owners: list[str | None] = [None] * len(items)
    for n, c in enumerate(clusters):
        target, sim = profiles.nearest([items[i].text for i in c.members[:50]])
        owner = target if target and sim >= MIN_SIMILARITY else f"new:{n}"
        targets.append((owner, sim))
        for i in c.members:
            owners[i] = owner
    turns = list(items) + list(context)
    pool = Pool(turns, owners + [t.scenario for t in context])
    taken = {k: sid for sid, kws in profiles.keywords.items() for k in kws}
    existing = {normalize(e) for sc in template.get("scenarios") or () for e in sc.get("examples") or ()}
    threshold = float(template.get("fuzzyThreshold", 82))
    return [s for c, (owner, sim) in zip(clusters, targets)
            if (s := _one(c, owner, sim, items, pool, taken, existing, threshold)) is not None]


def _one(c: Cluster, owner: str, sim: float, items: Sequence[Turn], pool: Pool, taken: Mapping[str, str],
         existing: set[str], threshold: float) -> Suggestion | None:
    texts = [items[i].text for i in c.members]
    counts = [items[i].count for i in c.members]
    keywords = choose_keywords(texts, counts, owner, pool, taken)
    examples = _examples(texts, existing, PROPOSED_EXAMPLES)
    if not keywords and not examples:
        return None
    shown = _examples(texts, set(), SHOWN) or texts[:SHOWN]
    ids = [items[i].id for i in c.members]
    impact = estimate(keywords, examples, c.members, owner, pool, threshold)
    if not owner.startswith("new:"):
        change = {"scenario": owner, "keywords": keywords, "examples": examples}
        return Suggestion("add_to_scenario", owner, shown, c.count, c.coherence, ids, change, impact, sim)
    top = keywords[0].split() if keywords else content_words(texts[0])[:3]
    replies = Counter(items[i].reply for i in c.members if items[i].reply)
    scenario = {"id": _slug(top), "name": " ".join(top).capitalize(), "keywords": keywords,
                "examples": examples, "replies": [replies.most_common(1)[0][0]] if replies else []}
    return Suggestion("new_scenario", None, shown, c.count, c.coherence, ids, {"scenario": scenario}, impact, sim)


__all__ = ["Turn", "Suggestion", "Profiles", "Pool", "suggest", "choose_keywords", "estimate", "SHOWN"]
