"""Answers about opening hours from what the company knows (pure; the turn's time comes in).

"Are you open on Sunday?" -> "No, we're closed on Sundays. We're open again Monday at 8 a.m.";
"what time do you close today?" -> "We close at 5 p.m. today."; "are you open right now?" at
night -> "We're closed right now. We open again tomorrow at 8 a.m.". Business hours and holidays
are read in the company's timezone.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from .company import CompanyProfile
from .entities import spoken

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_NAME = r"(mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?s?"
_DAY = re.compile(rf"\b{_DAY_NAME}\b", re.I)
_DAY_INDEX = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "wednes": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4,
              "sat": 5, "satur": 5, "sun": 6}
_NOW = re.compile(r"\b(?:right now|now|currently|still open|at the moment|open yet)\b", re.I)
_TODAY = re.compile(r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b", re.I)
_TOMORROW = re.compile(r"\btomorrow\b", re.I)
_WEEKEND = re.compile(r"\bweekends?\b", re.I)
#: A short follow-up that names only a day: "what about today?", "and Saturday?", "how about tomorrow".
_FOLLOW_UP = re.compile(r"\W*(?:(?:and|ok(?:ay)?|so|but|um+|uh+|oh|well)\W+)*(?:(?:what|how) about\s+|and\s+)?(?:on\s+)?"
                        rf"(?:the\s+)?(?:this\s+|next\s+)?(?:{_DAY_NAME}|today|tonight|tomorrow|weekends?|right now|now)"
                        r"(?:\s+then)?\W*", re.I)
_CLOSE = re.compile(r"\b(?:close|closes|closing|how late|until what time|till what time|open until|open till)\b", re.I)
_OPEN_TIME = re.compile(r"\b(?:what time|when) do (?:you|y'?all|you guys) open\b|\bopening time\b|\bopen at what\b", re.I)
#: Words that make a question about hours ("are you open", "what time do you close").
HOURS_QUESTION = re.compile(r"\b(?:hours|open|close[sd]?|closing|how late|working (?:today|tomorrow|on|this|right now)|"
                            r"in (?:the office )?(?:today|tomorrow)|"
                            # "do you do weekends", "do you guys work saturdays", "are you available on sunday"
                            r"(?:do|does|are|will) (?:you|y'?all|your (?:guys|techs?|technicians?|office|team))(?: guys)? "
                            r"(?:do|work|come out|come|take calls|available)(?: on)? (?:the )?(?:weekends?|saturdays?|"
                            r"sundays?|holidays?))\b", re.I)


def clock(minute: int) -> str:
    """Minutes of the day as spoken: 480 -> "8 a.m.", 1020 -> "5 p.m.", 450 -> "7:30 a.m."."""
    if minute in (0, 24 * 60):
        return "midnight"
    return spoken(f"{minute // 60:02d}:{minute % 60:02d}")


def _span(ranges: tuple[tuple[int, int], ...]) -> str:
    if ranges == ((0, 24 * 60),) or ranges == ((0, 0),):
        return "24 hours"
    return " and ".join(f"{clock(a)} to {clock(b)}" for a, b in ranges)


def _day_word(day: date, today: date) -> str:
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    return DAY_NAMES[day.weekday()] if (day - today).days < 7 else f"{DAY_NAMES[day.weekday()]}, {day:%B} {day.day}"


def next_opening(profile: CompanyProfile, local: datetime) -> tuple[date, int] | None:
    """The next time the company opens after ``local`` (within two weeks)."""
    minute = local.hour * 60 + local.minute
    for ahead in range(15):
        day = local.date() + timedelta(days=ahead)
        for start, _ in profile.ranges_on(day):
            if ahead or start > minute:
                return day, start
    return None


def _closing_today(profile: CompanyProfile, local: datetime) -> int | None:
    minute = local.hour * 60 + local.minute
    for start, end in profile.ranges_on(local.date()):
        if start <= minute < (end if end > start else 24 * 60):
            return end
    return None


def _reopen(profile: CompanyProfile, local: datetime) -> str:
    found = next_opening(profile, local)
    if found is None:
        return ""
    day, start = found
    when = "later today" if day == local.date() else DAY_NAMES[day.weekday()]
    if (day - local.date()).days >= 7:
        when = f"{DAY_NAMES[day.weekday()]}, {day:%B} {day.day}"
    return f" We open again {when} at {clock(start)}."


def _now(profile: CompanyProfile, local: datetime, *, yes_no: bool = False) -> str:
    """Open or closed right now; ``yes_no``: asked as a yes-or-no question ("are you still open?"), answered "No,
    we're closed ..." when closed."""
    closes = _closing_today(profile, local)
    if closes is not None:
        return f"Yes, we're open right now, until {clock(closes)} today."
    holiday = profile.holiday(local.date())
    why = f" today for {holiday}" if holiday else " right now"
    return f"{'No, we' if yes_no else 'We'}'re closed{why}.{_reopen(profile, local)}"


def _on_day(profile: CompanyProfile, local: datetime, day: date, asks_close: bool, asks_open: bool) -> str:
    today = local.date()
    word = _day_word(day, today)
    ranges = profile.ranges_on(day)
    holiday = profile.holiday(day)
    if not ranges:
        reason = f" for {holiday}" if holiday else ""
        if day == today:
            return f"We're closed today{reason}.{_reopen(profile, local)}"
        after = _reopen(profile, datetime.combine(day, datetime.max.time()).replace(tzinfo=local.tzinfo))
        if holiday:
            return f"We're closed {word}{reason}.{after}"
        return f"We're closed on {DAY_NAMES[day.weekday()]}s.{after}"
    if day == today:
        minute = local.hour * 60 + local.minute
        last_end = ranges[-1][1]
        if minute >= last_end > ranges[-1][0]:
            return f"We closed at {clock(last_end)} today.{_reopen(profile, local)}"
    special = f" for {holiday}" if holiday else ""
    if asks_close:
        return f"We close at {clock(ranges[-1][1])} {word}{special}."
    if asks_open:
        return f"We open at {clock(ranges[0][0])} {word}{special}."
    label = word if day in (today, today + timedelta(days=1)) or holiday else f"on {DAY_NAMES[day.weekday()]}s"
    return f"{label[0].upper()}{label[1:]}{special}, we're open {_span(ranges)}."


def week(profile: CompanyProfile) -> str:
    """The week's hours in one breath: "We're open Monday to Friday, 8 a.m. to 5 p.m., ..."."""
    groups: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []
    for i in range(7):
        ranges = profile.hours.get(i, ())
        if groups and groups[-1][2] == ranges and groups[-1][1] == i - 1:
            groups[-1] = (groups[-1][0], i, ranges)
        else:
            groups.append((i, i, ranges))
    opened = [g for g in groups if g[2]]
    closed = [g for g in groups if not g[2]]

    def days(a: int, b: int) -> str:
        return DAY_NAMES[a] if a == b else (f"{DAY_NAMES[a]} and {DAY_NAMES[b]}" if b == a + 1
                                            else f"{DAY_NAMES[a]} to {DAY_NAMES[b]}")
    parts = [f"{days(a, b)}, {_span(r)}" for a, b, r in opened]
    text = "We're open " + (", and ".join(parts) if len(parts) < 3 else ", ".join(parts[:-1]) + ", and " + parts[-1])
    if closed:
        text += ". We're closed on " + " and ".join(days(a, b) for a, b, _ in closed)
    return text + "."


def _tidy(text: str) -> str:
    return text.replace("m.. ", "m. ").replace("m..", "m.")


def follows_up_on_day(utterance: str) -> bool:
    """Whether the words only name a day, as a follow-up to an answer about hours ("what about today?")."""
    return bool(_FOLLOW_UP.fullmatch(utterance or ""))


def hours_answer(profile: CompanyProfile, now: datetime, utterance: str) -> str | None:
    """The answer to a question about opening hours, or None when the company has no hours."""
    answer = _answer(profile, now, utterance)
    return _tidy(answer) if answer else None


def _answer(profile: CompanyProfile, now: datetime, utterance: str) -> str | None:
    if not profile.has_hours:
        return None
    local = profile.local(now)
    text = utterance or ""
    asks_close, asks_open = bool(_CLOSE.search(text)), bool(_OPEN_TIME.search(text))
    days = [_DAY_INDEX[m.group(1).lower()] for m in _DAY.finditer(text)]
    if _WEEKEND.search(text):
        days += [5, 6]
    if days:
        answers = []
        for weekday in dict.fromkeys(days):
            day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
            answers.append(_on_day(profile, local, day, asks_close, asks_open))
        return _tidy(" ".join(answers))
    if _TOMORROW.search(text):
        return _on_day(profile, local, local.date() + timedelta(days=1), asks_close, asks_open)
    if _TODAY.search(text) or asks_close or asks_open:
        return _on_day(profile, local, local.date(), asks_close, asks_open)
    asked = re.search(r"\b(?:are|r) (?:you|y'?all|you guys)(?: still)? (?:open|working)\b", text, re.I)
    if _NOW.search(text) or asked:
        return _now(profile, local, yes_no=bool(asked))
    return week(profile)


__all__ = ["hours_answer", "follows_up_on_day", "week", "next_opening", "clock", "HOURS_QUESTION"]
