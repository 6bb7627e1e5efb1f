"""Speech-recognition text, word by word: number words, ordinals, weekdays, months and lead-ins (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {"zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
         "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
         "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
            "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
            "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
            "nineteenth": 19, "twentieth": 20, "thirtieth": 30}
WEEKDAYS = {"monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
            "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
            "sunday": 6, "sun": 6}
MONTHS = {m: i + 1 for i, m in enumerate(["january", "february", "march", "april", "may", "june", "july",
                                           "august", "september", "october", "november", "december"])}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9

_LEAD_INS = re.compile(
    r"^(?:(?:yes|yeah|yep|sure|ok|okay|alright|all right|right|um+|uh+|er+|oh|ah|so|well|sorry|oops|hi|hello|it'?s|it is|that'?s|that is|this is|my name is|"
    r"my name'?s|name'?s|i'?m|i am|the name is|my (?:phone )?number is|my phone is|the number is|"
    r"you can reach me at|call me at|my email(?: address)? is|my address is|i live at|the address is|"
    r"let'?s (?:do|say)|how about|can you do|i'?d like|maybe|probably|around|about|at|on)\b[\s,.:]*)+", re.I)
@dataclass(frozen=True, slots=True)
class EntityResult:
    """A normalized entity, or why the caller's words did not make one."""

    ok: bool
    value: str | None = None
    reason: str | None = None


def fail(reason: str) -> EntityResult:
    return EntityResult(False, None, reason)


def strip_lead_in(text: str) -> str:
    """Drop filler and lead-ins ("yeah my name is ...", "it's ...") and trailing punctuation."""
    text = " ".join((text or "").split())
    text = _LEAD_INS.sub("", text).strip()
    return text.strip(" .,!?;:")


# --- numbers -------------------------------------------------------------------------------

def digits_of(text: str) -> str:
    """Digits spoken or written: "five one two, double five, 0199" -> "512550199"."""
    words = re.findall(r"[a-z]+|\d+|\+", text.lower().replace("-", " "))
    out: list[str] = []
    repeat = 1
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("double", "triple"):
            repeat = 2 if w == "double" else 3
        elif w.isdigit():
            out.append(w[0] * repeat + w[1:])
            repeat = 1
        elif w in TENS:
            value = TENS[w]
            if i + 1 < len(words) and words[i + 1] in UNITS and 0 < UNITS[words[i + 1]] < 10:
                value += UNITS[words[i + 1]]
                i += 1
            out.append(str(value) * repeat)
            repeat = 1
        elif w in UNITS:
            out.append(str(UNITS[w]) * repeat)
            repeat = 1
        elif w == "hundred" and out:
            out.append("00")
        elif w == "thousand" and out:
            out.append("000")
        i += 1
    return "".join(out)


def number_words(tokens: list[str]) -> int | None:
    """A small cardinal or ordinal from words or digits ("twenty first" -> 21, "5th" -> 5)."""
    if not tokens:
        return None
    t0 = tokens[0]
    m = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", t0)
    if m:
        return int(m.group(1))
    if t0 in TENS:
        base = TENS[t0]
        if len(tokens) > 1:
            nxt = tokens[1]
            if nxt in ORDINALS and ORDINALS[nxt] < 10:
                return base + ORDINALS[nxt]
            if nxt in UNITS and 0 < UNITS[nxt] < 10:
                return base + UNITS[nxt]
        return base
    if t0 in ORDINALS:
        return ORDINALS[t0]
    if t0 in UNITS:
        return UNITS[t0]
    return None


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+|\d+(?:st|nd|rd|th)?|\d{1,2}[:/.]\d{1,2}(?:[:/.]\d{2,4})?", text.lower())




__all__ = ["EntityResult", "fail", "strip_lead_in", "digits_of", "number_words", "tokens",
           "UNITS", "TENS", "ORDINALS", "WEEKDAYS", "MONTHS"]
