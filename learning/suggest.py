"""Scenario suggestions from clusters of queue items (pure: data in, suggestions out).

For each cluster: the scenario it most resembles (Tier 2's similarity of the cluster's words to
each scenario's name, keywords and examples, averaged over the cluster; a scenario staff rejected
for a cluster like it is passed over for the next), the proposed change (example phrases for that
scenario, or a new scenario with keywords and examples when none is close), and its estimated
impact over the turns learning has seen (the queue and a sample of answered turns): how many would
have moved to Tier 1 or 2, and how many answered turns a new keyword could take from another scenario.
Turns in no cluster that read clearly like one scenario are proposed for it together; a turn staff said
is not a scenario (a rejected proposal) is not proposed for it again.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from policy.errors import PolicyError
from policy.scenarios import SIMILARITY, CompiledTemplate, compile_template
from policy.text import normalize

from .cluster import STOP_WORDS, Cluster, cluster, coherence, content_words, ngrams, tokens
from .scrub import has_placeholder

#: Examples shown to staff per suggestion, and example phrases proposed per suggestion (the closest to the
#: cluster's centre first; Tier 2 generalizes from examples, so a cluster gives several).
SHOWN, PROPOSED_EXAMPLES, PROPOSED_KEYWORDS = 10, 10, 3
#: A scenario holds at most this many examples (the template's schema).
MAX_EXAMPLES = 100
#: A cluster needs this mean similarity to an existing scenario's words to be proposed for it (else it is proposed
#: as a new scenario). Once staff said its turns are not a new scenario, ``NOT_NEW_SIMILARITY`` will do when the
#: scenario's words also say ``NOT_NEW_COVERED`` of the words that carry the turns' requests ("do you fix garage
#: door openers" is not offered to the opening hours for "open").
MIN_SIMILARITY, NOT_NEW_SIMILARITY, NOT_NEW_COVERED = 0.25, 0.15, 0.5
#: What a rejected new-scenario proposal rules out for its turns (no scenario id has a "+").
NOT_NEW = "+new"
#: A cluster this similar to a rejected suggestion's examples is not proposed for its scenario again; the
#: next of the ``CANDIDATES`` scenarios most like it is.
REJECTED_LIKE, CANDIDATES = 0.4, 3
#: A scenario with fewer examples and answered turns than ``FEW_EXAMPLES`` (the template hardly knows how callers ask
#: for it) is offered turns staff said are no new scenario when no scenario's words cover them, if they read at
#: least ``FEW_SIMILARITY`` like it.
FEW_EXAMPLES, FEW_SIMILARITY = 1, 0.05
#: Clustering radius (cosine distance), and the fewest turns (repeats included) a cluster needs.
RADIUS, MIN_CLUSTER = 0.5, 2
#: A turn in no cluster joins a group for the scenario whose words it is this alike (0..1), when it leads the
#: next scenario by ``STRAY_MARGIN``.
STRAY_SIMILARITY, STRAY_MARGIN = 0.2, 0.05
#: A proposed keyword has at least this many words: one word alone catches other requests.
KEYWORD_WORDS = 2


@dataclass(frozen=True)
class Turn:
    """What a suggestion needs of one queue item or sampled answered turn."""

    id: str
    text: str                      # scrubbed
    count: int = 1
    scenario: str | None = None    # the scenario that answered it (None: unanswered)
    reply: str | None = None       # Tier 3's reply, if Tier 3 answered
    refused: tuple[str, ...] = ()  # scenarios staff said it is not (rejected proposals)


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
    stray: bool = False                        # turns in no cluster, grouped by the scenario they read like
    check: bool = False                        # sure answers of a scenario with few examples, for staff to confirm

    @property
    def signature(self) -> str:
        """A stable id for the same proposal (the same cluster proposed again is the same suggestion)."""
        key = f"{self.kind}|{self.scenario}|{'|'.join(sorted(self.item_ids))}"
        return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()

    def to_doc(self) -> dict[str, Any]:
        """The suggestion as a stored document's fields."""
        return {"kind": self.kind, "scenario": self.scenario, "examples": self.examples, "count": self.count,
                "coherence": self.coherence, "item_ids": self.item_ids, "change": self.change,
                "impact": self.impact, "similarity": round(self.similarity, 3), "stray": self.stray,
                "check": self.check}


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
        if len(g.split()) < KEYWORD_WORDS:
            continue
        if any(f" {g} " in f" {c} " or f" {c} " in f" {g} " for c in chosen):
            continue
        chosen.append(g)
        if len(chosen) == PROPOSED_KEYWORDS:
            break
    return chosen


def _examples(texts: Sequence[str], existing: set[str], n: int) -> list[str]:
    out: list[str] = []
    if n <= 0:
        return out
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


def estimate(keywords: Sequence[str], examples: Sequence[str], members: Sequence[int], owner: str,
             pool: Pool) -> dict[str, int]:
    """Turns that would have moved to Tier 1 (a proposed keyword) or Tier 2 (like a proposed example), and
    answered turns a proposed keyword could take from the scenario that answered them."""
    hit: set[int] = set()
    for k in keywords:
        hit.update(pool.where.get(normalize(k), ()))
    to1 = sum(pool.turns[i].count for i in hit if pool.turns[i].scenario is None)
    changed = sum(pool.turns[i].count for i in hit
                  if pool.turns[i].scenario is not None and pool.turns[i].scenario != owner)
    to2 = 0
    if examples:
        alone = compile_template({"id": "estimate", "name": "Estimate", "scenarios": [
            {"id": "proposed", "name": "Proposed", "examples": list(examples), "replies": ["-"]}]})
        for i in members:
            if i in hit or pool.turns[i].scenario is not None:
                continue
            found = alone.similar(pool.turns[i].text)
            if found is not None and found[1] >= SIMILARITY:
                to2 += pool.turns[i].count
    return {"to_tier1": to1, "to_tier2": to2, "changed_answers": changed, "turns_checked": len(pool.turns)}


def profiles(template: Mapping[str, Any], answered: Mapping[str, Sequence[str]] | None = None
             ) -> CompiledTemplate | None:
    """Each scenario's own words as examples to compare callers' words with: its name, id, keywords, Q&A
    questions and examples, then what callers said in turns it answered (the first ``MAX_EXAMPLES``)."""
    scenarios = []
    for sc in template.get("scenarios") or ():
        texts = [sc.get("name", ""), sc["id"].replace("_", " ").replace("-", " "), *(sc.get("keywords") or ()),
                 *(q.get("q", "") for q in sc.get("qna") or ()), *(sc.get("examples") or ()),
                 *((answered or {}).get(sc["id"]) or ())]
        seen: dict[str, str] = {}
        for t in texts:
            if normalize(t) and normalize(t) not in seen:
                seen[normalize(t)] = t[:200]
        scenarios.append({"id": sc["id"], "name": "-", "examples": list(seen.values())[:MAX_EXAMPLES],
                          "replies": ["-"]})
    try:
        return compile_template({"id": "profiles", "name": "Profiles", "scenarios": scenarios})
    except PolicyError:
        return None


def ranked(compiled: CompiledTemplate | None, texts: Sequence[str]) -> list[tuple[str, float]]:
    """Scenarios by their mean similarity to a group of texts, most alike first."""
    if compiled is None or not texts:
        return []
    total: dict[str, float] = defaultdict(float)
    for t in texts:
        for sid, sim in compiled.similarities(t).items():
            total[sid] += sim
    return sorted(((sid, v / len(texts)) for sid, v in total.items()), key=lambda kv: (-kv[1], kv[0]))


def refused(rejected: Sequence[tuple[str, Sequence[str]]]) -> tuple[CompiledTemplate | None, dict[str, str]]:
    """The examples of suggestions staff rejected, to compare new clusters with, and the scenario each proposed."""
    groups, proposed = [], {}
    for n, (scenario, examples) in enumerate(rejected):
        texts = [e[:200] for e in examples if normalize(e)][:MAX_EXAMPLES]
        if scenario and texts:
            groups.append({"id": f"r{n}", "name": "-", "examples": texts, "replies": ["-"]})
            proposed[f"r{n}"] = scenario
    if not groups:
        return None, {}
    try:
        return compile_template({"id": "rejected", "name": "Rejected", "scenarios": groups}), proposed
    except PolicyError:
        return None, {}


def suggest(template: Mapping[str, Any], items: Sequence[Turn], context: Sequence[Turn] = (), *,
            rejected: Sequence[tuple[str, Sequence[str]]] = (), radius: float = RADIUS,
            min_size: int = MIN_CLUSTER) -> list[Suggestion]:
    """Suggestions for one template from the scenario queue's items (and a sample of answered turns).

    ``rejected``: (scenario, examples) of suggestions staff rejected; a cluster like one of them is not
    proposed for that scenario again, but for the next one most like it.
    """
    # Spot checks (sure answers of a scenario with few examples; ``Turn.scenario`` is the one that answered) are
    # proposed for that scenario, for staff to confirm; one staff refused joins the other turns.
    known_ids = {sc["id"] for sc in template.get("scenarios") or ()}
    checks = [i for i, t in enumerate(items) if t.scenario in known_ids and t.scenario not in t.refused]
    rest = sorted(set(range(len(items))) - set(checks))
    clusters = [Cluster(tuple(rest[m] for m in c.members), c.count, c.coherence)
                for c in cluster([items[i].text for i in rest], radius=radius, min_size=min_size)]
    answered: dict[str, list[str]] = defaultdict(list)
    for t in context:
        if t.scenario:
            answered[t.scenario].append(t.text)
    compiled = profiles(template, answered)
    refused_index, refused_for = refused(rejected)
    # What the template knows of how callers ask for each scenario: its examples, Q&A and the turns it answered.
    known = {sc["id"]: len(sc.get("examples") or ()) + len(sc.get("qna") or ()) + len(answered.get(sc["id"]) or ())
             for sc in template.get("scenarios") or ()}
    targets: list[tuple[str | None, float]] = []
    owners: list[str | None] = [None] * len(items)
    for n, c in enumerate(clusters):
        texts = [items[i].text for i in c.members[:50]]
        ruled_out = {refused_for[g] for g, sim in ranked(refused_index, texts) if sim >= REJECTED_LIKE}
        # Staff said most of its turns are not that scenario.
        said_no = Counter(sid for i in c.members for sid in items[i].refused)
        ruled_out |= {sid for sid, times in said_no.items() if 2 * times >= len(c.members)}
        alike = [(sid, v) for sid, v in ranked(compiled, texts) if sid not in ruled_out]
        candidates = alike[:CANDIDATES]
        if NOT_NEW in ruled_out:
            # Staff said its turns are no new scenario: the existing scenario they read most like, even if only a
            # little; none fit, the scenario with few examples they read most like (callers ask for it in words
            # the template does not know yet, which is why no scenario took them); none at all (None), they wait
            # in the queue (the template may grow a scenario for them).
            owner, sim = next(((sid, v) for sid, v in candidates if v >= NOT_NEW_SIMILARITY
                               and compiled.covered(sid, texts) >= NOT_NEW_COVERED),
                              next(((sid, v) for sid, v in alike if known.get(sid, 0) < FEW_EXAMPLES
                                    and v >= FEW_SIMILARITY), (None, 0.0)))
        else:
            target, sim = candidates[0] if candidates else (None, 0.0)
            owner = target if target and sim >= MIN_SIMILARITY else f"new:{n}"
        targets.append((owner, sim))
        for i in c.members:
            owners[i] = owner
    # Turns no cluster took: each near one scenario's words (and clearly nearer it than any other) joins a
    # group for that scenario; a group of ``min_size`` is proposed like a cluster.
    placed = {i for c in clusters for i in c.members} | set(checks)
    strays: set[int] = set()
    groups: dict[str, list[tuple[float, int]]] = defaultdict(list)
    if compiled is not None:
        for i, t in enumerate(items):
            if i in placed:
                continue
            top = [(sid, v) for sid, v in ranked(compiled, [t.text]) if sid not in t.refused][:2]
            if not top:
                continue
            (sid, best), second = top[0], (top[1][1] if len(top) > 1 else 0.0)
            if best < STRAY_SIMILARITY or best - second < STRAY_MARGIN:
                continue
            if any(refused_for[g] == sid for g, sim in ranked(refused_index, [t.text]) if sim >= REJECTED_LIKE):
                continue
            groups[sid].append((best, i))
    for sid, members in sorted(groups.items()):
        if sum(items[i].count for _, i in members) < min_size:
            continue
        members.sort(key=lambda m: (-m[0], m[1]))
        c = Cluster(tuple(i for _, i in members), sum(items[i].count for _, i in members),
                    coherence([items[i].text for _, i in members]))
        clusters.append(c)
        targets.append((sid, round(sum(v for v, _ in members) / len(members), 3)))
        strays.add(len(clusters) - 1)
        for i in c.members:
            owners[i] = sid
    checked: set[int] = set()
    by_scenario: dict[str, list[int]] = defaultdict(list)
    for i in checks:
        by_scenario[items[i].scenario].append(i)
    for sid, members in sorted(by_scenario.items()):
        texts = [items[i].text for i in members]
        clusters.append(Cluster(tuple(members), sum(items[i].count for i in members), coherence(texts)))
        targets.append((sid, round(dict(ranked(compiled, texts[:50])).get(sid, 0.0), 3)))
        checked.add(len(clusters) - 1)
        for i in members:
            owners[i] = sid
    turns = list(items) + list(context)
    pool = Pool(turns, owners + [t.scenario for t in context])
    taken = {normalize(k): sc["id"] for sc in template.get("scenarios") or () for k in sc.get("keywords") or ()}
    existing = {normalize(e) for sc in template.get("scenarios") or () for e in sc.get("examples") or ()}
    room = {sc["id"]: MAX_EXAMPLES - len(sc.get("examples") or ()) for sc in template.get("scenarios") or ()}
    out = []
    for n, (c, (owner, sim)) in enumerate(zip(clusters, targets)):
        if owner is None:
            continue
        parts = [c] if owner.startswith("new:") else _parts(c, items, existing, room.get(owner, MAX_EXAMPLES))
        for part in parts:
            s = _one(part, owner, sim, items, pool, taken, existing, room)
            if s is not None:
                s.stray, s.check = n in strays, n in checked
                out.append(s)
    return out


def _parts(c: Cluster, items: Sequence[Turn], existing: set[str], room: int) -> list[Cluster]:
    """A cluster for an existing scenario in parts of at most ``SHOWN`` different phrases each (closest to the
    centre first), as many as the scenario has room for: staff see every phrase a part would add, so a large
    cluster teaches all of its phrasings, not only its first ten. Repeats of a phrase go with it; members past
    the scenario's room stay in the queue. A cluster that fits in one part is itself."""
    order: list[str] = []
    by_text: dict[str, list[int]] = defaultdict(list)
    for i in c.members:
        key = normalize(items[i].text)
        if key not in by_text:
            order.append(key)
        by_text[key].append(i)
    if len(order) <= SHOWN:
        return [c]
    parts: list[Cluster] = []
    budget = max(room, 0)
    for start in range(0, len(order), SHOWN):
        keys = order[start:start + SHOWN]
        if parts and budget <= 0:
            break
        budget -= sum(1 for k in keys if k and k not in existing)
        members = tuple(i for k in keys for i in by_text[k])
        parts.append(Cluster(members, sum(items[i].count for i in members),
                             coherence([items[i].text for i in members]) if start else c.coherence))
    return parts


def _one(c: Cluster, owner: str, sim: float, items: Sequence[Turn], pool: Pool, taken: Mapping[str, str],
         existing: set[str], room: Mapping[str, int]) -> Suggestion | None:
    texts = [items[i].text for i in c.members]
    counts = [items[i].count for i in c.members]
    # An existing scenario gets example phrases only: Tier 2 generalizes from them, while a learned keyword
    # outranks every example and catches other requests that share its words. A new scenario gets both.
    keywords = choose_keywords(texts, counts, owner, pool, taken) if owner.startswith("new:") else []
    examples = _examples(texts, existing, max(0, min(PROPOSED_EXAMPLES, room.get(owner, MAX_EXAMPLES))))
    if not keywords and not examples:
        return None
    shown = _examples(texts, set(), SHOWN) or texts[:SHOWN]
    ids = [items[i].id for i in c.members]
    impact = estimate(keywords, examples, c.members, owner, pool)
    if not owner.startswith("new:"):
        change = {"scenario": owner, "keywords": keywords, "examples": examples}
        return Suggestion("add_to_scenario", owner, shown, c.count, c.coherence, ids, change, impact, sim)
    top = keywords[0].split() if keywords else content_words(texts[0])[:3]
    replies = Counter(items[i].reply for i in c.members if items[i].reply)
    scenario = {"id": _slug(top), "name": " ".join(top).capitalize(), "keywords": keywords,
                "examples": examples, "replies": [replies.most_common(1)[0][0]] if replies else []}
    return Suggestion("new_scenario", None, shown, c.count, c.coherence, ids, {"scenario": scenario}, impact, sim)


__all__ = ["Turn", "Suggestion", "Pool", "suggest", "choose_keywords", "estimate", "profiles", "ranked", "refused",
           "SHOWN", "NOT_NEW"]
