"""Behavior rules: the final polish of every reply (tone, acknowledgement, greeting, read-back)."""

from __future__ import annotations

import re
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Mapping

from .company import CompanyProfile
from .entities import spoken
from .text import label

_OK = re.compile(r"^\s*(?:ok|okay)\b", re.I)
_KEEP_CAPITAL = re.compile(r"^(?:I\b|I'|[A-Z]{2,}\b)")
#: Replies that must not get an acknowledgement in front: they open with one already, or with a
#: greeting, a thank-you, a goodbye, an apology, a safety instruction ("Ok, hello!" never), or a refusal
#: ("Sure. We only work on heating and air conditioning" says yes and then no), or the fallback's offer of a
#: message ("Sure. I want to make sure you get the right answer ..." to "do you do duct cleaning?" says yes too).
_NO_ACK = re.compile(
    r"^\W*(?:ok|okay|sure|certainly|of course|absolutely|got it|alright|all right|great|perfect|yes|no\b|"
    r"thanks|thank you|you'?re welcome|hi\b|hello|hey\b|good (?:morning|afternoon|evening)|welcome|sorry|"
    r"i'?m (?:so |very |really )?sorry|i am sorry|we'?re sorry|i apologi[sz]e|my apologies|please\b|"
    r"this sounds urgent|if you|for your (?:safety|security)|i understand|i hear you|bye|goodbye|unfortunately|"
    r"i see|no problem|happy to|glad to|i want to make sure|we only|we (?:do not|don'?t|can'?t|cannot|are not|aren'?t|wouldn'?t)\b|"
    r"we'?re not|i'?m not able|i (?:can'?t|cannot)\b)", re.I)
_URGENT = re.compile(r"\b(?:urgent|emergency|right away|immediately|leave the (?:house|home|building)|get out|"
                     r"911|safety|danger)\b", re.I)
#: What an urgent reply cannot do without (in lower case): one of these.
_URGENT_PARTS = ("urgent", "emergency", "right away", "immediately", "leave the ", "get out", "911", "safety", "danger")
#: A question: it ends with "?", opens with a question word (after fillers), or asks "are you", "is it"...
_ASKED = r"\?\s*$"
_OPENS = (r"^\W*(?:(?:yeah|yes|hi|hello|hey|um+|uh+|so|ok(?:ay)?|and|also|oh|well|quick question|"
          r"i (?:got|have) a question)[\s,.!]+)*(?:what|when|where|who|why|how|which|is|are|do|does|did|"
          r"can|could|would|will|should|may)\b")
_ASKS = r"\b(?:are|is|do|does|can|could|will) (?:you|y'?all|you guys|they|there|it)\b"
_QUESTION = re.compile(f"{_ASKED}|{_OPENS}|{_ASKS}", re.I)
_REQUEST = re.compile(r"\b(?:i need|i want|i'?d like|i would like|can you|could you|please|i'?m looking for|"
                      r"send|schedule|book|set up)\b", re.I)
# The same for lowercased ASCII words, each part on its own, run only when words it cannot do without were said
# (the runs of letters it needs as whole words: a question word, "are" and "you", "need", "book"...).
_ASKED_AT_END = re.compile(_ASKED)
_OPENS_LOW = re.compile(_OPENS)
_ASKS_LOW = re.compile(_ASKS)
_REQUEST_LOW = re.compile(_REQUEST.pattern)
_OPENING_WORDS = frozenset(b"what when where who why how which is are do does did can could would will should may".split())
_ASKING_WORDS = (frozenset(b"are is do does can could will".split()), frozenset(b"you y yall they there it".split()))
_REQUEST_WORDS = frozenset(b"need want like you please looking send schedule book set".split())
#: Acknowledgements by what the caller did (asked, asked for something, told us something); the
#: first of each is the default, the others vary it turn by turn, and "" says none at all.
ACKS = {"question": ("Ok, ", "Sure. ", ""), "request": ("Ok, ", "Sure. ", "Of course. ", ""),
        "statement": ("Ok, ", "I see. ", "Got it. ", "")}


@lru_cache(maxsize=4096)
def _takes_ack(reply: str) -> bool:
    """Whether a reply may get an acknowledgement in front (replies repeat: memoized)."""
    if not reply or _NO_ACK.match(reply):
        return False
    if reply.isascii():
        low = reply.lower()
        return not any(part in low for part in _URGENT_PARTS) or not _URGENT.search(reply)
    return not _URGENT.search(reply)


def _asked(utterance: str) -> str:
    """What the caller did: "question" (_QUESTION), "request" (_REQUEST) or "statement"."""
    if not utterance.isascii():
        return "question" if _QUESTION.search(utterance) else ("request" if _REQUEST.search(utterance) else "statement")
    said = _letter_runs(utterance)
    low = utterance.lower()
    if (_ASKED_AT_END.search(utterance) or (not _OPENING_WORDS.isdisjoint(said) and _OPENS_LOW.match(low))
            or (not _ASKING_WORDS[0].isdisjoint(said) and not _ASKING_WORDS[1].isdisjoint(said)
                and _ASKS_LOW.search(low))):
        return "question"
    return "request" if not _REQUEST_WORDS.isdisjoint(said) and _REQUEST_LOW.search(low) else "statement"


def acknowledgement(reply: str, utterance: str, variation: int) -> str:
    """The acknowledgement that fits in front of a reply to the caller's words ("" when none fits)."""
    if not _takes_ack(reply):
        return ""
    options = ACKS[_asked(utterance)]
    return options[variation % len(options)]


def spoken_value(value: Any) -> str:
    """A collected value as it should be read back (phone digits grouped, dates spelled)."""
    return spoken(value)


#: ASCII bytes as lowercase letters, everything else a space.
_LETTERS = bytes(c if 97 <= c <= 122 else c + 32 if 65 <= c <= 90 else 32 for c in range(256))


def _letter_runs(text: str) -> list[bytes]:
    """The runs of letters in an ASCII text, lowercased (``re.findall("[a-z]+", text.lower())``, as bytes)."""
    return text.encode().translate(_LETTERS).split()


def _casual_scan(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """The scan for casual phrases (whole words, any case), preferring them in the order given."""
    return re.compile(r"\b(" + "|".join(re.escape(k) for k in phrases) + r")\b", re.I)


def _word_char(c: str) -> bool:
    """Whether an ASCII character is a word character (``\\w``)."""
    return c.isalnum() or c == "_"


def _casual_places(low: str, phrases: list[str]) -> list[tuple[int, int]]:
    """Where ``_casual_scan(phrases)`` matches in a lowercased ASCII text, found with ``str.find``: each
    place where a phrase stands between word boundaries; from left to right, at each place the first phrase
    in order that stands there, the next looked for after it."""
    stands: dict[int, list[tuple[int, int]]] = {}  # start -> (preference, end)
    for rank, phrase in enumerate(phrases):
        at = low.find(phrase)
        while at >= 0:
            end = at + len(phrase)
            if ((at > 0 and _word_char(low[at - 1])) != _word_char(low[at])
                    and _word_char(low[end - 1]) != (end < len(low) and _word_char(low[end]))):
                stands.setdefault(at, []).append((rank, end))
            at = low.find(phrase, at + 1)
    places, done = [], 0
    for start in sorted(stands):
        if start >= done:
            done = min(stands[start])[1]
            places.append((start, done))
    return places


class BehaviorRules:
    """The behavior flags of a policy and the polite-word table, compiled once."""

    __slots__ = ("flags", "_polite", "_polite_map", "_polite_order", "_polite_words", "_polite_always",
                 "never_interrupt")

    def __init__(self, content: Mapping[str, Any]) -> None:
        self.flags = frozenset(content["behaviorRules"])
        self.never_interrupt = "NEVER_INTERRUPT" in self.flags
        table = {k.lower(): v for k, v in content["politeReplacements"].items()}
        self._polite_map = table
        self._polite_order = tuple(sorted(table, key=len, reverse=True))  # longest first, as the scan prefers
        self._polite = (_casual_scan(self._polite_order) if table and "POLITE_PROFESSIONAL" in self.flags else None)
        # A casual phrase said as whole words has its last word among the reply's words ("guys" for "you
        # guys"): a reply without any needs no scan, nor one whose text holds none of the phrases ending so.
        last: dict[bytes, list[str]] = {}
        for k in table:
            runs = _letter_runs(k) if k.isascii() else None
            last.setdefault(runs[-1] if runs else b"", []).append(k)
        self._polite_words = MappingProxyType({w: tuple(ks) for w, ks in last.items()})
        self._polite_always = b"" in last  # a phrase without letters: every reply is scanned

    def formal(self, text: str) -> str:
        """POLITE_PROFESSIONAL: casual words replaced by formal ones (whole words, capitals kept)."""
        def repl_word(word: str) -> str:
            new = self._polite_map[word.lower()]
            return new[:1].upper() + new[1:] if word[:1].isupper() else new

        def repl(m: re.Match[str]) -> str:
            return repl_word(m.group(0))
        if self._polite is None:
            return text
        if text.isascii() and not self._polite_always:
            said = _letter_runs(text)
            by_word = self._polite_words
            if by_word.keys().isdisjoint(said):
                return text
            low = text.lower()
            present = {k for w in by_word.keys() & set(said) for k in by_word[w] if k in low}
            if not present:
                return text
            # Only the phrases in the text can match: they are found where the scan would find them (the leftmost
            # place where one stands as whole words, the first of the scan's order there), without the scan.
            out, done = [], 0
            for start, end in _casual_places(low, [k for k in self._polite_order if k in present]):
                out += (text[done:start], repl_word(text[start:end]))
                done = end
            return "".join(out) + text[done:] if out else text
        return self._polite.sub(repl, text)

    def apply(self, text: str, *, company: CompanyProfile, is_first_turn: bool, caller_spoke: bool,
              collected: Mapping[str, Any], utterance: str = "", variation: int = 0,
              action: str = "RESPOND") -> tuple[str, bool]:
        """Acknowledge, greet and read back (after ``formal``); returns the text and whether it changed.

        The acknowledgement fits the caller's words and the reply (none in front of a greeting, a
        thank-you, an apology, a safety line or a goodbye) and varies with ``variation``.
        """
        original = text
        flags = self.flags
        greet = ("USE_COMPANY_NAME" in flags and is_first_turn and company.name
                 and company.variables.get("companyname", company.name).lower() not in text.lower())
        # Acknowledge what the caller said, not a greeting or a reprompt after silence.
        if "ACK_OK" in flags and caller_spoke and not greet and action != "HANGUP" and text and not _OK.match(text):
            ack = acknowledgement(text, utterance, variation)
            if ack.endswith(", "):
                proper = company.name and text.startswith(company.variables.get("companyname", company.name))
                text = ack + (text if proper or _KEEP_CAPITAL.match(text) else text[:1].lower() + text[1:])
            elif ack:
                text = ack + text
        if greet:
            name = company.variables.get("companyname", company.name)
            text = f"Thanks for calling {name}! {text}".strip()
        if "CONFIRM_ENTITIES" in flags and collected:
            parts = [f"your {label(k)} as {spoken_value(v)}" for k, v in collected.items()]
            listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
            end = "" if listed.endswith(".") else "."
            text = f"{text} Just to confirm, I have {listed}{end}".strip()
        return text, text != original
