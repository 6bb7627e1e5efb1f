"""What the caller denies: "no sparks or smell", "it's not an emergency", "nobody here is sick" (pure).

A rule's phrase said inside a denial is not said: the engine matches the words again without the denied
part and keeps only the phrases still found there (and those that hold a negation of their own, such as
"no heat" or "not cooling", whose "no" is what they mean). A denial is a negation and the word it governs:
"no" before a noun ("no sparks or smell"; "no, the smoke ..." and "no it's ..." are a no to a question, not a
denial), "not" and "-n't" ("it's not an emergency", "I don't smell gas", "I don't think it's urgent"), and
"nobody"/"no one"/"none of us" with what they are said to be ("nobody here is sick or elderly"). Only the
governed word goes (with words listed after it by "or"): "I can't stop the flooding" keeps "flooding", "I'm not
sure if it's smoke" keeps "smoke", and "no heat and my baby is freezing" keeps the baby.
"""

from __future__ import annotations

import re

from .canon import CONTRACTIONS, Canon, stems_of

#: A quick look before the work: a text with none of these denies nothing.
_CUE = re.compile(r"\b(?:no|not|nobody|noone|none)\b|n[\u2019']t\b|\b(?:is|are|was|were|do|does|did|ca|wo|could|should|"
                  r"would|have|has|had|ai)nt\b", re.I)
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[,.;:!?]")
_CLAUSE_END = frozenset(",.;:!?")
#: After "no", words that make it a no to a question ("no, the smoke alarm is going off", "no it's sparking").
_NOT_A_DETERMINER = frozenset(
    "the a an it its i we he she they you this that these those there here my our his her their your me us "
    "no not nope wait actually sorry oh way problem worries yes yeah thanks thank sir maam ma'am one idea".split())
#: Verbs a denial goes through to the thing denied ("I don't think it's ...", "I don't see any smoke").
_THROUGH_VERBS = frozenset(
    "think believe call consider say see notice smell hear feel guess suppose seem seems look looks sound sounds "
    "have has got".split())
#: Words between those verbs and the thing ("don't think there's", "doesn't smell like").
_THROUGH_LINKS = frozenset("it is that this there like to be any".split())
#: Words between a negation and the thing denied ("not an emergency", "no sign of smoke", "no real danger").
_DETERMINERS = frozenset("a an the any more real actual big major sign signs of kind sort type such obvious "
                         "visible".split())
#: Between "nobody" and what they are said to be ("nobody here is sick", "no one in the house is elderly").
_PERSON_LINKS = frozenset("here home at in the house is are was s else of us them who lives living with me".split())
_LISTED = frozenset(("or", "nor"))
#: The same words as canonical stems (``suspects`` reads a text's canonical form).
NEGATORS = frozenset(("no", "nobodi", "noon", "none"))
_S_THROUGH, _S_LINKS, _S_DETERMINERS, _S_PERSON = (
    frozenset(s for w in words for s in stems_of(w)) for words in (_THROUGH_VERBS, _THROUGH_LINKS, _DETERMINERS,
                                                                    _PERSON_LINKS | {"1"}))


def _words(text: str) -> list[str]:
    """Lower-case words and clause marks, contractions expanded ("isn't" -> "is not")."""
    out: list[str] = []
    for tok in _TOKEN.findall(text.lower().replace("\u2019", "'")):
        if tok in ("nobody's", "one's"):
            out += (tok[:-2], "is")
            continue
        bare = tok.replace("'", "")
        out.extend(CONTRACTIONS.get(bare, bare).split())
    return out


def _skip(words: list[str], i: int, skippable: frozenset[str]) -> int:
    while i < len(words) and words[i] in skippable:
        i += 1
    return i


def _denied_span(words: list[str], k: int) -> int:
    """The last position a negation at ``k`` denies, or -1 when it denies nothing."""
    w, n = words[k], len(words)
    nxt = words[k + 1] if k + 1 < n else ","
    if w == "no" and nxt == "one":
        w, k = "nobody", k + 1
    elif w == "no" and (nxt in _CLAUSE_END or nxt in _NOT_A_DETERMINER):
        return -1
    i = k + 1
    verb = -1
    if w in ("nobody", "noone", "none"):
        i = _skip(words, i, _PERSON_LINKS)
    elif w == "not" or w == "no":
        if i < n and words[i] in _THROUGH_VERBS:
            verb, i = i, _skip(words, i + 1, _THROUGH_LINKS)
        i = _skip(words, i, _DETERMINERS)
    else:
        return -1
    if verb >= 0 and (i >= n or words[i] in _CLAUSE_END or words[i] in _LISTED):
        i = verb  # "no smell", "no smell or smoke", "I don't think so": the verb is the thing denied
    if i >= n or words[i] in _CLAUSE_END:
        return -1
    last = i
    while last + 2 < n and words[last + 1] in _LISTED:  # "no sparks or smell", "nobody sick or elderly"
        j = _skip(words, last + 2, _DETERMINERS)
        if j >= n or words[j] in _CLAUSE_END:
            break
        last = j
    return last


def suspects(c: Canon) -> set[str]:
    """The stems a denial in the words may take (more than ``affirmed`` takes: the canonical form has lost
    the articles that tell "no, the smoke ..." from "no smoke"); empty when nothing can be denied. Cheap, so
    the words are read again only when a rule's phrase holds one of these."""
    stems, clauses, n = c.stems, c.clauses, len(c.stems)
    out: set[str] = set()
    for k, s in enumerate(stems):
        if s not in NEGATORS:
            continue
        clause = clauses[k]
        i = k + 1
        if s != "no" or (i < n and stems[i] == "1"):
            skips = (_S_PERSON,)
        else:
            skips = (_S_THROUGH, _S_LINKS, _S_DETERMINERS) if i < n and stems[i] in _S_THROUGH else (_S_DETERMINERS,)
        for skip in (*skips, _LISTED):  # ("no smell or smoke": the verb, then the list)
            while i < n and clauses[i] == clause and stems[i] in skip:
                out.add(stems[i])
                i += 1
        while i < n and clauses[i] == clause:
            out.add(stems[i])
            if i + 2 < n and stems[i + 1] in _LISTED and clauses[i + 2] == clause:
                i += 2
                while i < n and clauses[i] == clause and stems[i] in _S_DETERMINERS:
                    out.add(stems[i])
                    i += 1
                continue
            break
    return out


def _cuts(words: list[str]) -> list[tuple[int, int]]:
    """The denied parts of the words: (first, last) positions, each from its negation."""
    cut: list[tuple[int, int]] = []
    k = 0
    while k < len(words):
        if words[k] in ("no", "not", "nobody", "noone", "none"):
            last = _denied_span(words, k)
            if last >= 0:
                cut.append((k, last))
                k = last + 1
                continue
        k += 1
    return cut


def affirmed(text: str) -> str | None:
    """The words with every denied part taken out (each replaced by a clause break), or None when the caller
    denies nothing."""
    if not _CUE.search(text):
        return None
    words = _words(text)
    cut = _cuts(words)
    if not cut:
        return None
    out: list[str] = []
    start = 0
    for a, b in cut:
        out.extend(words[start:a])
        out.append(". zznegated .")
        start = b + 1
    out.extend(words[start:])
    return " ".join(out)


def denied_words(text: str) -> set[str]:
    """The words a negation in the text takes ("not heating", "no cold air": what a phrase with a negation of its
    own means is the absence of these)."""
    if not _CUE.search(text):
        return set()
    words = _words(text)
    return {w for a, b in _cuts(words) for w in words[a + 1:b + 1] if w not in _CLAUSE_END}


__all__ = ["affirmed", "denied_words", "suspects", "NEGATORS"]
