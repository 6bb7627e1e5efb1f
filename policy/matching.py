"""Matchers built once per policy: whole-word phrases (Aho-Corasick) and RE2 patterns (prefiltered)."""

from __future__ import annotations

from operator import itemgetter
from typing import Iterable

import ahocorasick
import re2

from .canon import FUNCTION_WORDS, Canon, canon, stems_of
from .negation import NEGATORS, affirmed, suspects
from .schema import pattern_body, re2_options
from .text import normalize

#: A loose match may leave at most this many of the caller's words (besides function words) between two of
#: the phrase's.
LOOSE_GAP = 2
#: Phrases longer than this (in stems) match only as written.
LOOSE_MAX = 6
_second = itemgetter(1)


class PhraseIndex:
    """Finds which of many phrases occur as whole words in a text, in one pass over the text.

    Phrases and text are normalized the same way and padded with spaces, so "ai" never
    fires on "said" and "no heat" fires on "there's no heat upstairs".
    """

    __slots__ = ("_automaton", "_ids", "phrases")

    def __init__(self, phrases: Iterable[str]) -> None:
        self._ids: dict[str, int] = {}
        self.phrases: list[str] = []
        self._automaton = ahocorasick.Automaton()
        for phrase in phrases:
            self.add(phrase)
        self.finish()

    def finish(self) -> None:
        """Build the automaton once every phrase is added."""
        if self.phrases:
            self._automaton.make_automaton()

    def add(self, phrase: str) -> int:
        """Register a phrase (before the first search); returns its id."""
        norm = normalize(phrase)
        if norm in self._ids:
            return self._ids[norm]
        pid = len(self.phrases)
        self._ids[norm] = pid
        self.phrases.append(norm)
        self._automaton.add_word(f" {norm} ", pid)
        return pid

    def id_of(self, phrase: str) -> int:
        """The id of a registered phrase."""
        return self._ids[normalize(phrase)]

    def search(self, padded_text: str) -> set[int]:
        """Ids of the phrases found in a normalized, space-padded text."""
        if not self.phrases:
            return set()
        return {pid for _, pid in self._automaton.iter(padded_text)}


class SpokenIndex:
    """Finds which of many phrases a caller said, the way people say them (see ``policy.canon``).

    A phrase matches when its canonical stems occur together in the caller's canonical words
    ("leaking" for "leak", "isn't working" for "not working", "twenty" for "20"), or loosely:
    in the same order with at most two other words between them ("smell of natural gas" for
    "smell gas"), and a phrase of two content words in either order ("gas smell" for "smell
    gas", with at most one word between). Function words of a phrase ("to", "with", "my") may be
    left out in a loose match, and a loose match stays within one clause ("I'm out of town, can
    you check the heat" is not "heat out"). Punctuation never stops a match of the phrase as written.
    One Aho-Corasick pass finds the exact matches; loose ones are checked only for phrases
    whose rarest stem the caller said, so matching stays fast with thousands of phrases.
    """

    __slots__ = ("_automaton", "_ids", "phrases", "_stems", "_markers", "_loose", "negative")

    def __init__(self, phrases: Iterable[str] = ()) -> None:
        self.negative: frozenset[int] = frozenset()
        self._ids: dict[str, int] = {}
        self.phrases: list[str] = []
        self._stems: list[tuple[str, ...]] = []
        self._markers: dict[str, int] = {}
        self._loose: dict[str, list[tuple[int, frozenset[str], tuple[str, ...], bool]]] = {}
        self._automaton = ahocorasick.Automaton()
        for phrase in phrases:
            self.add(phrase)
        self.finish()

    def add(self, phrase: str) -> int:
        """Register a phrase (before ``finish``); returns its id (phrases with the same stems share one)."""
        stems = stems_of(phrase)
        key = " ".join(stems)
        if key in self._ids:
            return self._ids[key]
        pid = len(self.phrases)
        self._ids[key] = pid
        self.phrases.append(normalize(phrase))
        self._stems.append(stems)
        if len(stems) == 1 and stems[0].startswith("#"):
            self._markers[stems[0]] = pid
        elif stems:
            self._automaton.add_word(f" {key} ", pid)
        return pid

    def finish(self) -> None:
        """Build the automaton and the loose-match anchors once every phrase is added."""
        counts: dict[str, int] = {}
        for stems in self._stems:
            for s in set(stems):
                counts[s] = counts.get(s, 0) + 1
        self._loose = {}
        #: Phrases that hold a negation of their own ("no heat", "not cooling", "nobody called"): a denial
        #: cannot take them.
        self.negative = frozenset(pid for pid, stems in enumerate(self._stems) if not NEGATORS.isdisjoint(stems))
        for pid, stems in enumerate(self._stems):
            need = _required(stems)
            if 2 <= len(stems) <= LOOSE_MAX:
                anchor = min(need, key=lambda s: (counts[s], s))
                # (the phrase, the words a loose match needs as a set and in order, whether either order will do)
                either = len(stems) == 2 and len(need) == 2 and "no" not in stems
                needed = need if len(need) >= 2 else stems
                self._loose.setdefault(anchor, []).append((pid, frozenset(needed), needed, either))
        if len(self._automaton):
            self._automaton.make_automaton()

    def stems(self, pid: int) -> tuple[str, ...]:
        """The canonical stems of a registered phrase."""
        return self._stems[pid]

    def id_of(self, phrase: str) -> int:
        """The id of a registered phrase."""
        return self._ids[" ".join(stems_of(phrase))]

    def search(self, words: Canon | str) -> set[int]:
        """Ids of the phrases the caller said (``words``: their text or its ``canon``)."""
        return set(self.scored(words))

    def scored(self, words: Canon | str) -> dict[int, int]:
        """Each phrase the caller said, with how: 2 as written (in canonical words), 1 loosely."""
        c = canon(words) if isinstance(words, str) else words
        found: dict[int, int] = (dict.fromkeys(map(_second, self._automaton.iter(c.joined)), 2)
                                 if c.stems and len(self._automaton) else {})
        for marker in c.markers:
            pid = self._markers.get(marker)
            if pid is not None:
                found[pid] = 2
        if self._loose:
            places: dict[str, list[int]] | None = None
            loose = self._loose
            said = frozenset(c.stems)
            for stem in loose.keys() & said:
                for pid, needed, need, either in loose[stem]:
                    if pid in found or not needed <= said:
                        continue
                    if places is None:
                        places = {}
                        for i, s in enumerate(c.stems):
                            places.setdefault(s, []).append(i)
                    if _loose_match(need, either, places, c):
                        found[pid] = 1
        return found


def denied(index: SpokenIndex, hits: Iterable[int], text: str, words: Canon) -> set[int]:
    """Which of the phrases found in ``text`` the caller denies ("no sparks or smell", "it's not an emergency"):
    those not found again in the words without the denials (a phrase with a "no" of its own, "no heat", never
    is). Cheap unless a phrase said holds a word a denial may take: only then are the words read again."""
    joined = words.joined
    if not (" no " in joined or " nobodi " in joined or " none " in joined or " noon " in joined):
        return set()  # ("not", "-n't" and "without" are "no" in canonical words)
    negative = index.negative
    candidates = [pid for pid in hits if pid not in negative]
    if not candidates:
        return set()
    maybe = suspects(words)
    if not maybe or not any(not maybe.isdisjoint(index.stems(pid)) for pid in candidates):
        return set()
    said = affirmed(text)
    if said is None:
        return set()
    still = index.search(canon(said))
    return {pid for pid in candidates if pid not in still}


def _required(stems: tuple[str, ...]) -> tuple[str, ...]:
    """The stems a loose match needs: all but function words (all of them if that leaves none)."""
    need = tuple(s for s in stems if s not in FUNCTION_WORDS)
    return need or stems


def _gap(c: Canon, i: int, j: int) -> int:
    """How many words that matter stand between positions i and j (function words do not count)."""
    lo, hi = (i, j) if i < j else (j, i)
    return sum(1 for s in c.stems[lo + 1:hi] if s not in FUNCTION_WORDS)


def _loose_match(need: tuple[str, ...], either: bool, places: dict[str, list[int]], c: Canon) -> bool:
    """The needed words in order (or either order for two content words), close together, in one clause."""
    spots = [places[s] for s in need]
    if either:
        return any(c.clauses[i] == c.clauses[j] and _gap(c, i, j) <= (LOOSE_GAP if i < j else LOOSE_GAP - 1)
                   for i in spots[0] for j in spots[1] if i != j)
    for start in spots[0]:
        cur = start
        for later in spots[1:]:
            nxt = next((j for j in later if j > cur and _gap(c, cur, j) <= LOOSE_GAP
                        and c.clauses[j] == c.clauses[cur]), None)
            if nxt is None:
                break
            cur = nxt
        else:
            return True
    return False


class PatternIndex:
    """RE2 patterns with a literal prefilter: only patterns whose required words occur are run.

    RE2 runs in linear time whatever the input, so no caller can make matching slow.
    """

    __slots__ = ("_filter", "_compiled", "sources")

    def __init__(self, patterns: Iterable[str]) -> None:
        self.sources: list[str] = []
        self._compiled: list[re2._Regexp] = []
        opts = re2_options()
        self._filter: re2.Filter | None = re2.Filter()
        for source in patterns:
            body = pattern_body(source)
            self._compiled.append(re2.compile(body, opts))
            self._filter.Add(body, opts)
            self.sources.append(source)
        if self.sources:
            self._filter.Compile()
        else:
            self._filter = None

    def candidates(self, lowered_text: str) -> set[int]:
        """Ids of patterns that may match (a superset of those that do); the text must be lowercased."""
        if self._filter is None:
            return set()
        return set(self._filter.Match(lowered_text, True) or ())

    def search(self, pid: int, text: str) -> bool:
        """Whether pattern ``pid`` matches anywhere in the text."""
        return self._compiled[pid].search(text) is not None

    def fullmatch(self, pid: int, text: str) -> bool:
        """Whether pattern ``pid`` matches the whole text (entity validation)."""
        return self._compiled[pid].fullmatch(text) is not None


def compile_validation_pattern(source: str) -> "re2._Regexp":
    """Compile an entity's validationPattern (already checked by the schema)."""
    return re2.compile(pattern_body(source), re2_options())
