"""A visit's details as a person would read them back (pure).

"come tomorrow morning, 12 oak street" -> "a visit tomorrow morning at 12 Oak Street": the caller's
lead-in words ("come", "you can come", "how about", "um", "it's") go, the time comes before the place,
street names are capitalized and their abbreviations said in full. Nothing the caller gave is lost:
words that are neither a time nor a place are said back after them as the caller said them, and when
the words cannot be rephrased safely (a word would go missing) there is no phrase, and the caller's
own words are read back. Only the read-back changes: the team gets the words as the caller said them.
"""

from __future__ import annotations

import re
from collections import Counter

from . import acts
from .spoken import said_back

#: Words in front of a detail that only lead into it ("um", "yeah you can come", "how about", "it's", "address is").
_LEAD = re.compile(
    r"^\W*(?:(?:um+|uh+|er+|erm|hmm+|oh|so|well|and|also|actually|whatever|fine|yeah|yes|yep|yup|ok(?:ay)?|sure|alright|all right|please|"
    r"just|i guess|i think|i'?d say|let'?s say|let'?s do|let'?s go with|say|"
    r"(?:you|they|someone|somebody|the tech(?:nician)?|your (?:guy|tech(?:nician)?)) (?:can|could|should)|"
    r"(?:can|could|would) (?:you|someone|somebody|they|he|she)|can|could|"
    r"(?:come|stop|swing|drop)(?: (?:by|over|out|round|around))?|send (?:someone|somebody|a tech(?:nician)?|them)|"
    r"how about|what about|(?:how|what) does|(?:how|what) do(?:es)? \w+ look|"
    r"(?:that'?d|that would|it'?d|it would) be|that'?s|it'?s|it is|there'?s|"
    r"(?:the|my|our) address(?: is|'?s)?|address(?: is|'?s)?|i'?m free|we'?re free|i'?m home|we'?re home|"
    r"i'?m around|we'?re around|i'?m available|we'?re available|i'?m|i am|we'?re|we are|"
    r"(?:i|we) live|(?:i|we)'?re located|located)\b(?!['\u2019])[\s,:-]*)+", re.I)
#: A yes alone, or a thank-you: nothing of the visit ("that'd be great", "perfect", "thanks").
_ONLY_ASSENT = re.compile(r"^\W*(?:great|good|perfect|fine|awesome|wonderful|sounds good|thanks?|thank you|please|"
                          r"that works|works for me|ok(?:ay)?|sure|yes|yeah|yep)\W*$", re.I)
#: A clause that says what does not suit ("friday is not good", "can't do monday"): said as it is, whole.
_NEGATED = re.compile(r"\b(?:not|no|never|nothing|except|but)\b|n['\u2019]?t\b", re.I)
#: What is said after a time to say it suits ("tomorrow afternoon works", "mornings are best", "friday is good").
_SUITS = re.compile(r"[\s,]+if (?:that|it|this|thats|that'?s)(?:\s*'?s| is| would be)?\s*(?:works?|ok(?:ay)?|alright|all right|"
                    r"fine|good|possible|available|open)(?: for (?:you|you guys|y'?all|everyone|the tech\w*))?\W*$|"
                    r"[\s,]+if (?:you|y'?all|you guys|they|someone) (?:can|could|have (?:one|anything|something|time))\W*$|"
                    r"\s+(?:(?:is|are|would be|'?d be|should be|will be)\s+)?(?:best|good|great|fine|better|ideal|"
                    r"perfect|works?(?: best| well| great)?|ok(?:ay)?)(?:\s+for (?:me|us))?\W*$|"
                    r"[\s,]+(?:please|thanks?|thank you)\W*$", re.I)
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
#: Words that say when ("tomorrow morning", "after 3", "friday", "mornings", "next week").
_TIME = re.compile(rf"\b(?:today|tomorrow|tonight|{_DAYS}|weekends?|weekdays?|mornings?|afternoons?|evenings?|noon|"
                   rf"midday|anytime|any ?time|whenever|asap|as soon as|(?:this|next) week|{_MONTHS}|"
                   r"right (?:now|away)|after (?:work|school|lunch)|"
                   r"(?:at|after|before|around|by|from|until|till|til|between) \d{1,2}(?::\d\d)?|"
                   r"\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m\.?|p\.m\.?|o'?clock)|\d{1,2}(?:st|nd|rd|th))\b", re.I)
#: Every word of a time phrase is one of these (else the clause says more than when, and is said as is).
_TIME_WORD = re.compile(rf"^(?:today|tomorrow|tonight|{_DAYS}|weekends?|weekdays?|mornings?|afternoons?|evenings?|"
                        rf"nights?|noon|midday|anytime|any|time|whenever|asap|as|soon|possible|you|can|this|next|week|"
                        rf"{_MONTHS}|the|of|right|now|away|after|before|around|by|from|until|till|til|between|and|or|"
                        r"at|on|in|work|school|lunch|early|late|earlier|later|first|thing|day|all|ish|if|so|"
                        r"latest|earliest|maybe|probably|preferably|ideally|sometime|"
                        r"am|pm|a\.m\.?|p\.m\.?|o'?clock|\d{1,2}(?::\d\d)?(?:am|pm)?|\d{1,2}(?:st|nd|rd|th))$", re.I)
#: A street address at the start of a clause: a house number, then the street's words.
_STREET = re.compile(r"^(?:at\s+)?\d{1,6}[a-z]?\s+(?:\d{1,3}(?:st|nd|rd|th)\b|[^\W\d_])", re.I)
#: A place named after a preposition ("in Round Rock", "off Main", "on Elm Street").
_NEAR = re.compile(r"^(?:in|on|at|near|off|by)\s+[^\W\d_]", re.I)
#: What follows a street address as part of it ("apartment 4", "suite 200", "unit B").
#: A numbered street's name ("5th Street"): not a day of the month.
_ORDINAL = re.compile(r"\b\d{1,3}(?:st|nd|rd|th)\s+(?=[^\W\d_])", re.I)
_UNIT = re.compile(r"^(?:apt|apartment|suite|ste|unit|#|building|bldg|floor|lot)\b", re.I)
#: A street's type said short, and the points of the compass in front of its name.
_SUFFIXES = {"st": "Street", "rd": "Road", "ave": "Avenue", "av": "Avenue", "ln": "Lane", "dr": "Drive",
             "ct": "Court", "blvd": "Boulevard", "pkwy": "Parkway", "hwy": "Highway", "cir": "Circle",
             "pl": "Place", "ter": "Terrace", "trl": "Trail"}
_POINTS = {"n": "North", "s": "South", "e": "East", "w": "West", "ne": "Northeast", "nw": "Northwest",
           "se": "Southeast", "sw": "Southwest"}
_UNITS = {"apt": "apartment", "ste": "suite", "bldg": "building"}
_UNIT_WORDS = frozenset(("apartment", "suite", "unit", "building", "#", "lot"))
#: Street types said in full: the street's name ends with one (words after it are not the street's).
_TYPES = frozenset("street road avenue lane drive court boulevard parkway highway circle place terrace trail way "
                   "loop row square plaza pike run crossing cove".split()) | frozenset(_SUFFIXES)
#: Words that end a street's name when no street type does ("12 oak in the back").
_NOT_NAME = frozenset("in on at near by off behind across next with but and the please around from for".split())
_CLAUSES = re.compile(r"\s*[,;]+\s*|(?<![ap]\.m)[.?!]\s+|\s+and\s+(?!\d{1,2}\b)", re.I)


def _words(text: str) -> list[str]:
    """The words of ``text`` as the lost-word check compares them (short forms said in full, no plural s)."""
    out = []
    text = re.sub(r"\b(?:whenever|anytime)\b", "any time", text.lower().replace("'", "").replace("\u2019", ""))
    text = re.sub(r"\basap\b", "as soon as possible", text)
    for w in re.findall(r"[a-z0-9#]+", text):
        w = _SUFFIXES.get(w, _POINTS.get(w, _UNITS.get(w, w))).lower()
        out.append(w[:-1] if len(w) > 3 and w.endswith("s") else w)
    return out


def _street(words: str) -> str:
    """A street address as it is said back: "400 w camelback rd apt 4" -> "400 West Camelback Road, apartment 4"."""
    tokens = words.split()
    out = [tokens[0]]
    named = True  # still in the street's name (capitalized)
    for i, token in enumerate(tokens[1:], start=1):
        bare = token.strip(".,").lower()
        if _UNIT.match(bare) and i > 1:
            named = False
            out[-1] = out[-1].rstrip(",") + ","
            out.append(_UNITS.get(bare, bare))
            continue
        if named and bare in _NOT_NAME:
            named = False
        if not named:
            out.append(token.upper() if len(bare) == 1 and bare.isalpha() and out[-1] in _UNIT_WORDS else token)
            continue
        if i == 1 and bare in _POINTS and len(tokens) > 2:
            out.append(_POINTS[bare])
        elif bare in _SUFFIXES and (i == len(tokens) - 1 or tokens[i + 1].strip(".,").lower() in _NOT_NAME
                                    or _UNIT.match(tokens[i + 1].lower())):
            out.append(_SUFFIXES[bare])
            named = False
        else:
            out.append(bare[:1].upper() + bare[1:] if bare[:1].isalpha() else bare)
            if bare in _TYPES:
                named = False
    return " ".join(out)


def _when(clause: str) -> str:
    """A time as it is said after "a visit": "friday" -> "on Friday", "mornings" -> "any morning"."""
    words = clause.lower().split()
    hedge = re.fullmatch(r"maybe|probably|preferably|ideally", words[0]) if len(words) > 1 else None
    if hedge:  # "preferably friday" -> "preferably on Friday"
        return f"{words[0]} {_when(' '.join(words[1:]))}"
    if len(words) == 1 and words[0] in ("mornings", "afternoons", "evenings"):
        words = ["any", words[0][:-1]]
    elif len(words) == 1 and words[0] in ("anytime", "whenever"):
        words = ["any", "time"]
    elif words and re.fullmatch(rf"(?:the )?(?:{_DAYS}|{_MONTHS}|weekends?|weekdays?|\d{{1,2}}(?:st|nd|rd|th))",
                                " ".join(words[:2]) if words[0] == "the" else words[0]):
        words = ["on", *words]
    elif words and re.fullmatch(r"\d{1,2}(?::\d\d)?(?:am|pm)?|noon|midday", words[0]):
        words = ["at", *words]
    elif words and words[0] in ("mornings", "afternoons", "evenings"):
        words[0] = f"in the {words[0][:-1]}"
    words = [w for word in words for w in (("as", "soon", "as", "possible") if word == "asap" else (word,))]
    said = " ".join(w.capitalize() if re.fullmatch(rf"{_DAYS}|{_MONTHS}", w) else w for w in words)
    return re.sub(r"\b([ap])\.m\b\.?", r"\1.m.", said)


def _clauses(details: str) -> list[str]:
    """The clauses of the details, each without the words that only lead into it."""
    out = []
    for clause in _CLAUSES.split(details):
        clause = _LEAD.sub("", clause.strip(" .!?")).strip(" ,.!?")
        clause = _SUITS.sub("", clause).strip(" ,.!?") if clause and not _NEGATED.search(clause) else clause
        if clause and not _ONLY_ASSENT.match(clause):
            out.append(clause)
    return out


def _split_place(clause: str) -> tuple[str, str] | None:
    """A clause that holds a street and a time ("12 oak street tomorrow morning"): (street, time), else None."""
    m = re.match(r"^(\d{1,6}[a-z]?(?:\s+[^\W\d_][\w.'-]*){1,5}?\s+(?:" + "|".join(sorted(_TYPES)) + r")\.?)\s+(.+)$",
                 clause, re.I)
    if m and _is_time(m.group(2)):
        return m.group(1), m.group(2)
    return None


def _is_time(clause: str) -> bool:
    """Whether the clause only says when ("tomorrow morning", "any time after 3 on friday")."""
    return bool(_TIME.search(clause) or acts.when_said(clause)) and all(_TIME_WORD.match(w) for w in clause.split())


#: A change of mind in the middle ("tomorrow works, or actually no, thursday is better"): what follows replaces
#: the time said before it.
_CHANGED = re.compile(r"\b(?:no(?:\s+wait)?[\s,]+actually|actually[\s,]+no|no[\s,]+wait|wait[\s,]+no|scratch that|"
                      r"make (?:that|it)|i mean|rather|actually)\b[\s,]*", re.I)
#: Said just before the change of mind ("tomorrow works, or um, actually ..."): it goes with the time taken back.
_BEFORE_CHANGE = frozenset("or um umm uh uhh hmm wait sorry oops".split())


def _changed_mind(details: str) -> tuple[str, str]:
    """The details with a time or a street the caller took back left out ("14 Pearl St, no wait, 40 Pearl St"),
    and the words that went (allowed to)."""
    m = None
    for m in _CHANGED.finditer(details):
        pass
    if m is None:
        return details, ""
    after = re.sub(r"^(?:it'?s|the address is|i mean)\s+", "", details[m.end():].strip(" ,."), flags=re.I)
    first = _CLAUSES.split(after)[0].strip(" ,.")
    street = bool(_STREET.match(first)) and not _TIME.search(_ORDINAL.sub("", re.sub(r"^at\s+", "", first, flags=re.I)))
    if not street and not _TIME.search(details[m.end():]):
        return details, ""
    taken_back = (lambda c: bool(_STREET.match(c))) if street else _is_time
    words = details[:m.start()].split()
    while words and words[-1].strip(",.").lower() in _BEFORE_CHANGE:
        words.pop()
    before = _clauses(" ".join(words))
    kept = [c for c in before if not taken_back(c)]
    gone = [c for c in before if taken_back(c)]
    if not gone:
        return details, ""
    return ", ".join([*kept, details[m.end():]]), details[:m.end()]


def visit_phrase(details: str, address: str | None = None) -> str | None:
    """The visit's details read back the way a person says them ("a visit tomorrow morning at 12 Oak Street"),
    with the address asked on its own (``address``) in its place; None when they cannot be said that way
    safely (no time or place found, or a word the caller said would be lost). A time the caller took back
    ("tomorrow, or actually no, thursday") is not read back."""
    said = Counter(_words(details + " " + (address or "")))
    details, taken_back = _changed_mind(details)
    if address:
        address, moved = _changed_mind(address)
        taken_back = f"{taken_back} {moved}"
    times: list[str] = []
    places: list[str] = []
    others: list[str] = []
    for clause in _clauses(details) + ([address.strip(" ,.")] if address else []):
        split = _split_place(clause)
        if split:
            places.append(_street(split[0]))
            times.append(_when(split[1]))
        elif _STREET.match(clause) and not _TIME.search(_ORDINAL.sub("", re.sub(r"^at\s+", "", clause, flags=re.I))):
            places.append(_street(re.sub(r"^at\s+", "", clause, flags=re.I)))
        elif _UNIT.match(clause) and places:
            places[-1] = f"{places[-1]}, {clause}"
        elif _NEAR.match(clause) and not _TIME.search(clause) and len(clause.split()) <= 5:
            places.append(clause)
        elif _is_time(clause):
            times.append(_when(clause))
        else:
            others.append(clause)
    if not times and not places:
        return None
    phrase = "a visit"
    when = ", ".join(times)
    where = " and ".join(places)
    where = where if not where or _NEAR.match(where) else f"at {where}"
    if where and re.search(r"\bat\b", when):
        phrase += f" {where}, {when}"  # "a visit at 88 Maple Avenue, on Thursday at 2" (not "at 2 at 88 ...")
    else:
        phrase += " ".join(["", *(p for p in (when, where) if p)])
    kept = Counter(_words(f"{phrase} {' '.join(others)}"))  # (before "my" is said back as "your")
    if others:
        phrase += ", " + ", ".join(said_back(o) for o in others)
    if said - Counter(_words(_dropped(details) + " " + taken_back)) - kept:
        return None  # a word the caller said would go missing: their own words are read back instead
    return phrase


#: In front of a correction's new place or time ("no, the address is ...", "make it friday instead").
_FIX_FRONT = re.compile(r"^\W*(?:(?:no|nope|wait|sorry|oops|actually|not quite|that'?s wrong|wrong|correction|i mean|"
                        r"i meant|make (?:it|that)|change (?:it|that) to)\b[\s,.!:-]*)*(?:(?:the|my|our)\s+)?"
                        r"(?:(?:street )?address|time|day|visit)?(?:\s+(?:should be|is|was|it'?s|to))?[\s,:]*", re.I)


def _corrected(correction: str) -> tuple[str, bool] | None:
    """A correction's new value, and whether it is a street (else a time); None when it is neither."""
    new = re.sub(r"\s+instead\W*$", "", _FIX_FRONT.sub("", correction, count=1)).strip(" ,.!?")
    if not new:
        return None
    if _STREET.match(new) and not _TIME.search(_ORDINAL.sub("", re.sub(r"^at\s+", "", new, flags=re.I))):
        return new, True
    return (new, False) if _is_time(new) else None


def new_place(correction: str) -> str | None:
    """The street a correction at the read-back gives ("no, the address is 14 Oak Street"), or None."""
    said = _corrected(correction)
    return said[0] if said is not None and said[1] else None


def patched(details: str, correction: str) -> str | None:
    """The visit's details with their place or their time replaced by a correction said at the read-back ("no,
    the address is 14 Oak Street", "make it friday instead"); None when the words are neither a street nor a time
    (the caller is asked what to change). Everything else the caller said stays."""
    said = _corrected(correction)
    if said is None:
        return None
    new, street = said
    kept = []
    for clause in _CLAUSES.split(details):
        bare = _LEAD.sub("", clause.strip(" .!?")).strip(" ,.!?")
        split = _split_place(bare)
        if split:  # "12 oak street tomorrow": the half not corrected stays
            kept.append(split[1] if street else split[0])
        elif not (street and (_STREET.match(bare) or _UNIT.match(bare))) and not (not street and _is_time(bare)):
            kept.append(clause.strip())
    return ", ".join(c for c in [*kept, new] if c.strip(" ,.!?"))


def _dropped(details: str) -> str:
    """The words that only led into a detail or only agreed (allowed to go)."""
    gone = []
    for clause in _CLAUSES.split(details):
        clause = clause.strip(" .!?")
        lead = _LEAD.match(clause)
        if lead:
            gone.append(lead.group(0))
            clause = clause[lead.end():]
        suits = None if _NEGATED.search(clause) else _SUITS.search(clause.strip(" ,.!?"))
        if suits:
            gone.append(suits.group(0))
        if _ONLY_ASSENT.match(clause):
            gone.append(clause)
    gone.extend(re.findall(r"\sand\s", details, re.I))
    return " ".join(gone)


__all__ = ["visit_phrase", "patched", "new_place"]
