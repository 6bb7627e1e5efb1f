"""Multi-turn entity collection (pure): ask, validate, re-prompt, escalate, accept corrections.

The state lives on the session as a plain dict (``session["collect"]``); ``answer`` takes
the caller's words for the entity being asked and returns a ``Step``: what to say and
what happens next. Used for transfer rules with ``collectEntities`` (purpose
``transfer``) and for taking a message (purpose ``message``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Mapping

from policy.entities import DIGITS, SENTENCE, correction, normalize, normalize_phone, not_a_name, patch_phone, spoken
from policy.matching import compile_validation_pattern
from policy.words import digits_of, strip_lead_in
from policy.text import label

from . import acts, visits
from .spoken import fix_from, mentions_detail, others_in, patched_phone, spelled, statement

DEFAULT_PROMPTS = {
    "PERSON": "May I have your name, please?",
    "PHONE": "What's the best number to reach you?",
    "EMAIL": "What's your email address?",
    "DATE": "What day works best for you?",
    "TIME": "And what time works best?",
    "ADDRESS": "What's the address, please?",
}
MESSAGE_ENTITIES: tuple[dict[str, Any], ...] = (
    {"name": "name", "type": "PERSON", "required": True, "prompt": "May I have your name, please?",
     "maxRetries": 2, "escalateOnFail": True},
    {"name": "callbackPhone", "type": "PHONE", "required": True, "prompt": "What's the best number to reach you?",
     "validationPrompt": "Sorry, I didn't get that. Could you say the number again, with the area code?",
     "maxRetries": 2, "escalateOnFail": True},
    {"name": "message", "type": "TEXT", "required": True,
     "prompt": "And what message would you like me to pass along?", "maxRetries": 1, "escalateOnFail": True},
)
#: The same when the reply that offered it asked for the address too ("Could I get your name and address?").
MESSAGE_WITH_ADDRESS: tuple[dict[str, Any], ...] = (
    MESSAGE_ENTITIES[0], {"name": "address", "type": "ADDRESS", "required": False, "prompt": "And what's the address?",
                          "maxRetries": 1, "place": True}, *MESSAGE_ENTITIES[1:])
#: Why words given for the address were refused (they name no street, number or town).
NOT_A_PLACE = "that does not sound like an address"
MAX_NAME_WORDS = 6
#: The caller declines or changes their mind ("no thanks", "never mind").
DECLINES = re.compile(r"^\s*(?:(?:no|nope|nah)[\s,.!]*(?:thanks?|thank you)?|(?:thanks?|thank you)?[\s,.!]*(?:never ?mind|"
                      r"forget it|no thanks?|no thank you|that'?s ok(?:ay)?|not now|i'?m good|don'?t bother))"
                      r"(?:[\s,.!]+(?:never ?mind|forget it|that'?s ok(?:ay)?|not now|i'?m good))*[\s,.!]*$", re.I)
#: A visit asked for by a scenario's booking reply ("What's the address, and when are you home?"): the
#: caller's answer to that question first, then who to call back. Stored as a message for the team.
BOOKING_ENTITIES: tuple[dict[str, Any], ...] = (
    {"name": "visitDetails", "type": "TEXT", "required": True,
     "prompt": "What's the address, and when would be a good time for us to come by?", "maxRetries": 1},
    {"name": "name", "type": "PERSON", "required": True, "prompt": "And may I have your name?",
     "maxRetries": 2, "escalateOnFail": True},
    {"name": "callbackPhone", "type": "PHONE", "required": True,
     "prompt": "What's the best number to reach you to confirm the time?",
     "validationPrompt": "Sorry, I didn't get that. Could you say the number again, with the area code?",
     "maxRetries": 2, "escalateOnFail": True},
)
#: The caller will not give this detail ("I'd rather not give my number").
WITHHOLDS = re.compile(r"\b(?:(?:i'?d|i would) rather not|prefer not|(?:do not|don'?t) (?:want|wanna) to (?:give|say|share|"
                       r"tell)|not (?:giving|gonna give|going to give)|i won'?t (?:give|say|tell)|skip (?:that|it|this))\b",
                       re.I)
#: Asked for a number: the one the call comes from ("same number", "this one's fine", "the number I'm calling from").
SAME_NUMBER = re.compile(r"\b(?:(?:the )?same (?:number|one|phone|cell)|this (?:number|one|phone|cell|line)|"
                         r"(?:the (?:number|one|phone|cell) )?(?:i'?m|i am) (?:calling|calling you) (?:from|on)|"
                         r"(?:the )?(?:number|one) (?:you|y'?all) (?:have|got|see|already have)|caller ?id|"
                         r"(?:call|reach) me (?:here|back here|right here))\b", re.I)
#: ... unless they say it is not that one ("not this number", "a different one").
_OTHER_NUMBER = re.compile(r"\b(?:not|don'?t|no|different|other|another|isn'?t|wrong)\b", re.I)
#: Said when they name the number they call from and we have none (a withheld or unknown caller ID).
NO_CALLER_ID_LINE = "I'm not able to see the number you're calling from."
#: Said when it is taken.
SAME_NUMBER_LINE = "Got it, I'll use the number you're calling from."


def same_number(text: str) -> bool:
    """Whether the words, asked for a number, mean the number the call comes from (and say no other)."""
    return bool(SAME_NUMBER.search(text)) and len(digits_of(text)) < 4 and not _OTHER_NUMBER.search(text)


#: The caller asks why we need it ("why do you need that?").
WHY_ASKED = re.compile(r"\bwhy (?:do|would) you (?:need|want)|\bwhat do you need (?:it|that|my \w+) for\b|"
                       r"\bwhy (?:is that|does it) matter", re.I)
#: Said to a statement given for a name (passed on with the message); at most this many, then it counts as a retry.
STATEMENT_LINE, MAX_STATEMENTS = "I'll make sure the team hears that.", 2
WHY_LINES = {"PERSON": "It's just so our team knows who they're speaking with.",
             "PHONE": "It's so our team can call you back if we get cut off.",
             "EMAIL": "It's so our team can send you the details.",
             "ADDRESS": "It's so we know where to send the technician."}
#: Answers that are not a name ("I don't know", "why do you need that?").
NOT_A_NAME = re.compile(r"\b(?:don'?t know|not sure|no idea|why|what|how|who|which|where|when|"
                        r"can you|could you|would you|do you|bye|goodbye|thanks|thank you|that'?s all|that'?s it)\b", re.I)


#: Words that say where to come ("14 Oak Street", "on Elm Street", "same address as last time").
_WHERE = re.compile(r"\b\d{1,6}[a-z]?\s+(?!(?:am|pm|a\.m|p\.m|o'?clock|degrees?|years?|months?|minutes?|hours?|days?|weeks?|"
                    r"times?|or|and|to|in|at|is|was|percent)\b)[a-z]|\b\d{5}\b|\b(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|court|ct|boulevard|blvd|way|circle|cir|"
                    r"parkway|pkwy|highway|hwy|trail|terrace|apartment|apt|suite|address|zip|same (?:place|house)|on file|"
                    r"cross streets?)\b", re.I)
#: Words that say when ("anytime", "after work"; days and parts of the day are ``acts.when_said``'s).
_WHEN = re.compile(r"\b(?:anytime|any time|whenever|all day|any day|(?:this|next) week|right (?:now|away)|"
                   r"after (?:work|school|lunch)|noon|mornings|afternoons|evenings|weekends|weekdays|"
                   r"(?:at|after|before|around|by|from|until|till|til) \d{1,2}(?::\d\d)?|"
                   r"\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m|p\.m|o'?clock))\b", re.I)
#: Asked when a visit's details say when but not where.
ADDRESS_ENTITY: dict[str, Any] = {"name": "address", "type": "ADDRESS", "required": False,
                                  "prompt": "And what's the address?", "maxRetries": 1, "place": True}
#: Asked next when the caller said where to come but not when ("55 Maple, Lakewood" to "What's the address, and
#: when ...?"): the answer goes into the visit's details.
WHEN_ENTITY: dict[str, Any] = {"name": "visitTime", "type": "TEXT", "required": False, "appendTo": "visitDetails",
                               "prompt": "And when would be a good time for us to come by?", "maxRetries": 1}
#: A place said with a capital after a preposition ("we're in Round Rock", "off Main").
_PLACE = re.compile(r"\b(?:in|on|at|near|off|by)\s+[A-Z][a-z]+")
#: A yes or a no in front of an answer ("yeah, come tomorrow morning", "no, 14 Oak Street").
_LEAD = re.compile(r"^\W*(?:(?:uh+|um+|oh|well|hmm+|er+)\b[\s,.]*)*(?:(?P<no>nope|nah|not really|no(?=\s*[,.!]|\s*$|\s+(?:it|it'?s|we|we'?re|i|i'?m|there|the|nobody|"
                   r"no ?one|none|just|only|thanks?|thank|not|no)\b))|(?P<yes>yes|yeah|yep|yup|sure|ok(?:ay)?|uh[- ]?huh|"
                   r"mm[- ]?hmm|please))\b[\s,.!]*", re.I)
#: Words that only agree ("let's do it", "go ahead and book it", "sounds good", "please do"), after a yes or alone.
_ASSENT = (r"(?:let'?s (?:do (?:it|that|this)|book (?:it|that|one)|go(?: ahead)?|set (?:it|that) up)|"
           r"go ahead(?: and (?:book|schedule|set up) (?:it|that|one))?|sounds (?:good|great|fine)|"
           r"please(?: do)?|book (?:it|that|me in)|that works|why not|for sure|i guess|"
           r"(?:that'?d|that would) be (?:great|good|fine|perfect)|that'?s fine|definitely|absolutely|"
           r"perfect|great|thanks?|thank you|yes|yeah|yep|yup|sure|ok(?:ay)?|alright|all right|"
           r"(?:schedule|book) (?:it|that|one|me)|(?:set|sign) (?:it|that|one|me) up|(?:go ahead and )?do (?:it|that))")
_ASSENT_REST = re.compile(rf"\W*(?:{_ASSENT}[\s,.!]*)+", re.I)
_ASSENT_LEAD = re.compile(rf"^\W*(?:{_ASSENT}\b[\s,.!]+)+", re.I)
#: A yes and the request it agrees to, said for a name ("ok yeah send someone", "sure, have them call me"): not a name.
_AGREES_AND_ASKS = re.compile(r"^\W*(?:(?:ok(?:ay)?|yeah|yes|yep|sure|alright|all right|please)[\s,.!]+)+"
                              r"(?:just |please |let'?s |you can |can you |could you )?"
                              r"(?:send|have|get|call|book|schedule|set|come|go)\b", re.I)
#: Said about the people at home ("nobody vulnerable", "just me", "my mom lives with us").
_PEOPLE = re.compile(r"\b(?:no ?one|nobody|none of us|just (?:me|us|the \w+ of us|my \w+)|only (?:me|us)|me and my|"
                     r"i live alone|vulnerable|elderly|not (?:an? )?(?:emergency|urgent)|no emergency|nothing urgent|(?:we'?re|we are|everyone'?s|everybody'?s) (?:all )?(?:fine|ok(?:ay)?|"
                     r"good|healthy)|lives? with (?:me|us)|staying with (?:me|us))\b", re.I)
#: A clause that is only a yes, a no or a filler ("uh no").
_BARE = re.compile(r"\W*(?:(?:uh+|um+|oh|well|hmm+|er+|no|nope|nah|yes|yeah|yep|yup)\b\W*)+", re.I)
_PEOPLE_WORDS = re.compile(r"\b(?:mom|mother|dad|father|grand\w*|wife|husband|son|daughter|kids?|children|bab(?:y|ies)|"
                           r"parents?|sister|brother|aunt|uncle|she|he|they|we)\b", re.I)


#: The caller no longer wants the visit ("actually it's working again, never mind").
_NO_LONGER = re.compile(r"\b(?:never ?mind|forget (?:it|that|about it)|no longer need|(?:do not|don'?t) need (?:it|one|a "
                        r"visit|a technician|anyone|someone) (?:anymore|now)|(?:it'?s|it is|it'?s all) (?:working|fine|"
                        r"ok(?:ay)?|good) (?:again|now)|(?:started|kicked) (?:working|back on) again|cancel (?:that|it))\b",
                        re.I)


def no_longer_wanted(text: str) -> bool:
    """Whether the caller no longer wants what we were arranging ("oh wait, it's working again, never mind")."""
    return bool(_NO_LONGER.search(text))


def gives_place(text: str) -> bool:
    """Whether the words say where to come (an address, a street, a town)."""
    return bool(_WHERE.search(text) or _PLACE.search(text))


def gives_time(text: str) -> bool:
    """Whether the words say when to come (a day, a time, "anytime", "as soon as possible"); "at 55 Maple" is a
    place, not a time."""
    if acts.when_said(text):
        return True
    for m in _WHEN.finditer(text):
        number = re.search(r"^(?:at|after|before|around|by|from|until|till|til) (\d+)", m.group(0), re.I)
        if number and (int(number.group(1)) > 12 or _STREET_NEXT.match(text, m.end())):
            continue
        return True
    return False


#: A word after "at 55" that makes it a street number ("at 55 Maple"), not a time ("at 5 in the morning").
_STREET_NEXT = re.compile(r"\s+(?!(?:am|pm|a\.m|p\.m|o'?clock|in|on|or|and|tomorrow|today|tonight|ish)\b)[A-Za-z]", re.I)


def gives_visit(text: str) -> bool:
    """Whether the words say where or when to come for a visit (an address, a day or a time)."""
    return gives_place(text) or bool(_WHEN.search(text) or acts.when_said(text))


def visit_answer(text: str, *, people: bool) -> tuple[str, str]:
    """An answer to "What's the address, and when ...?" (``people``: "... and is anyone in the home vulnerable?")
    taken apart: ("yes", "no" or "", the rest). The yes or no in front goes ("yeah, come tomorrow morning" ->
    "come tomorrow morning"), and asked about the people at home, so do the words about them ("no, nobody
    vulnerable, just me, it's 14 Oak Street" -> ("no", "it's 14 Oak Street"))."""
    lead = _LEAD.match(text)
    said = ("no" if lead.group("no") else "yes") if lead else ""
    rest = text[lead.end():] if lead else text
    if said != "no" and _ASSENT_REST.fullmatch(rest):  # "sure, let's do it", "go ahead and book it": a yes only
        said, rest = "yes", ""
    elif said == "yes":
        rest = _ASSENT_LEAD.sub("", rest)  # "yes please, tomorrow morning" -> "tomorrow morning"
    if people:
        clauses = [c for c in re.split(r"\s*[,.;!?]+\s*|\s+but\s+", rest) if c.strip()]
        kept = [c for c in clauses if gives_visit(c) or not (_PEOPLE.search(c) or (said and _PEOPLE_WORDS.search(c))
                                                            or _BARE.fullmatch(c))]
        if len(kept) < len(clauses):
            said = said or ("no" if re.search(r"\b(?:no ?one|nobody|none|no|not|just|only|alone|fine|ok|okay|good|healthy)\b",
                                              " ".join(clauses), re.I) else "yes")
            rest = ", ".join(kept)
    return said, rest.strip(" ,.")


def could_answer(state: Mapping[str, Any], text: str) -> bool:
    """Whether the words could be the answer to the current question (else a question of the caller's
    own, such as "are you open Saturday?", is answered first)."""
    kind = current(state).get("type", "TEXT")
    if kind == "PHONE":
        return len(digits_of(text)) >= 4
    if kind == "PERSON":
        return not NOT_A_NAME.search(text) and not not_a_name(strip_lead_in(text))
    if kind == "EMAIL":
        return "@" in text or bool(re.search(r"\bat\b.*\bdot\b", text, re.I))
    return kind == "TEXT" or kind == "ADDRESS"


def declines(text: str) -> bool:
    """Whether the caller is saying no to the question itself."""
    return bool(text.strip()) and bool(DECLINES.fullmatch(text.strip())) and bool(re.search(r"[a-z]", text, re.I))


@dataclass
class Step:
    """The outcome of one answer: ``ask`` (say ``text``, then ask the current entity), ``done``,
    ``transfer_now`` (stop asking and connect), or ``to_message`` (take a message instead)."""

    kind: str
    state: dict[str, Any] | None
    collected: dict[str, Any]
    text: str = ""
    changed: bool = False
    events: list[str] = field(default_factory=list)


def start(purpose: str, entities: Any, collected: Mapping[str, Any], *, transfer: Mapping[str, Any] | None = None,
          reason: str | None = None, confirm: bool = False) -> dict[str, Any] | None:
    """A new collection that asks for the entities not collected yet, or None when nothing is missing.

    With ``confirm`` (CONFIRM_ENTITIES) everything is read back for the caller to confirm or
    correct before the transfer or the stored message, the details given before we asked too
    (a message with nothing missing goes straight to its read-back).
    """
    every = [dict(e) for e in entities]
    pending = [i for i, e in enumerate(every) if e.get("name") not in collected]
    state = {"purpose": purpose, "entities": every, "index": pending[0] if pending else len(every), "retries": 0,
             "last": None, "transfer": dict(transfer) if transfer else None, "reason": reason, "skipped": [],
             "confirm_all": confirm}
    if not pending:
        if not (confirm and purpose == "message" and every):
            return None
        state["readback"] = True  # a message given whole in one breath is still read back before it is passed on
    return state


def current(state: Mapping[str, Any]) -> dict[str, Any]:
    """The entity being asked."""
    return state["entities"][state["index"]]


def prompt_of(spec: Mapping[str, Any]) -> str:
    """The question for an entity (its own prompt, else a natural default for its type)."""
    return spec.get("prompt") or DEFAULT_PROMPTS.get(spec.get("type", "TEXT")) or \
        f"Could you tell me your {label(spec['name'])}?"


def retry_prompt_of(spec: Mapping[str, Any]) -> str:
    """The re-prompt after an answer that did not validate."""
    return spec.get("validationPrompt") or f"Sorry, I didn't quite get that. {prompt_of(spec)}"


@lru_cache(maxsize=512)
def _pattern(source: str) -> Any:
    return compile_validation_pattern(source)


def _validate(spec: Mapping[str, Any], text: str, *, now: datetime, region: str) -> Any:
    pattern = _pattern(spec["validationPattern"]) if spec.get("validationPattern") else None
    result = normalize(spec.get("type", "TEXT"), text, now=now, region=region, pattern=pattern)
    if result.ok and spec.get("type") == "PERSON" and (len(result.value.split()) > MAX_NAME_WORDS
                                                       or NOT_A_NAME.search(result.value)):
        return type(result)(False, None, "that does not sound like a name")
    if result.ok and spec.get("place") and not gives_place(result.value):
        return type(result)(False, None, NOT_A_PLACE)
    return result


def _advance(state: dict[str, Any], collected: dict[str, Any], step: Step) -> Step:
    state["index"] += 1
    state["retries"] = 0
    while state["index"] < len(state["entities"]) and state["entities"][state["index"]]["name"] in collected:
        state["index"] += 1  # answered already, in the same breath as an earlier question
    if state["index"] >= len(state["entities"]):
        if state.get("confirm_all") and any(e["name"] in collected for e in state["entities"]):
            state["readback"] = True
            step.kind = "readback"
            return step
        step.kind, step.state = "done", None
    return step


def _confirm_name(state: dict[str, Any], text: str, collected: dict[str, Any], step: Step, *, now: datetime,
                  region: str) -> Step:
    """The caller answers "is your name X?": yes, a corrected or spelled name, or no (then spell it)."""
    spec = current(state)
    if acts.is_yes(text):
        state.pop("confirm", None)
        step.events.append(f"confirmed:{spec['name']}")
        return _advance(state, collected, step)
    fixed = spelled(text) or (correction(text) or re.sub(r"^\W*(?:no|nope)\b[\s,.!]*(?:sorry[\s,.!]*)?", "", text,
                                                           flags=re.I))
    result = _validate(spec, fixed, now=now, region=region) if fixed.strip() else None
    if result is not None and result.ok and not acts.is_no(fixed):
        collected[spec["name"]] = result.value
        state.pop("confirm", None)
        step.collected, step.changed = collected, True
        step.events.append(f"corrected:{spec['name']}")
        return _advance(state, collected, step)
    state["confirm"] = "spell"
    step.kind = "spell"
    step.events.append(f"spell:{spec['name']}")
    return step


def _fixed(spec: Mapping[str, Any], words: str, collected: Mapping[str, Any], *, now: datetime,
           region: str) -> Any:
    """The new value of a corrected detail (a phone number may be corrected in its last digits), or None."""
    if spec.get("type") == "PHONE" and collected.get(spec["name"]):
        return patched_phone(str(collected[spec["name"]]), words, region)
    result = _validate(spec, words, now=now, region=region)
    return result.value if result.ok else None


#: A correction in front ("no, ...", "wrong ..."): not more for the message.
_NO_FIRST = re.compile(r"^\W*(?:no|nope|nah|wrong|not quite|that'?s (?:not|wrong)|wait)\b", re.I)
#: Words that are the same whichever way the message says them (not what it is about).
_PLAIN = frozenset("a an the my our your i i'm im it it's its is was are be to of on in at for and or but so just "
                   "that this there there's with about some".split())
ADDED_LINE = "Got it, I'll include that in your message. Is everything else right?"
NOTED_LINE = "Got it, I'll pass that on. Is everything else right?"
CALLBACK_LINE = "Yes, someone from our team will call you back. Is everything else right?"
#: The caller changes their mind about the message ("actually the thermostat is fine, it's the furnace ...").
INSTEAD_LINE = "Got it, I'll pass that on instead. Is everything else right?"
_INSTEAD = re.compile(r"^\W*(?:(?:hmm+|um+|uh+|oh|well|sorry)\W+)*(?:actually|i mean|i meant|scratch that|instead|rather)\b",
                      re.I)


def _more(state: Mapping[str, Any], text: str, collected: Mapping[str, Any]) -> bool:
    """Whether the words at a read-back tell the team more ("the repair never happened", "I was charged twice")
    rather than confirm or correct a detail."""
    if _NO_FIRST.match(text) or len(digits_of(text)) >= 4 or acts.is_yes(text):  # (digits: a number corrected)
        return False
    return not mentions_detail(text) and statement(text) is not None


def _added(collected: dict[str, Any], text: str, step: Step) -> Step:
    """More for the message: it replaces the message when it says it again more fully ("my warranty" -> "the
    warranty on my heat pump") or the caller changes their mind ("actually, it's the furnace"), else it is
    added to it. Without a message (the details taken before a transfer), it is passed on with the call's notes.
    The caller is asked whether the rest is right."""
    if not collected.get("message") or not any(e["name"] == "message" for e in step.state["entities"]):
        step.kind, step.text = "readback", NOTED_LINE
        step.events.append("statement")
        return step
    more = statement(text) or text.strip()
    old = str(collected["message"])
    words = {w for w in re.findall(r"[a-z']+", old.lower()) if w not in _PLAIN}
    said = set(re.findall(r"[a-z']+", more.lower()))
    instead = bool(_INSTEAD.match(text))
    if instead:
        more = re.sub(r"^\W*(?:(?:hmm+|um+|uh+|oh|well|sorry|actually|i mean|i meant|scratch that)\W+)+", "", more,
                      flags=re.I) or more
    collected["message"] = more if instead or words <= said else f"{old.rstrip(' .;')}; {more}"[:500]
    step.collected, step.changed = collected, True
    step.kind, step.text = "readback", INSTEAD_LINE if instead else ADDED_LINE
    step.events.append("added:message")
    return step


def _readback(state: dict[str, Any], text: str, collected: dict[str, Any], step: Step, *, now: datetime,
              region: str, known_name: Any = None) -> Step:
    """The caller answers the read-back: yes (done), a correction (read back again), or no (what to fix)."""
    if acts.is_yes(text) and not state.get("fixing"):
        step.kind, step.state = "done", None
        step.events.append("confirmed")
        return step
    if acts.wants_message(text) and not digits_of(text) and len(text.split()) <= 6 and not _NO_FIRST.match(text):
        # "Call me back", said to the read-back: what the message is for, not a name ("Thank you, Call").
        step.kind, step.text = "readback", CALLBACK_LINE
        step.events.append("callback")
        return step
    moved = _visit_moved(state, text, collected)
    if moved is not None:  # "no, the address is 14 Oak Street": the visit's place (or time) changes, the rest stays
        return _corrected(state, collected, step, *moved)
    fix = fix_from(text, state["entities"], collected, region)
    if fix is not None:
        name, words = fix
        spec = next(e for e in state["entities"] if e["name"] == name)
        value = _fixed(spec, words, collected, now=now, region=region)
        if spec.get("type") == "PERSON" and not (value and known_name and known_name(value)) \
                and _more(state, text, collected):
            value = None  # "the repair never happened": more for the message, not a name
        if value:
            return _corrected(state, collected, step, name, value)
        if _more(state, text, collected):
            return _added(collected, text, step)
        state["readback"] = False
        state.pop("fixing", None)  # (a yes to the next read-back is a yes: it looped, asking for the name)
        state["index"] = state["entities"].index(spec)
        step.events.append(f"reask:{name}")
        return step
    if _more(state, text, collected):
        return _added(collected, text, step)
    mentioned = [e for e in state["entities"] if re.search(rf"\b{re.escape(label(e['name']).split()[-1])}\b", text, re.I)
                 or (e.get("type") == "PHONE" and re.search(r"\bnumber\b", text, re.I))]
    if mentioned:
        state["readback"] = False
        state.pop("fixing", None)
        state["index"] = state["entities"].index(mentioned[0])
        step.events.append(f"reask:{mentioned[0]['name']}")
        return step
    state["fixing"] = True
    step.kind = "which"
    step.events.append("fix")
    return step


def _corrected(state: dict[str, Any], collected: dict[str, Any], step: Step, name: str, value: Any) -> Step:
    """A detail corrected at the read-back: kept, and everything read back again."""
    collected[name] = value
    state.pop("fixing", None)
    step.collected, step.changed = collected, True
    step.events.append(f"corrected:{name}")
    step.kind = "readback"
    return step


def _visit_moved(state: Mapping[str, Any], text: str, collected: Mapping[str, Any]) -> tuple[str, str] | None:
    """A correction at a visit's read-back of where or when to come: (the detail, its new value), or None."""
    names = [e["name"] for e in state["entities"]]
    if "visitDetails" not in names or not collected.get("visitDetails"):
        return None
    if "address" in names and collected.get("address"):
        # The address was asked on its own: a new street replaces it; a new time goes into the visit's details.
        place = visits.new_place(text)
        if place is not None:
            return "address", place
    new = visits.patched(str(collected["visitDetails"]), text)
    return ("visitDetails", new) if new is not None else None


#: A yes to what we have, in front of more words ("yes that's right, Lee", "yeah, that's me").
_CONFIRMS = re.compile(r"^\W*(?:(?:yes|yeah|yep|yup|correct|right|exactly|that'?s (?:right|correct|me)|you got it|"
                       r"uh[- ]?huh|mm[- ]?hmm|ok(?:ay)?|sure)\b[\s,.!]*)+", re.I)
#: Words that say a name follows ("my name is", "it's").
_NAME_LEAD = re.compile(r"^\W*(?:my name is|my name'?s|name'?s|the name is|it'?s|it is|this is|i'?m|i am)\s+", re.I)


def name_again(text: str, name: str, known: Any = None) -> str | None:
    """Words said when asked for something else (a number) that are about the name we took: "" for a yes or the
    name again ("yes that's right, Lee", "yes, Sam", "Sam Lee"); the new name for a late correction that keeps a
    word of it or says it is a name ("it's Sam Leigh", "my name is Sam Leigh"; ``known`` tells a name); else None."""
    if len(digits_of(text)) >= 3 or not name.strip():
        return None
    yes = _CONFIRMS.match(text)
    rest = text[yes.end():] if yes else text
    lead = _NAME_LEAD.match(rest)
    rest = (rest[lead.end():] if lead else rest).strip(" ,.!?")
    if not rest:
        return "" if yes and not acts.is_no(text) else None
    words = [w.strip(".,") for w in rest.split()]
    if len(words) > 4 or not all(re.fullmatch(r"[^\W\d_][\w'-]*", w) for w in words):
        return None
    have = {w.lower().strip(".,") for w in name.split()}
    if all(w.lower() in have for w in words):
        return ""
    if NOT_A_NAME.search(rest) or not_a_name(rest) or acts.is_yes(rest) or acts.is_no(rest):
        return None
    shares = any(w.lower() in have for w in words)
    if shares or (lead and known is not None and known(rest)):
        return " ".join(w[:1].upper() + w[1:] for w in words)
    return None


def _respelled(name: str, letters: str) -> str:
    """The name after the caller spelled it, or one part of it: the part that starts with the same letter
    ("Sam Lee" spelled "L E I G H" -> "Sam Leigh"), else the whole name."""
    words = name.split()
    same = [i for i, w in enumerate(words) if w[:1].lower() == letters[:1].lower()]
    if len(words) < 2 or len(same) != 1:
        return letters
    words[same[0]] = letters
    return " ".join(words)


def answer(state: Mapping[str, Any], text: str, collected: Mapping[str, Any], *, now: datetime,
           region: str = "US", known_name: Any = None, caller: str | None = None) -> Step:
    """Take the caller's words for the current entity (or a correction of the last one).

    Details for later questions said in the same breath are taken too; a name ``known_name``
    does not know is asked back ("confirm"); after the last one, a read-back ("readback"). Asked
    for a number, "same number" is ``caller``'s (the number the call comes from), when it is one.
    """
    state = {**state, "entities": list(state["entities"]), "skipped": list(state.get("skipped", []))}
    collected = dict(collected)
    step = Step("ask", state, collected)
    if state.get("readback"):
        return _readback(state, text, collected, step, now=now, region=region, known_name=known_name)
    spec = current(state)
    if state.get("confirm"):
        return _confirm_name(state, text, collected, step, now=now, region=region)
    if WITHHOLDS.search(text):
        # Asked once, declined: go on without it (a person can still ask; caller ID has the number).
        state["skipped"].append(spec["name"])
        step.text = "No problem."
        step.events.append(f"withheld:{spec['name']}")
        return _advance(state, collected, step)
    if spec.get("type") == "PHONE" and same_number(text):
        own = normalize_phone(caller or "", region)
        if own.ok:
            collected[spec["name"]] = own.value
            state["last"] = spec["name"]
            step.collected, step.changed = collected, True
            step.text = SAME_NUMBER_LINE
            step.events.append(f"collected:{spec['name']}")
            return _advance(state, collected, step)
        step.text = NO_CALLER_ID_LINE  # withheld or unknown: asked again, no retry counted
        step.events.append("no_caller_id")
        return step
    if WHY_ASKED.search(text) and spec["name"] not in (state.get("explained") or ()):
        state["explained"] = [*(state.get("explained") or ()), spec["name"]]  # (once for each detail asked)
        step.text = WHY_LINES.get(spec.get("type", "TEXT"), "It helps our team help you.")
        step.events.append(f"explained:{spec['name']}")
        return step
    agrees = acts.is_assent(text) or (spec.get("type") == "PERSON" and bool(_AGREES_AND_ASKS.match(text))) or (
        state.get("purpose") == "message" and acts.WANTS_MESSAGE.search(text)
                                      and not could_answer(state, text)) or (
        spec["name"] == "visitDetails" and acts.is_yes(text) and not gives_visit(text))  # "yes please" to "shall we
    # book a visit?" (not "yeah, come tomorrow morning")
    if agrees and (spec.get("type") != "TEXT" or spec["name"] in ("visitDetails", "message")):
        step.events.append("assent")  # "sure", "ok": they are listening; ask again, no retry counted
        return step

    fix = correction(text)
    last = state.get("last")
    if fix and last and last in collected:
        last_spec = next((e for e in state["entities"] if e["name"] == last), None) or {"name": last, "type": "TEXT"}
        if last_spec.get("type") == "PHONE":
            redo = patch_phone(str(collected[last]), fix, region)
        else:
            redo = _validate(last_spec, fix, now=now, region=region)
        if redo.ok:
            collected[last] = redo.value
            step.collected, step.changed = collected, True
            step.text = f"Got it, {spoken(redo.value)}."
            step.events.append(f"corrected:{last}")
            return step
    if fix:
        # "No wait, my number is ...": a correction of another detail already given (said in one breath).
        given = [e for e in state["entities"] if e["name"] in collected]
        target = fix_from(text, given, collected, region) if given else None
        if target is not None:
            name, words = target
            value = _fixed(next(e for e in given if e["name"] == name), words, collected, now=now, region=region)
            if value:
                collected[name] = value
                step.collected, step.changed = collected, True
                step.text = f"Got it, {spoken(value)}."
                step.events.append(f"corrected:{name}")
                return step

    person = next((e for e in state["entities"] if e.get("type") == "PERSON" and e["name"] in collected), None)
    letters = spelled(text) if spec.get("type") == "PHONE" else None
    if person is not None and letters:
        # "S I O B H A N" after the name was taken: the caller is spelling their name for us (or one part of it:
        # "L E E" after "Sam Lee" keeps "Sam Lee").
        name = _respelled(str(collected[person["name"]]), letters)
        collected[person["name"]] = name
        step.collected, step.changed = collected, True
        step.text = f"Thank you, {name.split()[0]}."
        step.events.append(f"corrected:{person['name']}")
        return step
    if person is not None and spec.get("type") in ("PHONE", "EMAIL") and int(state.get("name_again", 0)) < 2:
        again = name_again(text, str(collected[person["name"]]), known_name)
        if again is not None:
            # "Yes that's right, Lee" or "Sam Lee" asked for the number: the name we have, said again (no retry
            # counted; the number is asked in other words); "it's Sam Leigh": the name, corrected late.
            state["name_again"] = int(state.get("name_again", 0)) + 1
            if again:
                collected[person["name"]] = again
                step.collected, step.changed = collected, True
                step.text = f"Got it, {again}."
                step.events.append(f"corrected:{person['name']}")
            else:
                step.events.extend([f"confirmed:{person['name']}", "name_again"])
            return step

    later = [e for e in state["entities"][state["index"] + 1:] if e["name"] not in collected]
    extra, rest = others_in(text, later, region) if later else ({}, text)
    for name, value in extra.items():
        collected[name] = value
        step.collected, step.changed = collected, True
        step.events.append(f"collected:{name}")
    if extra and not rest.strip(" ,.") and spec["name"] not in extra:
        # "512 555 0133" asked for the address: the number is taken, and the question asked again (no retry).
        step.events.append("assent")
        return step
    name_spelled = spelled(rest) if spec.get("type") == "PERSON" else None
    result = _validate(spec, name_spelled or rest, now=now, region=region)
    if result.ok and spec["name"] == "visitTime" and not gives_time(rest):
        # "Sam Lee" asked when to come: the name asked next, said early; the time is let go.
        person = next((e for e in state["entities"][state["index"] + 1:]
                       if e.get("type") == "PERSON" and e["name"] not in collected), None)
        named = _validate(person, rest, now=now, region=region) if person else None
        if named is not None and named.ok and (known_name is None or known_name(named.value)):
            collected[person["name"]] = named.value
            state["last"] = person["name"]
            state["skipped"].append(spec["name"])
            step.collected, step.changed = collected, True
            step.events.append(f"collected:{person['name']}")
            return _advance(state, collected, step)
    if result.ok and spec.get("appendTo") and collected.get(spec["appendTo"]):
        # ("Anytime, I'm home all day" after the address: the visit's time, with its place.)
        target = spec["appendTo"]
        collected[target] = f"{str(collected[target]).rstrip(' .;,')}, {result.value}"[:500]
        state["last"] = target
        step.collected, step.changed = collected, True
        step.events.append(f"collected:{target}")
        return _advance(state, collected, step)
    if result.ok:
        collected[spec["name"]] = result.value
        state["last"] = spec["name"]
        if spec["name"] == "visitDetails" and not gives_time(str(result.value)) \
                and (gives_place(str(result.value)) or re.search(r"\d", str(result.value))) \
                and not any(e["name"] in ("visitTime", "address") for e in state["entities"]):
            # "I'm at 55 Maple, Lakewood" to "What's the address, and when ...?": where, not when; when next.
            state["entities"].insert(state["index"] + 1, dict(WHEN_ENTITY))
        step.collected, step.changed = collected, True
        step.events.append(f"collected:{spec['name']}")
        if spec.get("type") == "PERSON" and known_name is not None and not name_spelled \
                and not known_name(result.value):
            state["confirm"] = "name"
            step.kind = "confirm"
            step.text = str(result.value)
            step.events.append(f"unsure:{spec['name']}")
            return step
        return _advance(state, collected, step)

    if spec.get("type") == "PERSON" and collected.get("visitDetails") and re.search(r"\d", rest) \
            and not digits_of(rest)[9:]:
        # "77 Maple Ave, whenever" asked for a name: more of the visit's details (the address), not a bad name.
        collected["visitDetails"] = f"{collected['visitDetails']}; {rest.strip()}"[:500]
        step.collected, step.changed = collected, True
        step.text = "Got it."
        step.events.append("collected:visitDetails")
        return step
    if spec.get("type") == "PHONE" and gives_place(rest) and len(digits_of(rest)) < 7 \
            and not any(e.get("type") == "ADDRESS" or e["name"] == "address" for e in state["entities"]):
        # "14 Oak Street" asked for the number: where they are goes with the message (it is not lost), and the
        # number is asked again, no retry counted.
        place = rest.strip(" ,.")
        key = next((k for k in ("message", "visitDetails") if k in collected), None)
        if key:
            collected[key] = f"{str(collected[key]).rstrip(' .;')}; {place}"[:500]
            step.collected, step.changed = collected, True
        else:
            step.events.append("statement")  # (passed on with the message, which is still to be asked)
        step.text = "Got it, I'll pass the address on."
        step.events.append("noted:address")
        return step
    more = statement(rest) if result.reason == NOT_A_PLACE else None
    if more is not None:
        # "The repair never happened" asked for the address: more for the message (or for the team to hear);
        # the address is let go.
        if collected.get("message"):
            collected["message"] = f"{str(collected['message']).rstrip(' .;')}; {more}"[:500]
            step.collected, step.changed = collected, True
            step.events.append("collected:message")
        else:
            step.events.append("statement")
        state["skipped"].append(spec["name"])
        step.text = STATEMENT_LINE
        step.events.append(f"skipped:{spec['name']}")
        return _advance(state, collected, step)
    if (spec.get("type") == "PERSON" and state.get("purpose") in ("message", "transfer")
            and (result.reason == SENTENCE or (result.reason == DIGITS and len(rest.split()) >= 4))
            and len(rest.split()) >= 3 and not acts.is_question(rest) and not NOT_A_NAME.search(rest)
            and int(state.get("statements", 0)) < MAX_STATEMENTS):
        # "I want my money back" asked for a name for a message (or before a transfer: "it was like 400 bucks for a
        # filter change"): something for the team to hear, not a bad name.
        state["statements"] = int(state.get("statements", 0)) + 1
        step.text = STATEMENT_LINE
        step.events.append("statement")
        return step
    state["retries"] = int(state.get("retries", 0)) + 1
    step.events.append(f"invalid:{spec['name']}:{result.reason}")
    if state["retries"] <= int(spec.get("maxRetries", 2)):
        step.text = retry_prompt_of(spec)
        step.events.append("reprompt")
        return step
    # Out of retries: skip an optional entity, else escalate as the rule says.
    if not spec.get("required", True):
        state["skipped"].append(spec["name"])
        step.events.append(f"skipped:{spec['name']}")
        return _advance(state, collected, step)
    if spec.get("escalateOnFail", True):
        if state["purpose"] == "transfer":
            step.kind, step.state = "transfer_now", None
            step.events.append("escalated:transfer")
            return step
        state["skipped"].append(spec["name"])
        step.events.append(f"skipped:{spec['name']}")
        return _advance(state, collected, step)
    if state["purpose"] == "transfer":
        step.kind, step.state = "to_message", None
        step.events.append("escalated:message")
        return step
    state["skipped"].append(spec["name"])
    return _advance(state, collected, step)


__all__ = ["Step", "start", "answer", "declines", "could_answer", "no_longer_wanted", "gives_place", "gives_visit", "visit_answer",
           "ADDRESS_ENTITY", "WHEN_ENTITY", "gives_time", "MESSAGE_WITH_ADDRESS", "current", "prompt_of", "retry_prompt_of", "MESSAGE_ENTITIES",
           "BOOKING_ENTITIES", "name_again"]
