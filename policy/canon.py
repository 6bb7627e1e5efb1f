"""Caller words reduced to one canonical form, so rules match the way people talk (pure).

Speech recognition writes "There's NO heat!!", "theres no heat", "the heat isn't working"
or "a/c"; callers say "leaking", "leaks", "leaked", "twenty degrees", "um, like". Both a rule's
phrases and the caller's words go through ``canon``: lower case, punctuation and apostrophes
gone, contractions expanded, negations as "no", fillers and articles dropped, spelled letters
joined ("a c" -> "ac"), number words as digits ("a hundred and five" -> 105), and each word
reduced to its Snowball (Porter 2) stem with PyStemmer. A number of degrees (or "in here")
also gives a temperature marker, ``#cold`` (45 or less) or ``#hot`` (95 or more), which
built-in phrases can name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

import Stemmer

from .words import TENS, UNITS

_STEMMER = Stemmer.Stemmer("english")
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`")
_TOKEN = re.compile(r"#?[^\W_]+|[,.;:!?]")
CLAUSE_END = frozenset(",.;:!?")

#: Contractions as speech recognition writes them once apostrophes are gone.
CONTRACTIONS = {
    "isnt": "is not", "arent": "are not", "wasnt": "was not", "werent": "were not", "aint": "is not",
    "dont": "do not", "doesnt": "does not", "didnt": "did not", "cant": "can not", "cannot": "can not",
    "wont": "will not", "wouldnt": "would not", "couldnt": "could not", "shouldnt": "should not",
    "havent": "have not", "hasnt": "has not", "hadnt": "had not", "theres": "there is", "thats": "that is",
    "whats": "what is", "wheres": "where is", "hows": "how is", "im": "i am", "ive": "i have",
    "youre": "you are", "youve": "you have", "theyre": "they are", "weve": "we have", "yall": "you all",
    "gonna": "going to", "wanna": "want to", "gotta": "got to", "kinda": "kind of", "outta": "out of",
    "lemme": "let me", "gimme": "give me", "dunno": "do not know", "its": "it is", "shes": "she is",
}
NEGATIONS = frozenset({"not", "no", "without", "nt"})
#: Irregular verb forms the stemmer leaves apart ("the line broke" is "the line break").
IRREGULAR = {"broke": "break", "broken": "break", "went": "go", "gone": "go", "froze": "freez", "frozen": "freez",
             "burnt": "burn", "blew": "blow", "blown": "blow", "fell": "fall", "fallen": "fall", "ran": "run",
             "caught": "catch", "smelt": "smell", "felt": "feel", "came": "come", "saw": "see", "seen": "see",
             "spoke": "speak", "spoken": "speak", "told": "tell", "got": "get", "gotten": "get", "sent": "send",
             "made": "make", "paid": "pay", "bought": "buy", "kept": "keep", "tore": "tear", "torn": "tear",
             "shook": "shake", "stopt": "stop", "quitted": "quit", "did": "do", "done": "do", "had": "have",
             "has": "have", "was": "is", "were": "are", "been": "be"}
#: Dropped from both sides: they never decide what a caller means.
FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "ahh", "eh", "hmm", "hm", "mm", "mmm",
                     "mhm", "oh", "just", "really", "actually", "basically", "literally", "totally", "please",
                     "a", "an", "the", "like"})
#: Words a loose match may skip in a phrase (the phrase still needs its other words).
FUNCTION_WORDS = frozenset({"to", "with", "of", "for", "in", "on", "at", "is", "are", "was", "were", "be", "been",
                            "it", "that", "this", "there", "i", "you", "we", "me", "my", "our", "your", "do", "doe",
                            "can", "could", "would", "will", "have", "has", "had", "some", "any", "someth", "and",
                            "or", "so", "up"})
_NUMBER_WORDS = {k: v for k, v in UNITS.items() if k not in ("oh", "o")} | TENS
_TEMPERATURE_AFTER = {"degre", "in", "insid", "outsid", "out", "below"}
COLD_MAX, HOT_MIN, HOT_MAX = 45, 95, 130
#: An age: ``#elderly`` at 70 or more, ``#child`` at 5 or less ("my mom is 90", "a 92 year old", "my son is 2").
ELDERLY_MIN, CHILD_MAX, AGE_MAX = 70, 5, 115
#: Someone whose age a number after "is" can be (apostrophes gone: "shes", "moms").
_PEOPLE = frozenset("mom moms mother mothers dad dads father fathers grandma grandmas grandpa grandpas grandmother "
                    "grandmothers grandfather grandfathers grandparent grandparents parent parents she shes he hes "
                    "husband husbands wife wifes aunt aunts uncle uncles son sons daughter daughters kid kids child "
                    "baby babys neighbor neighbors i im they theyre both".split())
_AGE_VERBS = frozenset("is are s turned turning just".split())


@dataclass(frozen=True, slots=True)
class Canon:
    """A text in canonical tokens: stems in order, the clause of each, markers, and the joined form."""

    stems: tuple[str, ...]
    clauses: tuple[int, ...]
    markers: frozenset[str]
    joined: str  # " stem stem ... " for whole-phrase search


def _numbers(words: list[str]) -> list[str]:
    """Number words as digits: "a hundred and five" -> "105", "twenty one" -> "21"."""
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("hundred", "thousand") and out and out[-1] == "a":
            out.pop()  # "a hundred"
        if w in _NUMBER_WORDS or w in ("hundred", "thousand"):
            value, i = _read_number(words, i)
            out.append(str(value))
            continue
        out.append(w)
        i += 1
    return out


def _read_number(words: list[str], i: int) -> tuple[int, int]:
    total, current = 0, 0
    if words[i] in ("hundred", "thousand"):
        current = 1
    while i < len(words):
        w = words[i]
        if w in _NUMBER_WORDS:
            current += _NUMBER_WORDS[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w == "thousand":
            total += max(current, 1) * 1000
            current = 0
        elif w == "and" and i + 1 < len(words) and words[i + 1] in _NUMBER_WORDS and current >= 100:
            pass
        else:
            break
        i += 1
    return total + current, i


def _join_letters(words: list[str]) -> list[str]:
    """Spelled letters joined: "a c" -> "ac", "c o alarm" -> "co alarm"."""
    if min(map(len, words), default=2) > 1:  # no one-letter word: nothing to join
        return list(words)
    out: list[str] = []
    run: list[str] = []
    for w in words + [""]:
        if len(w) == 1 and w.isalpha():
            run.append(w)
            continue
        if len(run) >= 2:
            out.append("".join(run))
        else:
            out.extend(run)
        run = []
        if w:
            out.append(w)
    return out


_SEQUENCE = frozenset(_NUMBER_WORDS) | {"hundred", "thousand"}
_WORD_CACHE: dict[str, tuple[str, ...]] = {}
_WORD_CACHE_MAX = 50_000
_NO_MARKERS: frozenset[str] = frozenset()


#: For ASCII text: lower case, apostrophes gone, "/" and "-" as spaces (what ``_prepare`` does), from a byte table.
_PREPARE_BYTES = bytes(c + 32 if 65 <= c <= 90 else 32 if c in b"/-" else c for c in range(256))


def _prepare(text: str) -> str:
    if text.isascii():
        return text.encode().translate(_PREPARE_BYTES, b"'`").decode()
    text = unicodedata.normalize("NFKC", text)
    return text.casefold().translate(_APOSTROPHES).replace("/", " ").replace("-", " ")


def _word(tok: str) -> tuple[str, ...]:
    """One token's canonical stems: none for a filler, two for a contraction (memoized)."""
    hit = _WORD_CACHE.get(tok)
    if hit is not None:
        return hit
    out = []
    for w in CONTRACTIONS.get(tok, tok).split():
        if w in FILLERS:
            continue
        out.append("no" if w in NEGATIONS else (w if w.isdigit() else _STEMMER.stemWord(IRREGULAR.get(w, w))))
    result = tuple(out)
    if len(_WORD_CACHE) < _WORD_CACHE_MAX:
        _WORD_CACHE[tok] = result
    return result


_SEQUENCE_TEXT = re.compile(r"\b(?:" + "|".join(sorted(_SEQUENCE, key=len, reverse=True)) + r")\b|"
                            r"(?<![^\W\d_])[^\W\d_](?:[\s,.]+)[^\W\d_](?![^\W\d_])")


#: ASCII bytes that are not word characters (letters, digits, "_") become spaces.
_WORD_BYTES = bytes(c if (chr(c).isalnum() or c == 95) else 32 for c in range(256))
_SEQUENCE_BYTES = frozenset(w.encode() for w in _SEQUENCE)
#: ASCII letters as "a", everything else a space (runs of letters, their lengths kept).
_LETTER_RUN_BYTES = bytes(97 if chr(c).isalpha() else 32 for c in range(128)) + bytes(32 for _ in range(128))
_SPELLED = re.compile(r"(?<![^\W\d_])[^\W\d_](?:[\s,.]+)[^\W\d_](?![^\W\d_])")


def _needs_sequence(prepared: str) -> bool:
    """Whether number words or spelled letters ("a c") are in the text (most texts have none).

    In ASCII text the number words are looked up among its words (split with a byte table),
    which is several times faster than the scan for them.
    """
    if not prepared.isascii():
        return _SEQUENCE_TEXT.search(prepared) is not None
    raw = prepared.encode()
    if not _SEQUENCE_BYTES.isdisjoint(raw.translate(_WORD_BYTES).split()):
        return True
    # Spelled letters are two one-letter runs of letters next to each other: only then is the scan needed.
    runs = raw.translate(_LETTER_RUN_BYTES).split()
    return b"a" in runs and b" a a " in b" " + b" ".join(runs) + b" " and _SPELLED.search(prepared) is not None


#: ASCII letters, digits and the clause marks kept, every other byte a space (the tokenizer's characters).
_TOKEN_BYTES = bytes(c if (c < 128 and chr(c).isalnum()) or c in b",.;:!?" else 32 for c in range(256))


def _tokens(prepared: str) -> list[str]:
    """The tokenizer's tokens (``_TOKEN.findall``): an ASCII text without markers from a byte table."""
    if not prepared.isascii() or "#" in prepared:
        return _TOKEN.findall(prepared)
    raw = prepared.encode().translate(_TOKEN_BYTES)
    for mark in (b",", b".", b";", b":", b"!", b"?"):
        if mark in raw:
            raw = raw.replace(mark, b" " + mark + b" ")
    return raw.decode().split()


def _spelled(words: list[str], prepared: str) -> bool:
    """Whether a text's words (its runs of letters, in order) hold spelled letters ("a c"); the scan runs only
    when two one-letter words stand side by side."""
    if len(prepared) < 256 and b"\x01\x01" not in bytes(map(len, words)):  # (every length fits in a byte)
        return False
    return _SPELLED.search(prepared) is not None


@lru_cache(maxsize=8192)
def canon(text: str) -> Canon:
    """The canonical form of a caller's words or of a rule's phrase (memoized: texts repeat)."""
    prepared = _prepare(text or "")
    if prepared.isascii() and "#" not in prepared and "_" not in prepared:
        raw = prepared.encode()
        if len(raw.translate(None, b"0123456789")) == len(raw):
            # The common case, letters and clause marks (no digits or markers): the words of each clause are
            # read with a byte table; number words and spelled letters are looked for among them.
            parts = [part.split() for part in raw.translate(_CLAUSE_BYTES).decode().split("\0")]
            words = list(chain.from_iterable(parts))
            if _SEQUENCE.isdisjoint(words) and not _spelled(words, prepared):
                c = _clauses(parts)
                return _idioms(c) if _IDIOM_WORDS.search(prepared) else c
            sequence = True
        else:
            sequence = _needs_sequence(prepared)
    else:
        sequence = _needs_sequence(prepared)
    toks = _tokens(prepared)
    if sequence:
        expanded = (toks if CONTRACTIONS.keys().isdisjoint(toks)
                    else [w for t in toks for w in CONTRACTIONS.get(t, t).split()])
        toks = _numbers(_join_letters(expanded))
    stems: list[str] = []
    clauses: list[int] = []
    markers: set[str] = set()
    clause = 0
    known = _WORD_CACHE.get
    for i, tok in enumerate(toks):
        if tok in CLAUSE_END:
            clause += 1
        elif tok.startswith("#"):
            markers.add(tok)
        else:
            if tok.isdigit():
                _temperature(int(tok), toks[i + 1:i + 3], markers)
                _age(int(tok), toks[max(0, i - 4):i], toks[i + 1:i + 3], markers)
            said = known(tok)
            for stem in _word(tok) if said is None else said:
                stems.append(stem)
                clauses.append(clause)
    c = Canon(tuple(stems), tuple(clauses), frozenset(markers), " " + " ".join(stems) + " ")
    return _idioms(c) if _IDIOM_WORDS.search(prepared) else c


#: ASCII letters and digits kept, the clause marks ``,.;:!?`` as NUL, every other byte a space.
_CLAUSE_BYTES = bytes(c if c < 128 and chr(c).isalnum() else 0 if c in b",.;:!?" else 32 for c in range(256))


def _clauses(parts: list[list[str]]) -> Canon:
    """``canon`` of the words of each clause (no digits, number words, spelled letters or markers): what
    the tokenizer's loop makes, a clause at a time."""
    stems: list[str] = []
    clauses: list[int] = []
    for clause, toks in enumerate(parts):
        if not toks:
            continue
        found = list(map(_WORD_CACHE.get, toks))
        if None in found:
            found = [said if said is not None else _word(tok) for tok, said in zip(toks, found)]
        before = len(stems)
        stems.extend(chain.from_iterable(found))
        clauses.extend([clause] * (len(stems) - before))
    return Canon(tuple(stems), tuple(clauses), _NO_MARKERS, " " + " ".join(stems) + " ")


def _temperature(value: int, after: list[str], markers: set[str]) -> None:
    """A temperature: a number of degrees, or "... in here", "... inside", "... out"."""
    nxt = _STEMMER.stemWord(after[0]) if after else ""
    if nxt not in _TEMPERATURE_AFTER:
        return
    if nxt == "in" and (len(after) < 2 or after[1] not in ("here", "house", "home")):
        return
    if nxt == "out" and len(after) > 1 and after[1] == "of":
        return
    if value <= COLD_MAX:
        markers.add("#cold")
    elif HOT_MIN <= value <= HOT_MAX:
        markers.add("#hot")


def _age(value: int, before: list[str], after: list[str], markers: set[str]) -> None:
    """An age: a number "... year(s) old", or said of someone ("my mom is 90", "she's 85", "my son is 2")."""
    if not 0 < value <= AGE_MAX:
        return
    aged = len(after) == 2 and after[0] in ("year", "years", "yr", "yrs") and after[1] == "old"
    if not aged and before and (before[-1] in _AGE_VERBS or before[-1] in ("shes", "hes", "im", "theyre")) \
            and not (after and after[0] in ("degrees", "degree", "in", "inside", "outside", "out", "below", "f")):
        aged = not _PEOPLE.isdisjoint(before[-3:])
    if aged and value >= ELDERLY_MIN:
        markers.add("#elderly")
    elif aged and value <= CHILD_MAX:
        markers.add("#child")


#: Words whose meaning the next or the previous word changes (``_idioms``).
_IDIOM_WORDS = re.compile(r"sick|smoke|alarm")
#: "smoke" in "smoke detector" / "smoke alarm" names a device, not smoke: it is this stem, so "smoke" (an
#: emergency) is not said, while "detector going off" still is. A company's "smoke detector" keyword is read the
#: same way, so it still matches.
SMOKE_DEVICE = "smokedetector"
_DEVICES = frozenset({"detector", "alarm"})
#: "alarm" after these is a security alarm, not a smoke or gas alarm: "my burglar alarm keeps going off" is not
#: "alarm going off".
SECURITY_ALARM = "securityalarm"
_SECURITY = frozenset({"burglar", "secur", "car", "intrud", "theft", "motion"})


def _idioms(c: Canon) -> Canon:
    """Words another word changes: "sick of" and "sick and tired" are no one sick (the same as "fed up"); the
    "smoke" of a smoke detector is no smoke, and a burglar alarm is no smoke alarm."""
    joined = c.joined
    if " sick " not in joined and " smoke " not in joined and " alarm " not in joined:
        return c
    stems = list(c.stems)
    same = c.clauses
    for i, s in enumerate(stems):
        nxt = stems[i + 1] if i + 1 < len(stems) and same[i + 1] == same[i] else ""
        if s == "sick" and (nxt == "of" or (nxt == "and" and stems[i + 2:i + 3] == ["tire"])):
            stems[i] = "fed"
            if nxt == "of":
                stems[i + 1] = "up"
        elif s == "smoke" and nxt in _DEVICES:
            stems[i] = SMOKE_DEVICE
        elif s == "alarm" and i and same[i - 1] == same[i] and stems[i - 1] in _SECURITY:
            stems[i] = SECURITY_ALARM
    return Canon(tuple(stems), c.clauses, c.markers, " " + " ".join(stems) + " ")


def stems_of(phrase: str) -> tuple[str, ...]:
    """A phrase's canonical stems (a marker phrase such as "#cold" is its own single stem)."""
    c = canon(phrase)
    return c.stems or tuple(sorted(c.markers))


__all__ = ["Canon", "canon", "stems_of", "FUNCTION_WORDS", "NEGATIONS"]
