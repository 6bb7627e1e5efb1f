"""Spoken entities: what callers say, as speech recognition writes it, into typed values (pure).

``normalize(kind, text, now=..., region=...)`` returns an ``EntityResult``: ``ok`` and a
normalized ``value`` (E.164 phone, lower-case email, ISO date, ``HH:MM`` time, trimmed
text), or ``ok=False`` with a ``reason`` for the re-prompt log. Dates and times are read
relative to the call's time in the company's timezone (``now`` must carry that zone).
``spoken(value)`` gives the form to read back to the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import phonenumbers

KINDS = ("PERSON", "PHONE", "EMAIL", "DATE", "TIME", "ADDRESS", "TEXT")
CAPS = {"PERSON": 100, "ADDRESS": 200, "TEXT": 500}

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
    r"^(?:(?:yes|yeah|yep|sure|ok|okay|um+|uh+|so|well|it'?s|it is|that'?s|that is|this is|my name is|"
    r"my name'?s|name'?s|i'?m|i am|the name is|my (?:phone )?number is|my phone is|the number is|"
    r"you can reach me at|call me at|my email(?: address)? is|my address is|i live at|the address is|"
    r"let'?s (?:do|say)|how about|can you do|i'?d like|maybe|probably|around|about|at|on)\b[\s,.:]*)+", re.I)
_MARKER = r"(?:it'?s|it is|that'?s|that is|i mean|i meant|make that|should be|change (?:it|that) to)"
#: "no, it's 0198", "actually it's Jane", "sorry, I mean Tuesday" (but not "no idea" or "no thanks").
_CORRECTION = re.compile(r"^\s*(?:(?:no|nope|wait|oops|sorry|not quite)\b[\s,.!:-]*" + _MARKER + r"\b|"
                         r"(?:actually|correction|i mean|i meant)\b(?:[\s,.!:-]*" + _MARKER + r"\b)?)[\s,.:]*",
                         re.I)


@dataclass(frozen=True, slots=True)
class EntityResult:
    """A normalized entity, or why the caller's words did not make one."""

    ok: bool
    value: str | None = None
    reason: str | None = None


def _fail(reason: str) -> EntityResult:
    return EntityResult(False, None, reason)


def strip_lead_in(text: str) -> str:
    """Drop filler and lead-ins ("yeah my name is ...", "it's ...") and trailing punctuation."""
    text = " ".join((text or "").split())
    text = _LEAD_INS.sub("", text).strip()
    return text.strip(" .,!?;:")


def correction(text: str) -> str | None:
    """The corrected value when the caller corrects themselves ("no, it's 0198"), else None."""
    m = _CORRECTION.match(text or "")
    if not m or not m.group(0).strip():
        return None
    rest = text[m.end():].strip(" .,!?")
    return rest or None


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


def _number_words(tokens: list[str]) -> int | None:
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


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z]+|\d+(?:st|nd|rd|th)?|\d{1,2}[:/.]\d{1,2}(?:[:/.]\d{2,4})?", text.lower())


# --- each kind -----------------------------------------------------------------------------

def normalize_phone(text: str, region: str = "US") -> EntityResult:
    """A phone number in E.164, in the company's country unless the caller gives another."""
    raw = strip_lead_in(text)
    plus = "+" in raw or re.search(r"\bplus\b", raw, re.I) is not None
    digits = digits_of(raw)
    if len(digits) < 7:
        return _fail("too few digits for a phone number")
    if len(digits) < 10 and region in ("US", "CA"):
        return _fail("the area code is missing")
    candidate = ("+" + digits) if plus else digits
    try:
        num = phonenumbers.parse(candidate, None if plus else region)
    except phonenumbers.NumberParseException:
        return _fail("not a phone number")
    if not phonenumbers.is_valid_number(num):
        return _fail("not a valid phone number")
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
        return _fail("an email address needs one 'at'")
    if ".." in raw or not _EMAIL.match(raw):
        return _fail("not a valid email address")
    return EntityResult(True, raw)


def _next_weekday(today: date, weekday: int, *, strictly_after: bool) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and strictly_after:
        ahead = 7
    return today + timedelta(days=ahead)


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def normalize_date(text: str, now: datetime) -> EntityResult:
    """A date relative to the call's local time: "tomorrow", "next Tuesday", "the 5th", "March 5th"."""
    today = now.date()
    raw = strip_lead_in(text).lower()
    m = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", raw)
    if m:
        d = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return EntityResult(True, d.isoformat()) if d else _fail("not a real date")
    if re.search(r"\b(today|tonight|this (?:morning|afternoon|evening))\b", raw):
        return EntityResult(True, today.isoformat())
    if re.search(r"\bday after tomorrow\b", raw):
        return EntityResult(True, (today + timedelta(days=2)).isoformat())
    if re.search(r"\btomorrow\b", raw):
        return EntityResult(True, (today + timedelta(days=1)).isoformat())
    m = re.search(r"\bin (\w+) days?\b|\b(\w+) days? from (?:now|today)\b", raw)
    if m:
        n = _number_words([m.group(1) or m.group(2)])
        if n is not None:
            return EntityResult(True, (today + timedelta(days=n)).isoformat())
    if re.search(r"\bnext week\b", raw):
        return EntityResult(True, _next_weekday(today, 0, strictly_after=True).isoformat())
    if re.search(r"\b(?:this )?weekend\b", raw):
        return EntityResult(True, _next_weekday(today, 5, strictly_after=False).isoformat())
    tokens = _tokens(raw)
    for i, tok in enumerate(tokens):
        if tok in WEEKDAYS and not (tok in ("sat", "sun", "mon", "wed") and len(tokens) > 1
                                    and any(t in MONTHS for t in tokens)):
            strictly = i > 0 and tokens[i - 1] in ("next", "following")
            return EntityResult(True, _next_weekday(today, WEEKDAYS[tok], strictly_after=strictly).isoformat())
    m = re.search(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b", raw)
    if m:
        month, day = int(m.group(1)), int(m.group(2))
        year = int(m.group(3)) if m.group(3) else today.year
        year = year + 2000 if year < 100 else year
        d = _safe_date(year, month, day)
        if d is None:
            return _fail("not a real date")
        if not m.group(3) and d < today:
            d = _safe_date(year + 1, month, day) or d
        return EntityResult(True, d.isoformat())
    month = next((MONTHS[t] for t in tokens if t in MONTHS), None)
    day_tokens = [i for i, t in enumerate(tokens) if _number_words(tokens[i:i + 2]) is not None
                  and t not in ("o", "oh")]
    if month is not None and day_tokens:
        day = _number_words(tokens[day_tokens[0]:day_tokens[0] + 2])
        year = today.year
        ym = re.search(r"\b(20\d{2})\b", raw)
        if ym:
            year = int(ym.group(1))
        d = _safe_date(year, month, day or 0)
        if d is None:
            return _fail("not a real date")
        if not ym and d < today:
            d = _safe_date(year + 1, month, day or 0) or d
        return EntityResult(True, d.isoformat())
    if day_tokens and re.search(r"\bthe\b|\d(?:st|nd|rd|th)\b|\b(?:" + "|".join(ORDINALS) + r")\b", raw):
        day = _number_words(tokens[day_tokens[0]:day_tokens[0] + 2]) or 0
        y, mth = today.year, today.month
        if day < today.day:
            y, mth = (y + 1, 1) if mth == 12 else (y, mth + 1)
        d = _safe_date(y, mth, day)
        return EntityResult(True, d.isoformat()) if d else _fail("not a real date")
    return _fail("no date found")


_MERIDIEM = re.compile(r"\b(a\.?\s?m\.?|p\.?\s?m\.?|in the morning|in the afternoon|in the evening|at night|tonight)"
                       r"(?=\W|$)", re.I)


def _meridiem(hour: int, marker: str | None) -> int:
    if marker:
        pm = marker.lower().startswith("p") or any(w in marker.lower() for w in ("afternoon", "evening", "night"))
        if pm and hour < 12:
            return hour + 12
        if not pm and hour == 12:
            return 0
        return hour
    # No a.m./p.m.: a caller booking a visit means working hours (1-6 is afternoon, 7-11 morning).
    return hour + 12 if 1 <= hour <= 6 else hour


def normalize_time(text: str) -> EntityResult:
    """A time of day as HH:MM: "3 pm", "three thirty", "quarter past ten", "noon", "15:00"."""
    raw = strip_lead_in(text).lower().replace("o'clock", "").replace("oclock", "")
    if re.search(r"\bnoon\b|\bmidday\b", raw):
        return EntityResult(True, "12:00")
    if re.search(r"\bmidnight\b", raw):
        return EntityResult(True, "00:00")
    mm = _MERIDIEM.search(raw)
    marker = mm.group(1) if mm else None
    body = _MERIDIEM.sub(" ", raw)
    m = re.search(r"\b(\d{1,2})[:.](\d{2})\b", body)
    if m:
        h, mi = int(m.group(1)), int(m.group(2))
        if h > 23 or mi > 59:
            return _fail("not a real time")
        h = _meridiem(h, marker) if h <= 12 else h
        return EntityResult(True, f"{h:02d}:{mi:02d}")
    tokens = _tokens(body)
    rel = re.search(r"\b(quarter|half|\w+(?: \w+)?) (past|after|to|till|before) (\w+)\b", body)
    if rel:
        amount = {"quarter": 15, "half": 30}.get(rel.group(1))
        if amount is None:
            amount = _number_words(rel.group(1).replace("minutes", "").split())
        hour = _number_words([rel.group(3)])
        if amount is not None and hour is not None and 1 <= hour <= 12 and 0 < amount < 60:
            h = _meridiem(hour, marker)
            total = h * 60 + (amount if rel.group(2) in ("past", "after") else -amount)
            total %= 24 * 60
            return EntityResult(True, f"{total // 60:02d}:{total % 60:02d}")
    nums = [(i, t) for i, t in enumerate(tokens) if _number_words([t]) is not None or t in TENS]
    if not nums:
        return _fail("no time found")
    i, first = nums[0]
    if re.fullmatch(r"\d{3,4}", first):  # "330 pm", "1530"
        h, mi = int(first[:-2]), int(first[-2:])
    else:
        h = _number_words([first]) or 0
        rest = tokens[i + 1:i + 3]
        mi = 0
        if rest and rest[0] in ("oh", "o") and len(rest) > 1:
            mi = _number_words(rest[1:2]) or 0
        elif rest:
            n = _number_words(rest)
            if n is not None and rest[0] not in ORDINALS:
                mi = n
    if h > 23 or mi > 59 or (marker and h > 12):
        return _fail("not a real time")
    h = _meridiem(h, marker) if h <= 12 else h
    return EntityResult(True, f"{h:02d}:{mi:02d}")


def normalize_text(kind: str, text: str) -> EntityResult:
    """PERSON, ADDRESS and TEXT: trimmed, non-empty, capped; names lose their lead-ins."""
    raw = " ".join((text or "").split())
    if kind in ("PERSON", "ADDRESS"):
        raw = strip_lead_in(raw)
    raw = raw[:CAPS.get(kind, 500)].strip()
    if not re.search(r"\w", raw):
        return _fail("nothing was said")
    if kind == "PERSON":
        if not re.search(r"[^\W\d_]", raw):
            return _fail("a name needs letters")
        if raw.islower():
            raw = " ".join(w[:1].upper() + w[1:] for w in raw.split())
    return EntityResult(True, raw)


def normalize(kind: str, text: str, *, now: datetime, region: str = "US", pattern: Any = None) -> EntityResult:
    """Validate and normalize one spoken entity; ``pattern`` (compiled RE2) must then match the value."""
    kind = kind.upper()
    if not (text or "").strip():
        return _fail("nothing was said")
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
        return _fail("does not match the expected format")
    return result


def patch_phone(previous: str, spoken_fix: str, region: str = "US") -> EntityResult:
    """A partial correction of a phone number: "no, it's 0198" replaces the last digits."""
    fix = digits_of(spoken_fix)
    full = normalize_phone(spoken_fix, region)
    if full.ok:
        return full
    if not 2 <= len(fix) < 10:
        return _fail("not a phone correction")
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
        d = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
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


__all__ = ["EntityResult", "normalize", "spoken", "correction", "strip_lead_in", "digits_of", "patch_phone",
           "KINDS"]
