"""Spoken dates and times into ISO dates and HH:MM, relative to the call's local time (pure)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from .words import MONTHS, ORDINALS, TENS, WEEKDAYS, EntityResult, fail, number_words, strip_lead_in, tokens

def _next_weekday(today: date, weekday: int, *, strictly_after: bool) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and strictly_after:
        ahead = 7
    return today + timedelta(days=ahead)


def safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def normalize_date(text: str, now: datetime) -> EntityResult:
    """A date relative to the call's local time: "tomorrow", "next Tuesday", "the 5th", "March 5th"."""
    today = now.date()
    raw = strip_lead_in(text).lower()
    toks = tokens(raw)
    # Each reader returns the date, a reason it is not a real one, or None (not its kind of date).
    for reader in (_iso, _relative, _weekday, _slashed, _calendar):
        found = reader(raw, toks, today)
        if found is not None:
            return EntityResult(True, found.isoformat()) if isinstance(found, date) else fail(found)
    return fail("no date found")


def _iso(raw: str, toks: list[str], today: date) -> date | str | None:
    m = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", raw)
    if not m:
        return None
    return safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3))) or "not a real date"


def _relative(raw: str, toks: list[str], today: date) -> date | str | None:
    """today, tomorrow, the day after tomorrow, in N days, next week, the weekend."""
    if re.search(r"\b(today|tonight|this (?:morning|afternoon|evening))\b", raw):
        return today
    if re.search(r"\bday after tomorrow\b", raw):
        return today + timedelta(days=2)
    if re.search(r"\btomorrow\b", raw):
        return today + timedelta(days=1)
    m = re.search(r"\bin (\w+) days?\b|\b(\w+) days? from (?:now|today)\b", raw)
    if m:
        n = number_words([m.group(1) or m.group(2)])
        if n is not None:
            return today + timedelta(days=n)
    if re.search(r"\bnext week\b", raw):
        return _next_weekday(today, 0, strictly_after=True)
    if re.search(r"\b(?:this )?weekend\b", raw):
        return _next_weekday(today, 5, strictly_after=False)
    return None


def _weekday(raw: str, toks: list[str], today: date) -> date | str | None:
    """A weekday: the next one ("next Tuesday" is strictly after today)."""
    for i, tok in enumerate(toks):
        if tok in WEEKDAYS and not (tok in ("sat", "sun", "mon", "wed") and len(toks) > 1
                                    and any(t in MONTHS for t in toks)):
            strictly = i > 0 and toks[i - 1] in ("next", "following")
            return _next_weekday(today, WEEKDAYS[tok], strictly_after=strictly)
    return None


def _slashed(raw: str, toks: list[str], today: date) -> date | str | None:
    """4/2 or 4/2/2027, US style (a past date without a year means next year's)."""
    m = re.search(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b", raw)
    if not m:
        return None
    month, day = int(m.group(1)), int(m.group(2))
    year = int(m.group(3)) if m.group(3) else today.year
    year = year + 2000 if year < 100 else year
    d = safe_date(year, month, day)
    if d is None:
        return "not a real date"
    if not m.group(3) and d < today:
        d = safe_date(year + 1, month, day) or d
    return d


def _calendar(raw: str, toks: list[str], today: date) -> date | str | None:
    """March 5th, the 3rd of April, the twenty first (the next such day)."""
    month = next((MONTHS[t] for t in toks if t in MONTHS), None)
    days = [i for i, t in enumerate(toks) if number_words(toks[i:i + 2]) is not None and t not in ("o", "oh")]
    if not days:
        return None
    day = number_words(toks[days[0]:days[0] + 2]) or 0
    if month is not None:
        ym = re.search(r"\b(20\d{2})\b", raw)
        year = int(ym.group(1)) if ym else today.year
        d = safe_date(year, month, day)
        if d is None:
            return "not a real date"
        if not ym and d < today:
            d = safe_date(year + 1, month, day) or d
        return d
    if re.search(r"\bthe\b|\d(?:st|nd|rd|th)\b|\b(?:" + "|".join(ORDINALS) + r")\b", raw):
        y, mth = today.year, today.month
        if day < today.day:
            y, mth = (y + 1, 1) if mth == 12 else (y, mth + 1)
        return safe_date(y, mth, day) or "not a real date"
    return None


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
            return fail("not a real time")
        h = _meridiem(h, marker) if h <= 12 else h
        return EntityResult(True, f"{h:02d}:{mi:02d}")
    toks = tokens(body)
    rel = re.search(r"\b(quarter|half|\w+(?: \w+)?) (past|after|to|till|before) (\w+)\b", body)
    if rel:
        amount = {"quarter": 15, "half": 30}.get(rel.group(1))
        if amount is None:
            amount = number_words(rel.group(1).replace("minutes", "").split())
        hour = number_words([rel.group(3)])
        if amount is not None and hour is not None and 1 <= hour <= 12 and 0 < amount < 60:
            h = _meridiem(hour, marker)
            total = h * 60 + (amount if rel.group(2) in ("past", "after") else -amount)
            total %= 24 * 60
            return EntityResult(True, f"{total // 60:02d}:{total % 60:02d}")
    nums = [(i, t) for i, t in enumerate(toks) if number_words([t]) is not None or t in TENS]
    if not nums:
        return fail("no time found")
    i, first = nums[0]
    if re.fullmatch(r"\d{3,4}", first):  # "330 pm", "1530"
        h, mi = int(first[:-2]), int(first[-2:])
    else:
        h = number_words([first]) or 0
        rest = toks[i + 1:i + 3]
        mi = 0
        if rest and rest[0] in ("oh", "o") and len(rest) > 1:
            mi = number_words(rest[1:2]) or 0
        elif rest:
            n = number_words(rest)
            if n is not None and rest[0] not in ORDINALS:
                mi = n
    if h > 23 or mi > 59 or (marker and h > 12):
        return fail("not a real time")
    h = _meridiem(h, marker) if h <= 12 else h
    return EntityResult(True, f"{h:02d}:{mi:02d}")




__all__ = ["normalize_date", "normalize_time", "safe_date"]
