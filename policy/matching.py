"""Matchers built once per policy: whole-word phrases (Aho-Corasick) and RE2 patterns (prefiltered)."""

from __future__ import annotations

from typing import Iterable

import ahocorasick
import re2

from .schema import pattern_body, re2_options
from .text import normalize


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
