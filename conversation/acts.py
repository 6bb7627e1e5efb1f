"""What the caller is doing with their words, beside asking about the company (pure).

Closing ("that's all, bye"), thanking, asking to hear the last reply again, asking to hold on,
asking for a person, asking to leave a message, saying yes or no, and sounding upset. Each is
read from the whole utterance: "thanks, bye" closes the call, "thanks, and what are your
hours?" is a question with a thank-you in front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Leaving for now: to think it over, or to call again later (a closing even in the middle of our questions).
_LATER_WORDS = (r"(?:let me|i'?ll|i need to|i have to|i want to|i wanna) (?:think (?:about it|it over)|"
                r"talk (?:it over )?(?:to|with) my (?:wife|husband|partner|spouse|landlord|family)(?: first| about it)?)|(?:i'?ll|i will|we'?ll|we will|i can|let me) (?:just )?(?:try (?:and |to )?)?"
                r"call (?:you |y'?all )?(?:back|again)(?: (?:later(?: on)?|tomorrow|another time|some other time|"
                r"in the morning|next week|on (?:mon|tues|wednes|thurs|fri|satur|sun)day|when you(?:'re| are) open|then))*|"
                r"call (?:you )?back later|i'?ll get back to you|maybe (?:some other time|later)")
_CLOSING = (r"(?:good ?)?bye(?: ?bye)?|see ya|take care|have a (?:good|great|nice) (?:one|day|night|evening|weekend)|"
            r"talk (?:to you )?later|that'?s (?:all|it|everything)(?: (?:i|we) (?:need(?:ed)?|wanted))?|"
            r"that is (?:all|it)|that'?ll be all|i'?m (?:all )?set|we'?re (?:all )?set|all set|nothing else|"
            rf"that was (?:all|it)|i'?m good|we'?re good|i'?m done|that covers it|{_LATER_WORDS}")
_THANKS = r"thanks?(?: you)?(?: (?:so|very) much| a lot| again)?|thank you(?: (?:so|very) much)?|much appreciated|appreciate (?:it|that)|cheers"
_ASSENT = (r"ok(?:ay)?|alright|all right|great|perfect|awesome|cool|sounds good|got it|good|wonderful|excellent|"
           r"yes|yeah|yep|yup|sure|right|fine|please")
_NEGATIVE = r"no|nope|nah|no thanks|not really|never ?mind|forget it|not now|no need"
_FILLER = r"um+|uh+|oh|well|so|and|but|okay|actually|then|whatever"
_PIECES = re.compile(rf"\b(?:{_CLOSING}|{_THANKS}|{_ASSENT}|{_NEGATIVE}|{_FILLER})\b", re.I)
_HAS_CLOSING = re.compile(rf"\b(?:{_CLOSING})\b", re.I)
_GOODBYE = re.compile(r"\b(?:(?:good ?)?bye|see ya|take care|have a (?:good|great|nice) (?:one|day|night|evening|weekend)|"
                      r"talk (?:to you )?later)\b", re.I)
_HAS_THANKS = re.compile(rf"\b(?:{_THANKS})\b", re.I)
_LATER = re.compile(rf"\b(?:{_LATER_WORDS})\b", re.I)
_HAS_NEGATIVE = re.compile(rf"^\W*(?:{_NEGATIVE})\b", re.I)
_YES = re.compile(r"^\W*(?:yes|yeah|yep|yup|yes please|sure|correct|that'?s (?:right|correct)|right|exactly|"
                  r"you got it|sounds (?:good|right)|uh[- ]?huh|mm[- ]?hmm|ok(?:ay)?|alright|perfect|go ahead|"
                  r"please do|that works|absolutely|definitely|yes it is|it is|that'?s it)\b", re.I)
#: A yes in front of more words ("yeah I changed the batteries already": still not working, so yes).
YES_FIRST = re.compile(r"^\W*(?:yes|yeah|yep|yup|sure|please|ok(?:ay)?|that would be great|sounds good)\b", re.I)
_BUT = re.compile(r"\b(?:but|except|wrong|change|actually|not|isn'?t|no)\b|\d", re.I)
_NO = re.compile(r"^\W*(?:no|nope|nah|not quite|not really|that'?s (?:not right|wrong|incorrect)|wrong|incorrect)\b", re.I)
_REPEAT = re.compile(
    r"^\W*(?:(?:sorry|pardon|excuse me|what|huh|come again|say (?:that|it) again|repeat (?:that|it)|"
    r"(?:can|could|would) you (?:please )?(?:say|repeat) (?:that|it)(?: again| one more time)?|"
    r"what (?:was|did you say)(?: that)?|i didn'?t (?:catch|hear|get) (?:that|it|you)|one more time|"
    r"(?:can|could) you repeat(?: that)?|say again|what'?s that)[\s,.!?]*)+(?:please)?[\s.!?]*$", re.I)
_HOLD = re.compile(r"^\W*(?:(?:ok(?:ay)?|um+|uh+|oh|sorry)[\s,.!]+)*(?:(?:(?:hold on|hang on)(?: (?:a|one|just a) "
                   r"(?:moment|second|sec|minute|min))?|one (?:moment|second|sec|minute)|"
                   r"just a (?:moment|second|sec|minute)|give me a (?:moment|second|sec|minute)|"
                   r"wait(?: a (?:moment|second|sec|minute))?|bear with me)[\s,.!]*(?:please)?[\s,.!]*)+"
                   # ("hold on, let me grab a pen": still a hold)
                   r"(?:let me (?:get|grab|find|check|look|go get|pull up|write)\b[^.?!]{0,40}[.!]?)?\s*$", re.I)
WANTS_PERSON = re.compile(
    r"\b(?:(?:just )?(?:transfer|connect|put) me(?: through)?|put me through|(?:talk|speak) (?:to|with) (?:a |an |the )?"
    r"(?:real |live |actual )?(?:person|human|someone|somebody|agent|representative|operator|manager|owner|boss|"
    r"supervisor)|"
    r"(?:get|give|find) me (?:a |an |the )?(?:real |live |actual )?(?:person|human|someone|somebody|agent|"
    r"representative|operator|manager|supervisor)\b(?! (?:to|who|that|for) )|(?:i want|i need|i'?d like|let me (?:talk|speak) to) (?:a |an |the )?"
    r"(?:real |live |actual )?(?:person|human|agent|representative|operator|manager|supervisor)\b(?! (?:to|who) )|"
    r"representative|operator|real person|live person|human being|a human|(?:is|are) (?:the |your )?(?:owner|manager|"
    r"boss|someone|anyone|somebody|anybody|a person|a human)(?: \w+)? (?:available|around|in|there))\b", re.I)
#: "Hello? Is anyone there?": checking the line is up (the greeting was missed), not asking for a person.
LINE_CHECK = re.compile(r"^\W*(?:(?:hello|hi|hey|yes|yeah|um+|uh+)\W+)*(?:(?:(?:is|are) )?(?:anyone|anybody|someone|somebody|you)"
                        r" (?:still )?(?:there|on the line|listening)|(?:can|could|do) you (?:still )?hear me)"
                        r"\W*(?:(?:hello|hi)\W*)*$", re.I)
#: "Is this the heating company?": the caller checks they reached us (answered with who we are, not a scenario).
_IDENTITY = re.compile(r"^\W*(?:(?:hi|hello|hey|yes|yeah|um+|uh+|oh|sorry)\W+)*(?:is this|is that|am i (?:speaking|talking) "
                       r"(?:to|with)|did i (?:reach|get|call)|have i reached)\s+(?:the\s+|a\s+)?(?P<who>[a-z0-9&' .-]{2,60}?)"
                       r"\W*$", re.I)
#: "Am I talking to a real person?": whether we are a person, not a request for one.
_ASKS_IF_HUMAN = re.compile(
    r"^\W*(?:(?:wait|hold on|um+|uh+|oh|so|sorry|hey|hi|hello|ok(?:ay)?|and|but)\W+)*(?:(?:am i|are we) (?:talking|speaking) "
    r"(?:to|with)|is this|are you|is that|was that|this is)\s+(?:a |an |even a |actually a |really a )?(?:real|live|actual)?"
    r"\s*(?:person|human(?: being)?|people|robot|machine|computer|recording|bot|ai|a\.i\.?)\b\W*"
    r"(?:or (?:a |an )?(?:robot|machine|computer|recording|bot|ai|person|human|what)\W*)?$", re.I)


def asks_if_human(text: str) -> bool:
    """The caller asks whether they are talking to a person ("am I talking to a real person?", "is this a
    recording?"): answered honestly, not taken as asking to be put through."""
    return bool(_ASKS_IF_HUMAN.match(text))


#: Words that name a place of business in general ("is this the right office?").
_BUSINESS = frozenset("company office business place shop line number outfit people guys".split())
#: Words callers use for a trade.
_TRADE_WORDS = {"hvac": {"heating", "cooling", "air", "ac", "furnace", "hvac", "heat"},
                "plumbing": {"plumbing", "plumber", "plumbers", "drain", "water"},
                "electrical": {"electric", "electrical", "electrician", "electricians"}}


def identity_asked(text: str, name: str, trade: str) -> bool:
    """Whether the caller asks if they reached this company ("is this the heating company?", "is this Demo
    Heating?"), by its name's words, its trade's or a word for any business."""
    m = _IDENTITY.match(text.strip())
    if not m:
        return False
    said = {w.removesuffix("'s") for w in re.findall(r"[a-z0-9&']+", m.group("who").lower())}
    ours = {w.removesuffix("'s") for w in re.findall(r"[a-z0-9']+", name.lower()) if len(w) > 2}
    trade = trade.lower()
    kinds = next((words for key, words in _TRADE_WORDS.items() if trade and key[:5] == trade[:5]), set())
    return bool(said & (ours | kinds | _BUSINESS | {trade}))


_WHEN = re.compile(r"\b(?:(?:this|next)\s+)?(?:today|tomorrow|tonight|monday|tuesday|wednesday|thursday|friday|saturday|"
                   r"sunday|weekend)(?:\s+(?:morning|afternoon|evening|night))?\b|\b(?:in the\s+)?(?:morning|afternoon|"
                   r"evening)\b|\basap\b|\bas soon as (?:possible|you can)\b", re.I)
_DAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())


#: The caller changes their mind between two days ("thursday? no wait, wednesday is better").
_CHANGE_OF_MIND = re.compile(r"\b(?:no|nope|wait|actually|i mean|rather|instead|make (?:that|it)|scratch that|sorry|"
                             r"better|change (?:that|it))\b", re.I)


def when_said(text: str) -> str | None:
    """A day or time the caller names ("uh, thursday I guess" -> "Thursday"), as we would say it back; the last
    one when they change their mind ("thursday? no wait, wednesday morning is better" -> "Wednesday morning")."""
    found = list(_WHEN.finditer(text))
    if not found:
        return None
    m = found[0]
    if len(found) > 1 and _CHANGE_OF_MIND.search(text, found[0].end()):
        m = found[-1]
    words = m.group(0).lower().replace("asap", "as soon as possible").split()
    return " ".join(w.capitalize() if w in _DAYS else w for w in words)


WANTS_MESSAGE = re.compile(
    r"\b(?:leave (?:a |him a |her a |them a )?message|take a message|call me back|give me a call(?: back)?|"
    r"(?:someone|somebody|anyone|him|her|them) (?:to )?(?:call|ring) me|(?:have|get|ask) (?:someone|somebody|"
    r"(?:a|an|the|your) \w+) (?:to )?(?:call|give me a call)|(?:can|could|would|please) (?:you )?call me|call back|callback)\b",
    re.I)
_UPSET = re.compile(
    r"\b(?:worst|ridiculous|unacceptable|terrible|horrible|awful|useless|incompetent|furious|angry|livid|"
    r"frustrat\w*|fed up|sick (?:and tired )?of|pissed|annoyed|upset|disappointed|(?:never|didn'?t|did not) show(?:ed)?"
    r"(?: up)?|no[- ]show|nobody (?:ever )?(?:calls?|called)|no one (?:ever )?(?:calls?|called)|"
    r"never (?:call(?:s|ed)?|get(?:s)?|got|came) (?:me |us )?back|never (?:returned|return) my calls?|"
    r"still waiting|been waiting|waste of (?:my )?time|rip(?:ped)? ?off|this is a joke|(?:second|third|fourth) time|"
    r"left a mess|not happy|unhappy|complain\w*|(?:it'?s|this is) a joke|(?:called|calling|tried) .{0,30}"
    r"(?:times|twice)|(?:two|three|four|five|several|multiple|\d+) times)\b", re.I)
#: "Call back" said of a call back that never came ("you people never call back"): a complaint, not a request.
_NO_CALLBACK = re.compile(r"\b(?:never|didn'?t|did not|don'?t|do not|won'?t|nobody|no one|not once)\b(?: \w+){0,3}? "
                          r"call(?:s|ed)? (?:me |us )?back\b", re.I)


#: The caller will call us back ("ok I'll call back tomorrow then"): leaving, not asking to be called.
_CALLING_BACK = re.compile(r"\b(?:i'?ll|i will|i can|i'?m going to|i'?m gonna|i'?ll just|let me|we'?ll|we will|i might|"
                           r"i may|maybe i'?ll) (?:just )?(?:try (?:and |to )?)?(?:call|ring) (?:you |y'?all |back|again)", re.I)


def wants_message(text: str) -> bool:
    """The caller asks to leave a message or to be called back (not "I'll call back tomorrow")."""
    return bool(WANTS_MESSAGE.search(text)) and not _NO_CALLBACK.search(text) and not _CALLING_BACK.search(text)


#: A visit that never happened ("nobody showed up", "the technician never came", "you guys stood me up").
_NO_VISIT = re.compile(
    r"\b(?:(?:no ?one|nobody|no body)\s+(?:ever\s+|even\s+)?(?:show(?:ed|s)?|came|come|arrived|made it|turned up)|"
    r"(?:tech(?:nician)?|guy|plumber|electrician|installer|crew|someone|somebody|they|you(?: guys)?|y'?all)\s+"
    r"(?:never|didn'?t|did not|hasn'?t|has not|haven'?t|have not|still hasn'?t|still haven'?t)\s+(?:even\s+)?"
    r"(?:show(?:ed|n)?|come|came|arrive[d]?|made it|make it|turn(?:ed)? up)|no[- ]show(?:ed)?|stood (?:me|us) up|(?:was|were|got) stood up)\b",
    re.I)


def missed_visit(text: str) -> bool:
    """The caller says a visit they were promised never happened ("nobody showed up yesterday")."""
    return bool(_NO_VISIT.search(text))


def missed_callback(text: str) -> bool:
    """The caller says a call back they were waiting for never came ("you guys never called me back")."""
    return bool(_NO_CALLBACK.search(text))


_QUESTION = re.compile(r"\?\s*$|^\W*(?:(?:oh|and|also|but|so|hey|wait|hang on|hold on|before i forget|actually|ok|okay|yes|yeah|yep|"
                       r"alright|all right|um+|uh+|well|sorry|"
                       r"quick question)[\s,.!]+)*(?:what|when|where|who|why|how|which|is|are|do|does|did|can|could|"
                       r"would|will|should|may|any)\b", re.I)


@dataclass(frozen=True, slots=True)
class Act:
    """What the caller did: ``kind`` is closing, thanks, repeat, hold, or "" (nothing of these)."""

    kind: str
    upset: bool = False


def _rest(text: str) -> str:
    """The words left once closings, thanks, assents, negatives and fillers are taken out."""
    return re.sub(r"[\W_]+", " ", _PIECES.sub(" ", text)).strip()


def read(text: str) -> Act:
    """The caller's act in one utterance."""
    upset = bool(_UPSET.search(text))
    if _REPEAT.match(text):
        return Act("repeat", upset)
    if _HOLD.match(text):
        return Act("hold", upset)
    if LINE_CHECK.match(text):
        return Act("line_check", upset)
    if not _rest(text):
        if _HAS_CLOSING.search(text):
            return Act("closing", upset)
        if _HAS_THANKS.search(text):
            return Act("thanks", upset)
    return Act("", upset)


def leaving(text: str) -> bool:
    """A closing that cannot be the answer to a question: a goodbye, a no with it ("no thanks, bye"), or leaving
    to think it over or to call again later."""
    return read(text).kind == "closing" and bool(_GOODBYE.search(text) or _HAS_NEGATIVE.search(text)
                                                 or _LATER.search(text))


def done_after_anything_else(text: str) -> bool:
    """After "anything else?": "no", "nope, that's it", "I'm good, thanks" mean the caller is done."""
    return not _rest(text) and bool(_HAS_NEGATIVE.search(text) or _HAS_CLOSING.search(text) or _HAS_THANKS.search(text))


def is_yes(text: str) -> bool:
    """A yes to a question ("yes", "yeah that's right", "correct")."""
    return bool(_YES.match(text)) and not _NO.match(text) and not _BUT.search(text) and len(text.split()) <= 6


def is_no(text: str) -> bool:
    """A no to a question ("no", "nope", "not quite", "that's wrong")."""
    return bool(_NO.match(text))


def is_assent(text: str) -> bool:
    """Only a yes or an acknowledgement ("sure", "ok", "thanks"), with nothing else said."""
    return bool(text.strip()) and not _rest(text) and not _HAS_NEGATIVE.search(text) and not _HAS_CLOSING.search(text)


#: The words of a yes that thanks alone lacks ("yes", "sure", "let's do it", "go ahead").
_YES_WORD = re.compile(r"\b(?:yes|yeah|yep|yup|sure|please|definitely|absolutely|let'?s|go ahead|do it|book|"
                       r"schedule|set (?:it|that|one) up|send|sounds good|that works|that would be great)\b", re.I)


def only_thanks(text: str) -> bool:
    """A thank-you with at most an acknowledgement ("ok cool, thanks"): polite, but no yes to an offer."""
    return is_assent(text) and bool(_HAS_THANKS.search(text)) and not _YES_WORD.search(text)


_DECLINE_START = re.compile(r"^\W*(?:(?:actually|oh|um+|uh+|well|no|nah|nope)[\s,.!]+)*(?:never ?mind|forget (?:it|that)|"
                            r"no thanks|no thank you|not now|i changed my mind|scratch that)\b[\s,.!]*", re.I)


def declined_then(text: str) -> str | None:
    """The rest of "never mind, what are your hours": the words after a decline in front, or None."""
    m = _DECLINE_START.match(text)
    if not m:
        return None
    rest = text[m.end():].strip()
    return rest or None


#: The trouble went away on its own ("I just replaced the batteries and it works", "never mind, it came back on").
_RESOLVED = re.compile(r"\b(?:(?:it|that|everything|the (?:heat|ac|a/c|air|unit|furnace|thermostat|system|power|water|"
                       r"lights?|breaker))(?:'s| is)? (?:works?|working|running|fine|ok(?:ay)?|good|back(?: on| up)?)"
                       r"(?: again| now)?|(?:it|that|the \w+) (?:just |finally )?(?:came|kicked|turned|started|fired) (?:back )?"
                       r"(?:on|up)(?: again)?|"
                       r"(?:fixed|figured out|sorted(?: out)?|solved) (?:it|that|the problem)|all good now|"
                       r"problem solved)\b", re.I)
_NOT_RESOLVED = re.compile(r"\b(?:not|isn'?t|wasn'?t|won'?t|doesn'?t|didn'?t|still|stopped|stops|again and again|"
                           r"keeps?|until|but then|for a (?:minute|second|bit|while)|then (?:it )?(?:stopped|died|quit))\b",
                           re.I)


def resolved(text: str) -> bool:
    """Whether the caller says the trouble is gone ("I replaced the batteries and it works now"), with nothing
    that says it is back or still there ("it works for a minute then stops", "it still isn't working")."""
    return bool(_RESOLVED.search(text)) and not _NOT_RESOLVED.search(text) and not is_question(text)


_WRONG_NUMBER = re.compile(r"\b(?:wrong (?:number|#)|(?:dialed|called|rang|got) the wrong (?:number|person|company|place|"
                           r"business|one)|mis-?dial(?:ed)?|didn'?t mean to call)\b", re.I)


def wrong_number(text: str) -> bool:
    """The caller reached us by mistake ("sorry, wrong number", "I think I dialed the wrong number"): said in
    a few words, not a question and not about someone else's mistake ("you called the wrong number for me")."""
    return bool(_WRONG_NUMBER.search(text)) and len(text.split()) <= 10 and not is_question(text) \
        and not re.search(r"\b(?:you|your|they|the tech(?:nician)?)\b", text, re.I)


def is_question(text: str) -> bool:
    """Whether the words are a question ("do you work in Scottsdale?", "what time do you close")."""
    return bool(_QUESTION.search(text.strip()))


__all__ = ["Act", "read", "leaving", "declined_then", "resolved", "wrong_number", "done_after_anything_else", "is_yes", "is_no", "is_assent", "only_thanks", "is_question", "WANTS_PERSON",
           "WANTS_MESSAGE", "YES_FIRST", "wants_message", "missed_callback", "missed_visit", "asks_if_human"]
