"""Reading several details out of one answer, and corrections of a read-back (pure).

"John Smith, my number is 512 555 0198" answers the name and the number at once; "no, the last
part is zero one two three" corrects the number; "no, my name is John Smith" the name; "can someone
call me back about my furnace" gives the message with the request, read back as "your furnace".
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from policy.entities import normalize_email, normalize_phone, patch_phone
from policy.words import digits_of

from . import acts
from .names import known_first_name, known_name

_DIGIT_WORD = r"\b(?:\d+|zero|oh|o|one|two|three|four|five|six|seven|eight|nine|double|triple)\b"
_PHONE_SPAN = re.compile(rf"\+?\(?{_DIGIT_WORD}\)?(?:[\s,.()-]*{_DIGIT_WORD}\)?){{2,}}", re.I)
_EMAIL_SPAN = re.compile(r"[\w.+-]+(?:\s+(?:dot|underscore|dash)\s+\w+)*\s*(?:@|\bat\b)\s*\w+(?:\s*(?:\.|\bdot\b)\s*\w+)+",
                         re.I)
_CONNECTORS = {"and", "my", "the", "number", "numbers", "is", "phone", "cell", "at", "you", "can", "reach", "me",
               "call", "its", "it", "callback", "best", "email", "address", "or", "on", "to", "s"}
_FIX_LEAD = re.compile(r"^\W*(?:(?:no|nope|wait|sorry|oops|actually|not quite|that'?s wrong|wrong|correction|"
                       r"i mean|i meant)\b[\s,.!:-]*)+", re.I)
_FIELD = re.compile(r"^\W*(?:(?:the|my|your)\s+)?(?:(?:last|first)\s+(?:part|four|digits|numbers?|bit)|"
                    r"(?:phone\s+|callback\s+|cell\s+)?number|name|message|email|address|date|time)"
                    r"(?:\s+(?:should be|is|was|ends (?:in|with)|starts with|it'?s))?[\s,:]*", re.I)
_MENTIONS = {"PHONE": re.compile(r"\b(?:number|digits|phone|last (?:part|four)|ends in)\b", re.I),
             "PERSON": re.compile(r"\bname\b", re.I), "TEXT": re.compile(r"\bmessage\b", re.I),
             "EMAIL": re.compile(r"\bemail\b", re.I), "ADDRESS": re.compile(r"\baddress\b", re.I)}


def _trim(text: str) -> str:
    """Drop the connecting words left at the end once a detail was taken out ("..., you can reach me at")."""
    words = text.split()
    while words and re.sub(r"\W", "", words[-1].lower()) in _CONNECTORS | {""}:
        words.pop()
    return " ".join(words).strip(" ,.;:-")


def phone_in(text: str, region: str) -> tuple[str, str] | None:
    """A whole phone number said inside other words: (E.164, the words without it), or None."""
    for m in _PHONE_SPAN.finditer(text):
        if len(digits_of(m.group(0))) < 10:
            continue
        found = normalize_phone(m.group(0), region)
        if found.ok:
            return found.value or "", _trim(text[:m.start()] + " " + text[m.end():])
    return None


#: A street address said with other details ("Bob Smith, 14 Oak Street"): a house number and a few words.
_ADDRESS_SPAN = re.compile(r"\b\d{1,6}\s+(?:[^\W\d_][\w.'-]*\s*){1,4}", re.I)


def address_in(text: str) -> tuple[str, str] | None:
    """A street address said inside other words: (the address, the words without it), or None."""
    m = _ADDRESS_SPAN.search(text)
    if m is None:
        return None
    address = m.group(0).strip(" ,.")
    return address, _trim(text[:m.start()] + " " + text[m.end():])


def email_in(text: str) -> tuple[str, str] | None:
    """An email address said inside other words, or None."""
    for m in _EMAIL_SPAN.finditer(text):
        found = normalize_email(m.group(0))
        if found.ok:
            return found.value or "", _trim(text[:m.start()] + " " + text[m.end():])
    return None


def others_in(text: str, later: list[Mapping[str, Any]], region: str) -> tuple[dict[str, str], str]:
    """Details for questions not asked yet found in the answer, and the answer without them."""
    found: dict[str, str] = {}
    named: list[str] = []  # the name questions seen so far
    for spec in later:
        kind = spec.get("type")
        if kind == "PERSON":
            # "..., name's Mike Chen, ...": a name introduced in passing (a known first name), for one question.
            hit = None if any(n in found for n in named) else _introduced(text)
            named.append(spec["name"])
        else:
            hit = phone_in(text, region) if kind == "PHONE" else (email_in(text) if kind == "EMAIL" else
                                                                  address_in(text) if kind == "ADDRESS" else None)
        if hit:
            found[spec["name"]] = hit[0]
            text = hit[1]
    return found, text


_INTRODUCED = re.compile(r"\b(?:this is|my name is|my name'?s|name'?s|i'?m|i am|it'?s)\s+([^\W\d_][\w'-]*"
                         r"(?:\s+[^\W\d_][\w'-]*){0,2})", re.I)
_NAME_STOP = {"and", "my", "the", "i", "calling", "about", "with", "from", "here", "again", "to", "at", "on", "in",
              "number", "phone", "just", "so", "but", "is", "was"}


#: Lead-ins that are as often the start of a sentence as of a name ("it's doing ...", "I'm fine").
_LOOSE_LEAD = re.compile(r"(?:i'?m|i am|it'?s)\s", re.I)
#: Words that follow "it's" or "I'm" in sentences and are also someone's name in the census lists.
_NOT_AFTER_LEAD = frozenset("fine good great okay ok sorry sure here home back done ready not just still so very really "
                            "major young long little".split())


def _first_name_said(word: str) -> bool:
    """After "it's" or "I'm", a word is a name only if it is a first name and not a word of a sentence
    ("it's doing", "I'm running", "it's fine", "I'm sorry")."""
    w = word.strip(".,'-").lower()
    return known_first_name(w) and w not in _NOT_AFTER_LEAD and not w.endswith(("ing", "ed"))


def name_in(text: str) -> str | None:
    """A name the caller introduced themselves with in passing ("..., this is Maria Gomez and ..."),
    only when its first word is a known first name (so "I'm calling about" is no name)."""
    hit = _introduced(text)
    return hit[0] if hit else None


def _introduced(text: str) -> tuple[str, str] | None:
    """``name_in``'s name, and the text without the words that introduced it."""
    for m in _INTRODUCED.finditer(text):
        words = []
        for w in m.group(1).split():
            if w.lower() in _NAME_STOP:
                break
            words.append(w.strip(".,"))
        if words and (_LOOSE_LEAD.match(m.group(0)) and not _first_name_said(words[0])):
            continue  # "it's doing the same thing", "I'm running late": no name
        if words and known_name(words[0]) and known_name(" ".join(words)):
            # The introduction ends after the name's words (a stop word after them stays in the rest).
            end = m.start(1) + len(" ".join(m.group(1).split()[:len(words)]))
            rest = f"{text[:m.start()].rstrip(' ,')} {text[end:].lstrip(' ,.')}".strip(" ,")
            return " ".join(w[:1].upper() + w[1:] for w in words), rest
    return None


def given_in(text: str, entities: list[Mapping[str, Any]], region: str) -> dict[str, str]:
    """Details a caller gave in the words that started a collection ("a question about my invoice, this
    is Maria Gomez and my number is 512 555 8821"): phone numbers, emails and an introduced name."""
    found, _ = others_in(text, [e for e in entities if e.get("type") in ("PHONE", "EMAIL")], region)
    people = [e for e in entities if e.get("type") == "PERSON"]
    if people:
        name = name_in(text)
        if name:
            found[people[0]["name"]] = name
    return found


#: What a message is about, after a request to be called back ("... call me back about my furnace").
_ABOUT = re.compile(r"\b(?:about|regarding|concerning|in regards? to|with regards? to)\b[\s,.:-]+", re.I)
#: "leave a message (for the office) that ...", "a message: ...".
_SAYING = re.compile(r"^\s*(?:for\s+[^,.?!:;]{1,30}?)?\s*(?:[,.?!:;-]+\s*|\s(?:that|saying|to say)\s+)", re.I)
_GREETING = re.compile(r"^\W*(?:(?:hi|hello|hey|yes|yeah|yep|um+|uh+|hmm+|oh|ok(?:ay)?|so|well|and|also|plus|good (?:morning|"
                       r"afternoon|evening)|there)\b[\s,.!]*)+", re.I)
_ENDING = re.compile(r"(?:[\s,.;:-]+(?:please|thanks?|thank you|as soon as (?:possible|you can)|asap|"
                     r"when(?:ever)? (?:you|they|someone) (?:can|get a chance)|if (?:you can|possible)))+[\s,.!?]*$|"
                     r"[\s,.;:!?-]+$", re.I)
#: Words that say nothing of what the message is ("call me back about it").
_EMPTY = frozenset("it that this something stuff things thing a an the my some me anything".split())
_NOTHING = re.compile(r"^\W*(?:never ?mind|forget (?:it|that)|nothing|no|nope|not now)\b", re.I)
_CLAUSE = re.compile(r"[,.?!;:]+\s*|\s(?:and|so|but)\s", re.I)


def _content(words: str) -> str | None:
    """The words as a message, without greetings, fillers and closing niceties; None when they say nothing."""
    words = _ENDING.sub("", _GREETING.sub("", words.strip())).strip()
    if not words or all(w.lower().strip(".,'") in _EMPTY for w in words.split()) or _NOTHING.match(words):
        return None
    return words


def statement(words: str) -> str | None:
    """Words that tell something (three words or more, not a question), as a message; else None."""
    found = _content(words)
    if not found or len(found.split()) < 3 or acts.is_question(found) or acts.read(found).kind:
        return None
    return found


def message_in(text: str, region: str = "US", *, request: bool = True) -> str | None:
    """The message a caller gave in the words that asked for one: "can you have someone call me back about my
    furnace making a banging noise" -> "my furnace making a banging noise"; "can I leave a message? the
    thermostat is blank" -> "the thermostat is blank". Without ``request`` (a request the company answers by
    taking a message, "your technician never showed up yesterday") the statement itself is the message.
    Their name and number are not part of it. None when they said no more than the request."""
    phone = phone_in(text, region)
    text = phone[1] if phone else text
    named = _introduced(text)
    text = named[1] if named else text
    if request and acts.missed_callback(text):
        # "You guys never called me back about my water heater": what they are still waiting for.
        about = _ABOUT.search(text)
        what = _content(text[about.end():]) if about else None
        return f"I'm still waiting for a call back about {what}" if what else "I'm still waiting for a call back"
    m = acts.WANTS_MESSAGE.search(text)
    if request and not m and acts.missed_visit(text):
        return statement(text)  # "your electrician never showed up this morning": what the team must put right
    if not request or not m:
        if request:
            return None
        if acts.is_question(text):
            # "Is my technician still coming today?" answered by taking a message: the question is for the team.
            asked = _content(text)
            return asked if asked and len(asked.split()) >= 3 else None
        return statement(text)
    after = text[m.end():]
    about = _ABOUT.search(after)
    if about:
        return _content(after[about.end():])
    saying = _SAYING.match(after)
    if saying and statement(after[saying.end():]):
        return statement(after[saying.end():])
    clauses = [c for c in _CLAUSE.split(text[:m.start()]) if c and c.strip()]
    return statement(", ".join(clauses[:-1])) if len(clauses) > 1 else None


_FLIPS = {"i": "you", "i'm": "you're", "im": "you're", "i am": "you are", "i was": "you were", "i've": "you've",
          "i'd": "you'd", "i'll": "you'll", "my": "your", "mine": "yours", "myself": "yourself",
          "your": "our", "yours": "ours"}
_FLIP = re.compile(r"\b(?:i am|i was|i'm|i've|i'd|i'll|im|i|my|mine|myself|your|yours)\b", re.I)


#: "tell them (that) ...", "let them know ...", "can you tell the office ...": the message is what follows.
_RELAY = re.compile(r"^\W*(?:(?:please|can you|could you|would you|just|and)\s+)*(?:tell|let|remind|ask)\s+"
                    r"(?:them|him|her|the (?:office|team|tech(?:nician)?|owner|manager|boss)|whoever|someone)\s+"
                    r"(?:know\s+)?(?:that\s+)?(?=\w)", re.I)


#: "it's 55 Elm Street", "we're at 12 Main": the address itself is said back ("your visit details: 55 Elm Street").
_AT = re.compile(r"^\W*(?:(?:um+|uh+|so|yeah|ok(?:ay)?)[\s,]+)*(?:it'?s|it is|that'?s|the address is|address is|"
                 r"we'?re at|i'?m at|we live at|i live at)\s+(?=\d)", re.I)


def said_back(text: str) -> str:
    """A caller's words as we say them back to them: "my furnace" -> "your furnace", "your technician never
    showed up" -> "our technician ..."; as said when they speak of "you" or "me" ("please call me about the
    leak" is quoted: "please call you" would sound wrong, and who "you" is would be unclear). "Tell them (that)"
    in front is left out: the message is what they are to be told."""
    text = _RELAY.sub("", text, count=1) or text
    text = _AT.sub("", text, count=1) or text
    if re.search(r"\b(?:you(?:'re|'ve|'d|'ll| guys)?|me)\b", text, re.I):
        return text
    return _FLIP.sub(lambda m: _FLIPS[m.group(0).lower()], text)


def spelled(text: str) -> str | None:
    """A name spelled letter by letter ("c h r i s", "C-H-R-I-S"), joined; None if it is not spelled."""
    letters = re.findall(r"[^\W\d_]+", text)
    if len(letters) >= 2 and all(len(t) == 1 for t in letters):
        word = "".join(letters)
        return word[:1].upper() + word[1:].lower()
    return None


def fix_from(text: str, entities: list[Mapping[str, Any]], collected: Mapping[str, Any],
             region: str) -> tuple[str, str] | None:
    """What a correction of a read-back changes: (entity name, the words of its new value), or None.

    A number goes to the phone entity; "name", "message", "email" pick theirs; otherwise the words
    go to the only entity whose kind they fit.
    """
    rest = _FIX_LEAD.sub("", text)
    mentioned = [e for e in entities if _MENTIONS.get(e.get("type", "TEXT"), re.compile(r"$^")).search(rest)]
    value = _FIELD.sub("", rest).strip(" .,!?")
    if not value:
        return None
    digits = digits_of(value)
    phones = [e for e in entities if e.get("type") == "PHONE"]
    if phones and len(digits) >= 4 and not [e for e in mentioned if e.get("type") != "PHONE"]:
        return phones[0]["name"], value
    if mentioned:
        return mentioned[0]["name"], value
    people = [e for e in entities if e.get("type") == "PERSON"]
    if people and len(value.split()) <= 4 and not digits:
        return people[0]["name"], value
    return None


def mentions_detail(text: str) -> bool:
    """Whether the words name a detail ("my number ...", "the name ...", "the message should say ...")."""
    return any(pattern.search(text) for pattern in _MENTIONS.values())


def patched_phone(previous: str, words: str, region: str) -> str | None:
    """A phone number after a correction: a whole new one, or its last digits replaced."""
    result = patch_phone(previous, words, region)
    return result.value if result.ok else None


__all__ = ["phone_in", "email_in", "address_in", "others_in", "name_in", "given_in", "message_in", "statement", "mentions_detail",
           "said_back", "spelled", "fix_from", "patched_phone"]
