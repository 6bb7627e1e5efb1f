"""What the channel hands the conversation, and what the conversation answers (no Twilio names here)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A new call to one of our numbers."""

    call_sid: str
    called: str                  # the company number
    caller: str                  # the caller's number ("" or a placeholder when withheld)
    token: str | None = None     # the channel's idempotency token for this delivery
    withheld: bool = False       # the caller hid their number
    attestation_failed: bool = False  # the carrier could not vouch for the caller's number


@dataclass(frozen=True, slots=True)
class CallerTurn:
    """What the caller said (or silence) on turn ``seq``."""

    call_sid: str
    called: str
    caller: str
    seq: int
    speech: str                  # capped and cleaned; "" is silence
    confidence: float | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class DialOutcome:
    """How a transfer went: ``status`` is the dial or queue result, lower case."""

    call_sid: str
    called: str
    seq: int
    status: str
    token: str | None = None


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The call is over (or reached a final state)."""

    call_sid: str
    status: str
    duration_s: int | None = None


@dataclass(frozen=True, slots=True)
class Listening:
    """How a company's calls sound and listen: language, text-to-speech voice, recognition hints, and the
    speech-recognition settings (model, enhanced, the pause that ends a turn, how long to wait for speech)."""

    language: str = "en-US"
    voice: str = "Polly.Joanna"
    hints: str = ""
    speech_model: str | None = None
    enhanced: bool = False
    speech_timeout: str = "auto"
    timeout: int = 6
    profanity_filter: bool | None = None
    expecting: str | None = None  # what the caller is asked for (PHONE, TEXT, ...): they need longer pauses

    def for_answer(self, kind: str | None) -> "Listening":
        """The same settings while the caller answers a question of this kind."""
        return replace(self, expecting=kind) if kind != self.expecting else self


class OutOfOrder(ValueError):
    """A turn number that does not follow the call's last turn (refused; nothing is written)."""


#: Reply kinds: speak and listen again, connect to a person, or say goodbye.
LISTEN, CONNECT, HANGUP = "listen", "connect", "hangup"


@dataclass(frozen=True, slots=True)
class Reply:
    """What the caller hears and what happens next.

    ``next`` is the sequence number the channel's callback carries: the next caller turn
    after ``listen``, the dial result after ``connect``.
    """

    kind: str
    text: str
    next: int = 0
    barge_in: bool = True
    phone: str | None = None
    sip: str | None = None
    queue: str | None = None
    caller_id: str | None = None
    listening: Listening = Listening()

    def stored(self) -> dict[str, Any]:
        """The form kept for replays and forensics (hints are rebuilt from the call's policy)."""
        out: dict[str, Any] = {"kind": self.kind, "text": self.text, "next": self.next, "barge_in": self.barge_in}
        for name in ("phone", "sip", "queue", "caller_id"):
            value = getattr(self, name)
            if value:
                out[name] = value
        out["language"], out["voice"] = self.listening.language, self.listening.voice
        if self.listening.expecting:
            out["expecting"] = self.listening.expecting
        return out

    @classmethod
    def from_stored(cls, data: Mapping[str, Any], listening: Listening | str = "") -> "Reply":
        """A stored reply again, listening the way the call's company does now (or with just these hints)."""
        fields = {k: data[k] for k in ("kind", "text", "next", "barge_in", "phone", "sip", "queue", "caller_id")
                  if k in data}
        base = listening if isinstance(listening, Listening) else Listening(hints=listening)
        return cls(**fields, listening=replace(base, language=data.get("language", base.language),
                                               voice=data.get("voice", base.voice),
                                               expecting=data.get("expecting")))

    def with_hints(self, hints: str) -> "Reply":
        """The same reply with other recognition hints."""
        return replace(self, listening=replace(self.listening, hints=hints))


__all__ = ["OutOfOrder", "IncomingCall", "CallerTurn", "DialOutcome", "CallEnded", "Listening", "Reply", "LISTEN", "CONNECT",
           "HANGUP"]
