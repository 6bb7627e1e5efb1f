"""TwiML for each kind of reply, built only with the Twilio helper library (pure: no Flask, no I/O)."""

from __future__ import annotations

import functools
import re
from typing import Callable
from xml.sax.saxutils import escape

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from conversation.types import CONNECT, HANGUP, Listening, Reply

#: Characters XML 1.0 cannot carry (the helper library escapes & and < but does not drop these).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
MAX_SAY_CHARS = 1500
DIAL_TIMEOUT_S = 25


def speakable(text: str) -> str:
    """Text safe to put in <Say>: XML-valid and bounded (markup in it is escaped, never interpreted)."""
    text = _XML_INVALID.sub(" ", text or "")
    if len(text) > MAX_SAY_CHARS:
        text = text[:MAX_SAY_CHARS].rsplit(" ", 1)[0]
    return " ".join(text.split())


def _say(parent: VoiceResponse | Gather, text: str, listening: Listening) -> None:
    text = speakable(text)
    if text:
        parent.say(text, voice=listening.voice, language=listening.language)


#: Answers that take longer to say, with pauses in them (digits read in groups, a message, an address):
#: one more second of silence before the turn ends, so the caller is not cut off mid-answer.
SLOW_ANSWERS = {"PHONE": 1, "TEXT": 1, "ADDRESS": 1, "EMAIL": 1}


def _gather(action_url: str, listening: Listening) -> Gather:
    """<Gather input="speech"> as the company listens (Twilio's Gather reference): ``speechModel`` (with
    ``enhanced`` only for phone_call, where it applies), a whole-second ``speechTimeout`` once a model is set
    (Twilio refuses "auto" then), the wait for the caller to start, hints and the profanity filter."""
    pause = listening.speech_timeout
    if pause.isdigit() and listening.expecting in SLOW_ANSWERS:
        pause = str(int(pause) + SLOW_ANSWERS[listening.expecting])
    kw = {"input": "speech", "action": action_url, "method": "POST", "speech_timeout": pause,
          "action_on_empty_result": True, "language": listening.language, "timeout": listening.timeout}
    if listening.speech_model:
        kw["speech_model"] = listening.speech_model
        if listening.enhanced:
            kw["enhanced"] = True
    if listening.profanity_filter is not None:
        kw["profanity_filter"] = listening.profanity_filter
    if listening.hints:
        kw["hints"] = listening.hints
    return Gather(**kw)


#: Stand-ins for the words and the action URL in a cached frame (private-use characters: never in speech or URLs).
_WORDS, _URL = "\ue000words\ue000", "\ue000url\ue000"
#: How ElementTree (the helper library's serializer) escapes an attribute beyond &, < and >.
_ATTRIBUTE = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#09;"}


@functools.lru_cache(maxsize=1024)
def _frame(listening: Listening, barge_in: bool) -> str | None:
    """A Say-and-Gather built by the helper library once per way of listening, its words and URL left open; None
    when the company's own settings hold a stand-in's character (the library's own path is taken then)."""
    frame = _respond(_WORDS, action_url=_URL, listening=listening, barge_in=barge_in)
    return frame if frame.count("\ue000") == 4 else None


def respond(text: str, *, action_url: str, listening: Listening, barge_in: bool = True) -> str:
    """Speak and listen again. With barge-in off (NEVER_INTERRUPT) the Say comes before the Gather.

    The TwiML is the helper library's, built once per way of listening (the hints make most of it) with the
    words and the action URL filled in, escaped as its serializer escapes them (``tests/test_twiml.py``
    compares both ways on hostile text)."""
    words = speakable(text)
    frame = _frame(listening, barge_in)
    if frame is None or not words or "\ue000" in words or "\ue000" in action_url:
        return _respond(text, action_url=action_url, listening=listening, barge_in=barge_in)
    return frame.replace(_URL, escape(action_url, _ATTRIBUTE), 1).replace(
        _WORDS, escape(words), 1)


def _respond(text: str, *, action_url: str, listening: Listening, barge_in: bool = True) -> str:
    vr = VoiceResponse()
    gather = _gather(action_url, listening)
    if barge_in:
        _say(gather, text, listening)
    else:
        _say(vr, text, listening)
    vr.append(gather)
    return str(vr)


def transfer(text: str, *, phone: str | None, sip: str | None, queue: str | None, caller_id: str | None,
             action_url: str, listening: Listening, timeout: int = DIAL_TIMEOUT_S) -> str:
    """Speak the script, then connect: Dial a number or SIP address, or Enqueue into a Twilio queue."""
    vr = VoiceResponse()
    _say(vr, text, listening)
    if queue and not (phone or sip):
        vr.enqueue(queue, action=action_url, method="POST")
        return str(vr)
    kw = {"action": action_url, "method": "POST", "timeout": timeout}
    if caller_id:
        kw["caller_id"] = caller_id
    dial = Dial(**kw)
    if phone:
        dial.number(phone)
    else:
        dial.sip(sip)
    vr.append(dial)
    return str(vr)


def hangup(text: str, *, listening: Listening) -> str:
    """Say goodbye and hang up."""
    vr = VoiceResponse()
    _say(vr, text, listening)
    vr.hangup()
    return str(vr)


def render(reply: Reply, *, turn_url: Callable[[int], str], dial_url: Callable[[int], str]) -> str:
    """The TwiML of a reply; the callback URLs carry ``reply.next``."""
    if reply.kind == HANGUP:
        return hangup(reply.text, listening=reply.listening)
    if reply.kind == CONNECT:
        return transfer(reply.text, phone=reply.phone, sip=reply.sip, queue=reply.queue, caller_id=reply.caller_id,
                        action_url=dial_url(reply.next), listening=reply.listening)
    return respond(reply.text, action_url=turn_url(reply.next), listening=reply.listening, barge_in=reply.barge_in)


def empty() -> str:
    """An empty <Response/> (status callbacks)."""
    return str(VoiceResponse())


__all__ = ["render", "respond", "transfer", "hangup", "empty", "speakable"]
