"""Text helpers shared by the compiler and the engine: normalization, templates, sentences."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: Caller input longer than this is cut before any matching (speech turns are short).
MAX_UTTERANCE_CHARS = 1000

_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`")
_NON_WORD = re.compile(r"[\W_]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # controls and lone surrogates
_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SENTENCE_STOP = re.compile(r"[.!?]\s+")  # the same places (one past the stop), found faster


def clean_utterance(text: str | None) -> str:
    """Cap the caller's words and drop control characters; never raises on odd input."""
    if not text:
        return ""
    if not isinstance(text, str):
        text = str(text)
    text = text[:MAX_UTTERANCE_CHARS]
    return text if text.isprintable() else _CONTROL.sub(" ", text)


#: For ASCII text (nearly every reply and transcript): bytes that are not letters or digits become spaces.
_ASCII_WORDS = bytes(c if chr(c).isalnum() else 32 for c in range(256)).translate(
    bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz"))


@lru_cache(maxsize=32_768)  # rule phrases are normalized several times while compiling a sheet
def normalize(text: str) -> str:
    """Lowercase, drop apostrophes, turn punctuation into single spaces ("There's NO heat!" -> "theres no heat")."""
    if text.isascii():  # the same result, from a byte table (a few times faster than the regex)
        return " ".join(text.encode().translate(_ASCII_WORDS, b"'`").decode().split())
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.translate(_APOSTROPHES)
    return _NON_WORD.sub(" ", text).strip()


def ascii_words(text: str) -> list[bytes]:
    """The words ``normalize`` makes of an ASCII text, as bytes (without making the normalized text)."""
    return text.encode().translate(_ASCII_WORDS, b"'`").split()


def padded(text: str) -> str:
    """Normalized text with a space at each end, so " phrase " finds whole words only."""
    return f" {normalize(text)} "


def words(text: str) -> list[str]:
    """The normalized words of a text."""
    norm = normalize(text)
    return norm.split() if norm else []


def split_sentences(text: str) -> list[str]:
    """Split a reply into sentences at ., ! or ? followed by a space."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Where each sentence of ``split_sentences`` lies in a text that has no space at either end."""
    spans, begin = [], 0
    for m in _SENTENCE_STOP.finditer(text):
        spans.append((begin, m.start() + 1))
        begin = m.end()
    spans.append((begin, len(text)))
    return [(a, b) for a, b in spans if b > a]


def lower_first(text: str) -> str:
    """A sentence to follow other words: its first letter in lower case, unless its first word keeps its
    capital ("I", "I'm", an acronym such as "AC", a name such as "McCoy")."""
    first = text.split(" ", 1)[0]
    if first in ("I", "I'm", "I'll", "I've", "I'd") or (first.isupper() and first != "A") or first[1:] != first[1:].lower():
        return text
    return text[:1].lower() + text[1:]


def join_sentences(sentences: list[str]) -> str:
    """Join sentences back into one reply, each ending with punctuation."""
    out = []
    for s in sentences:
        s = s.strip()
        if not s:
            continue
        if s[-1] not in ".!?":
            s += "."
        out.append(s)
    return " ".join(out)


def variables_in(text: str) -> list[str]:
    """The ``{name}`` variables a text uses, in order of first use."""
    seen: list[str] = []
    for name in _VARIABLE.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return seen


#: The ASCII whitespace (``\s``) other than the space.
_OTHER_SPACE = b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"


def _single_spaced(text: str) -> bool:
    """Whether every run of whitespace in a text is one space (then joining its sentences changes nothing)."""
    if "  " in text or not text.isascii():
        return False
    raw = text.encode()
    return len(raw.translate(None, _OTHER_SPACE)) == len(raw)


def substitute(text: str, variables: dict[str, str]) -> tuple[str, list[str]]:
    """Fill ``{name}`` variables; a sentence with an unknown variable is dropped, never spoken raw.

    Returns the text and the names that could not be filled.
    """
    if "{" not in text:
        return text, []
    # The sentences joined by one space (what " ".join(split_sentences(text)) makes), split at the variables.
    body = text.strip()
    parts = _VARIABLE.split(body if _single_spaced(body) else _SENTENCE_END.sub(" ", body))
    values = [variables.get(n) if variables.get(n) is not None else variables.get(n.lower()) for n in parts[1::2]]
    if None not in values:  # the common case, every variable known: filled in place
        parts[1::2] = [str(v) for v in values]
        return "".join(parts), []
    missing: list[str] = []

    def fill(sentence: str) -> str | None:
        ok = True

        def repl(m: re.Match[str]) -> str:
            nonlocal ok
            name = m.group(1)
            value = variables.get(name)
            if value is None:
                value = variables.get(name.lower())
            if value is None:
                ok = False
                if name not in missing:
                    missing.append(name)
                return ""
            return str(value)

        out = _VARIABLE.sub(repl, sentence)
        return out if ok else None

    kept = [s for s in (fill(s) for s in split_sentences(text)) if s is not None]
    return " ".join(kept), missing


def label(name: str) -> str:
    """A field name as it is spoken: "callbackPhone" / "callback_phone" -> "callback phone"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ")
    return " ".join(spaced.lower().split())
