"""Twilio's webhook forms -> the conversation's typed inputs (each field read once, here only)."""

from __future__ import annotations

from typing import Mapping

from conversation.types import CallEnded, CallerTurn, DialOutcome, IncomingCall
from infra.inputs import whole_number
from policy.text import clean_utterance

#: Turn numbers the Gather and Dial callbacks may carry.
MAX_SEQ = 100_000
#: What Twilio sends as ``From`` for callers who withhold their number.
WITHHELD = {"", "anonymous", "restricted", "unknown", "private", "+266696687", "+7378742833", "+2562533",
            "+8656696", "+86282452253"}


class BadRequest(ValueError):
    """A webhook missing what every Twilio request carries (answered with 400 and the reason)."""


def _field(form: Mapping[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def _required(form: Mapping[str, str], *names: str) -> None:
    missing = [n for n in names if not _field(form, n)]
    if missing:
        raise BadRequest(f"missing {', '.join(missing)}: not a Twilio voice webhook")


def parse_seq(raw: str | None) -> int:
    """The turn number in a callback URL (``?seq=N``)."""
    seq = whole_number(raw)
    if seq is None or not 0 < seq < MAX_SEQ:
        raise BadRequest("seq must be a turn number (1, 2, ...) in the URL")
    return seq


def _confidence(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw not in (None, "") else None
    except ValueError:
        return None
    return value if value is None or 0.0 <= value <= 1.0 else None


def incoming(form: Mapping[str, str], token: str | None) -> IncomingCall:
    """POST /voice: a new call."""
    _required(form, "CallSid", "To")
    caller = _field(form, "From")
    return IncomingCall(call_sid=_field(form, "CallSid"), called=_field(form, "To"), caller=caller, token=token,
                        withheld=caller.lower() in WITHHELD,
                        attestation_failed="failed" in _field(form, "StirVerstat").lower())


def caller_turn(form: Mapping[str, str], seq: int, token: str | None) -> CallerTurn:
    """POST /voice/turn: Gather's speech result (absent when the caller said nothing)."""
    _required(form, "CallSid", "To")
    return CallerTurn(call_sid=_field(form, "CallSid"), called=_field(form, "To"), caller=_field(form, "From"),
                      seq=seq, speech=clean_utterance(form.get("SpeechResult")),
                      confidence=_confidence(form.get("Confidence")), token=token)


def dial_outcome(form: Mapping[str, str], seq: int, token: str | None) -> DialOutcome:
    """POST /voice/dial-result: the Dial (or Enqueue) action."""
    _required(form, "CallSid", "To")
    status = (_field(form, "DialCallStatus") or _field(form, "QueueResult")).lower()
    return DialOutcome(call_sid=_field(form, "CallSid"), called=_field(form, "To"), seq=seq, status=status,
                       token=token)


def call_ended(form: Mapping[str, str]) -> CallEnded:
    """POST /voice/status: the call status callback."""
    _required(form, "CallSid")
    return CallEnded(call_sid=_field(form, "CallSid"), status=_field(form, "CallStatus").lower(),
                     duration_s=whole_number(_field(form, "CallDuration")))


__all__ = ["BadRequest", "parse_seq", "incoming", "caller_turn", "dial_outcome", "call_ended"]
