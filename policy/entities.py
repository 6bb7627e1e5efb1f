"""Spoken entities: what callers say, as speech recognition writes it, into typed values (pure).

``normalize(kind, text, now=..., region=...)`` returns an ``EntityResult``: ``ok`` and a
normalized ``value`` (E.164 phone, lower-case email, ISO date, ``HH:MM`` time, trimmed
text), or ``ok=False`` with a ``reason`` for the re-prompt log. Dates and times are read
relative to the call's time in the company's timezone (``now`` must carry that zone).
``spoken(value)`` gives the form to read back to the caller.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import phonenumbers

from .dates import normalize_date, normalize_time, safe_date
from .words import EntityResult, digits_of, fail, strip_lead_in

KINDS = ("PERSON", "PHONE", "EMAIL", "DATE", "TIME", "ADDRESS", "TEXT")
CAPS = {"PERSON": 100, "ADDRESS": 200, "TEXT": 500}

_MARKER = (r"(?:it'?s|it is|that'?s|that is|i mean|i meant|make that|should be|change (?:it|that) to|"
           r"(?:my|the) (?:(?:callback |phone |cell )?number|phone|name|last name|first name|email(?: address)?|"
           r"address) (?:is|should be)|(?:my|the) (?:(?:callback |phone |cell )?number|phone|name|email|address)'s)")
#: "no, it's 0198", "actually it's Jane", "sorry, I mean Tuesday", "no wait, my number is ..." (but not "no idea"
#: or "no thanks").
_CORRECTION = re.compile(r"^\s*(?:(?:(?:no|nope|wait|oops|sorry|hold on|not quite)\b[\s,.!:-]*)+" + _MARKER + r"\b|"
                         r"(?:actually|correction|i mean|i meant)\b(?:[\s,.!:-]*" + _MARKER + r"\b)?)[\s,.:]*",
                         re.I)


def correction(text: str) -> str | None:
    """The corrected value when the caller corrects themselves ("no, it's 0198"), else None."""
    m = _CORRECTION.match(text or "")
    if not m or not m.group(0).strip():
        return None
    rest = text[m.end():].strip(" .,!?")
    return rest or None



# --- each kind -----------------------------------------------------------------------------

def normalize_phone(text: str, region: str = "US") -> EntityResult:
    """A phone number in E.164, in the company's country unless the caller gives another."""
    raw = strip_lead_in(text)
    plus = "+" in raw or re.search(r"\bplus\b", raw, re.I) is not None
    digits = digits_of(raw)
    if len(digits) < 7:
        return fail("too few digits for a phone number")
    if len(digits) < 10 and region in ("US", "CA"):
        return fail("the area code is missing")
    candidate = ("+" + digits) if plus else digits
    try:
        num = phonenumbers.parse(candidate, None if plus else region)
    except phonenumbers.NumberParseException:
        return fail("not a phone number")
    if not phonenumbers.is_valid_number(num):
        return fail("not a valid phone number")
    return EntityResult(True, phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164))


_EMAIL = re.compile(r"^[a-z0-9](?:[a-z0-9._%+-]{0,62}[a-z0-9])?@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z]{2,24}$")
_EMAIL_WORDS = [(r"\bat sign\b|\bat\b", "@"), (r"\bdot\b|\bperiod\b|\bpoint\b", "."),
                (r"\bunderscore\b", "_"), (r"\bdash\b|\bhyphen\b|\bminus\b", "-"), (r"\bplus\b", "+")]


def normalize_email(text: str) -> EntityResult:
    """"john dot smith at gmail dot com" -> john.smith@gmail.com (validated)."""
    raw = strip_lead_in(text).lower()
    for pattern, repl in _EMAIL_WORDS:
        raw = re.sub(pattern, f" {repl} ", raw)
    raw = re.sub(r"\s+", "", raw).strip(".")
    if raw.count("@") != 1:
        return fail("an email address needs one 'at'")
    if ".." in raw or not _EMAIL.match(raw):
        return fail("not a valid email address")
    return EntityResult(True, raw)


_FILLERS_FIRST = re.compile(r"^(?:(?:um+|uh+|er+|erm|hmm+|yeah|yes|yep|sure|please(?=\s*,)|so|well|ok(?:ay)?|oh)\b"
                            r"[\s,.]*)+", re.I)


#: Words a sentence starts with that no name does ("no sparks, just dead", "is that something you fix").
_NOT_NAME_FIRST = frozenset("no not nope nothing just it it's its is are was were what when where why how which who "
                            "there here i i'm we you they he she my our your the this that do does did can could "
                            "would should yes yeah yep sure okay ok um uh whatever fine nah never hello hi hey "
                            "thanks thank let's lets get send come please don't can't that's thats all everything bye goodbye take leave "
                            "message connect transfer as".split())
#: Function words; a name may hold one ("Mary and Bill"), a sentence holds several.
_FUNCTION = frozenset("a an the is are was were be been it it's its this that these those my our your their his her "
                      "no not and or but so just to of in on at for with from about there here i we you they what "
                      "when where why how do does did have has had can could would should "
                      # talk about getting help ("let's get someone out then", "send somebody over")
                      "someone somebody anyone anybody something out then up over me us them get send come go".split())


#: Words of a day or a time ("thursday I guess", "tomorrow morning"): an answer about when, not a name.
WHEN_WORDS = frozenset("today tomorrow tonight morning afternoon evening weekend asap anytime whenever monday tuesday wednesday "
                       "thursday friday saturday sunday".split())


#: Why words given as a name were refused when they read as a sentence.
SENTENCE = "that sounds like a sentence, not a name"
DIGITS = "a name has no digits"


def not_a_name(text: str) -> bool:
    """Whether words given as a name read as a sentence, or a time, instead (asked again, not stored)."""
    words = [w.strip(".,!?;:'\"-").lower() for w in text.split()]
    words = [w for w in words if w]
    if not words:
        return True
    timely = not WHEN_WORDS.isdisjoint(words)  # ("Monday" alone, asked for a name, is a day: no one is called that)
    return words[0] in _NOT_NAME_FIRST or sum(w in _FUNCTION for w in words) >= 2 or len(words) > 6 or timely


def normalize_text(kind: str, text: str) -> EntityResult:
    """PERSON, ADDRESS and TEXT: trimmed, non-empty, capped; names lose their lead-ins, a message its
    opening fillers ("um, yeah, the furnace ..." -> "the furnace ...")."""
    raw = " ".join((text or "").split())
    if kind in ("PERSON", "ADDRESS"):
        raw = strip_lead_in(raw)
    elif kind == "TEXT":
        raw = _FILLERS_FIRST.sub("", raw) or raw
    raw = raw[:CAPS.get(kind, 500)].strip()
    if not re.search(r"\w", raw):
        return fail("nothing was said")
    if kind == "PERSON":
        if not re.search(r"[^\W\d_]", raw):
            return fail("a name needs letters")
        if re.search(r"\d", raw):
            return fail(DIGITS)
        if not_a_name(raw):
            return fail(SENTENCE)
        if raw.islower():
            raw = " ".join(w[:1].upper() + w[1:] for w in raw.split())
    return EntityResult(True, raw)


def normalize(kind: str, text: str, *, now: datetime, region: str = "US", pattern: Any = None) -> EntityResult:
    """Validate and normalize one spoken entity; ``pattern`` (compiled RE2) must then match the value."""
    kind = kind.upper()
    if not (text or "").strip():
        return fail("nothing was said")
    if kind == "PHONE":
        result = normalize_phone(text, region)
    elif kind == "EMAIL":
        result = normalize_email(text)
    elif kind == "DATE":
        result = normalize_date(text, now)
    elif kind == "TIME":
        result = normalize_time(text)
    else:
        result = normalize_text(kind, text)
    if result.ok and pattern is not None and not pattern.search(result.value or ""):
        return fail("does not match the expected format")
    return result


def patch_phone(previous: str, spoken_fix: str, region: str = "US") -> EntityResult:
    """A partial correction of a phone number: "no, it's 0198" replaces the last digits."""
    fix = digits_of(spoken_fix)
    full = normalize_phone(spoken_fix, region)
    if full.ok:
        return full
    if not 2 <= len(fix) < 10:
        return fail("not a phone correction")
    national = str(phonenumbers.parse(previous, None).national_number)
    return normalize_phone(national[: len(national) - len(fix)] + fix, region)


# --- reading values back -------------------------------------------------------------------

def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def spoken(value: Any) -> str:
    """A collected value as it should be read back to a caller."""
    text = str(value)
    if re.fullmatch(r"\+\d{8,15}", text):
        try:
            num = phonenumbers.parse(text, None)
            national = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
        except phonenumbers.NumberParseException:
            national = text
        groups = re.findall(r"\d+", national)
        return ", ".join(" ".join(g) for g in groups)
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text)
    if m:
        d = safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return f"{d.strftime('%A, %B')} {_ordinal(d.day)}" if d else text
    m = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", text)
    if m:
        h, mi = int(m.group(1)), int(m.group(2))
        if (h, mi) == (12, 0):
            return "noon"
        suffix = "a.m." if h < 12 else "p.m."
        h12 = h % 12 or 12
        return f"{h12}:{mi:02d} {suffix}" if mi else f"{h12} {suffix}"
    if "@" in text and _EMAIL.match(text):
        local, domain = text.split("@")
        say = lambda s: s.replace(".", " dot ").replace("_", " underscore ").replace("-", " dash ")  # noqa: E731
        return " ".join(f"{say(local)} at {say(domain)}".split())
    return text


__all__ = ["SENTENCE", "DIGITS", "EntityResult", "normalize", "spoken", "correction", "strip_lead_in", "digits_of", "patch_phone",
           "KINDS"]
