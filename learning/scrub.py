"""Personal data out of caller words before they are kept for learning (pure: text in, text out).

Phone numbers by phonenumbers' ``PhoneNumberMatcher``; card numbers by the Luhn check and
social security numbers by their issuing rules (python-stdnum); emails, street addresses and
names introduced as names ("my name is ...", "this is ...") by patterns written for speech
transcripts, where numbers may be spoken as words ("five one two ..."). Each finding becomes a
placeholder (``<phone>``, ``<card>`` ...) that clustering ignores. Network learning adds a
second guard on top (``network.py``): only words several companies use ever leave a company.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from stdnum import luhn
from stdnum.us import ssn

PLACEHOLDERS = ("<phone>", "<email>", "<card>", "<ssn>", "<number>", "<address>", "<name>")

_DIGIT_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_SPOKEN_RUN = re.compile(r"\b(?:(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)[\s,-]+){2,}"
                         r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)\b", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"
                    r"|\b[\w.]+(?: dot [\w]+)* at [\w-]+ (?:dot [\w-]+ )*dot (?:com|net|org|edu|gov|io|co|us|uk|ca)\b", re.I)
_DIGIT_RUN = re.compile(r"(?<![\w<])\d(?:[\s-]?\d){6,22}(?![\w>])")
_STREET = ("street|st|avenue|ave|road|rd|drive|dr|lane|ln|boulevard|blvd|court|ct|way|place|pl|circle|cir|"
           "parkway|pkwy|highway|hwy|terrace|trail|trl|loop|square|sq|crescent|alley|row|pike")
_ADDRESS = re.compile(rf"\b\d{{1,6}}(?:\s+[A-Za-z0-9.'-]+){{1,4}}?\s+(?:{_STREET})\b\.?"
                      r"(?:,?\s+(?:apt|apartment|unit|suite|ste|#)\.?\s*[\w-]+)?", re.I)
_NAME_CUE = re.compile(r"\b(?i:my name is|my names|my name's|name is|this is|i am|i'm|im|it's|its|call me|"
                       r"speak to|speak with|talk to|ask for|mister|mr|mrs|ms|miss|dr)\.?\s+"
                       r"((?:[A-Z][a-zA-Z'-]+)(?:\s+[A-Z][a-zA-Z'-]+){0,2})")
_SPELLED = re.compile(r"(?:\b[A-Za-z]\b[\s.-]+){3,}\b[A-Za-z]\b")
#: Capitalized words after a name cue that are not names.
_NOT_NAMES = {"I", "Im", "The", "A", "An", "My", "Calling", "Just", "Not", "So", "Very", "Still", "Here", "Having",
              "Looking", "Trying", "Wondering", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
              "Sunday", "Yes", "No", "Hello", "Hi", "Sorry", "Ok", "Okay", "Really", "About", "Going", "Getting"}


@dataclass(frozen=True)
class Scrubbed:
    """A text with personal data replaced, and the kinds that were found."""

    text: str
    found: tuple[str, ...]


def _spoken_digits(text: str) -> str:
    """Digits said as words become numerals ("five one two" -> "512"), so number detectors see them."""
    def join(m: re.Match[str]) -> str:
        parts = re.split(r"[\s,-]+", m.group(0))
        return "".join(_DIGIT_WORDS.get(p.lower(), p) for p in parts)
    return _SPOKEN_RUN.sub(join, text)


def _phones(text: str, region: str) -> tuple[str, int]:
    spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.POSSIBLE)]
    for start, end in reversed(spans):
        text = text[:start] + "<phone>" + text[end:]
    return text, len(spans)


def _numbers(text: str) -> tuple[str, list[str]]:
    """Card numbers (Luhn), social security numbers, and any other long run of digits."""
    kinds: list[str] = []

    def one(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
            kinds.append("card")
            return "<card>"
        if len(digits) == 9 and ssn.is_valid(digits):
            kinds.append("ssn")
            return "<ssn>"
        kinds.append("number")
        return "<number>"
    return _DIGIT_RUN.sub(one, text), kinds


def _names(text: str) -> tuple[str, int]:
    found = 0

    def one(m: re.Match[str]) -> str:
        nonlocal found
        words = m.group(1).split()
        keep: list[str] = []
        for w in words:
            if w.strip("'") in _NOT_NAMES:
                break
            keep.append(w)
        if not keep:
            return m.group(0)
        found += 1
        rest = " ".join(words[len(keep):])
        head = m.group(0)[:m.start(1) - m.start(0)]
        return f"{head}<name>" + (f" {rest}" if rest else "")
    return _NAME_CUE.sub(one, text), found


def scrub(text: str, *, region: str = "US") -> Scrubbed:
    """The text with phone numbers, emails, card and social security numbers, other long numbers, street
    addresses, names and spelled-out letters replaced by placeholders."""
    if not text:
        return Scrubbed("", ())
    found: list[str] = []
    out = _spoken_digits(text)
    out, n = re.subn(_EMAIL, "<email>", out)
    found += ["email"] * n
    out, n = re.subn(_ADDRESS, "<address>", out)
    found += ["address"] * n
    out, n = _phones(out, region)
    found += ["phone"] * n
    out, kinds = _numbers(out)
    found += kinds
    out, n = _names(out)
    found += ["name"] * n
    out, n = re.subn(_SPELLED, "<spelled>", out)
    found += ["spelled"] * n
    return Scrubbed(out, tuple(found))


_PLACEHOLDER = re.compile(r"<(?:phone|email|card|ssn|number|address|name|spelled)>")


def has_placeholder(text: str) -> bool:
    """Whether a scrubbed text still shows where personal data was."""
    return bool(_PLACEHOLDER.search(text))


__all__ = ["scrub", "Scrubbed", "PLACEHOLDERS", "has_placeholder"]
