"""A practice call: the real turn pipeline against a chosen policy, on stores of its own.

Staff type what a caller says and read what the agent answers (the console's test call). The
call runs through ``Conversation`` exactly as a phone call does, but apart from the company's
real calls: its sessions and call log live in a throwaway store, it is pinned to the policy it
is given (a draft or the active one) and takes no part in a rollout, it feeds no metrics and no
learning, sends no SMS and blacklists no one. What those side effects would have done is in
each turn's record (``side_effects``), as on a real call.

A practice call is played whole on every request (``run``): the words said so far, at the time
the call started, give the same answers again, so it needs no state between requests and works
across worker processes.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from infra.observe import NullObserver
from policy.compiler import CompiledPolicy
from policy.text import clean_utterance
from records.backend import open_docstore
from records.calllog import CallLog, SnapshotTier
from records.catalog import Catalog
from records.forensics import call_detail
from records.writer import DurableWriter
from session import SessionStore

from .answers import Answers
from .effects import Effects
from .notify import Notifier
from .pipeline import Conversation
from .scope import Scopes
from .types import CONNECT, HANGUP, LISTEN, CallerTurn, DialOutcome, IncomingCall

#: A practice call's number (never a real caller's) and the longest call played.
PRACTICE_CALLER = "+15005550006"
MAX_TURNS = 40


@dataclass(frozen=True)
class Practice:
    """One practice call: the company number called, the policy (and its pin), the time it started, the words."""

    called: str
    policy: CompiledPolicy
    pin: Mapping[str, Any]
    started_at: float
    words: Sequence[str]
    caller: str = PRACTICE_CALLER
    dial_status: str = "completed"


class _PinnedScopes(Scopes):
    """Every call gets the given policy, and no company's rollout reaches it."""

    def __init__(self, catalog: Catalog, *, clock: Callable[[], float], pinned: CompiledPolicy,
                 pin: Mapping[str, Any]) -> None:
        super().__init__(catalog, clock=clock)
        self.pinned, self._pin = pinned, dict(pin)

    def company(self, called: str, company_id: str | None = None) -> dict[str, Any] | None:
        record = super().company(called, company_id)
        return {**record, "rollout": None} if record else None

    def pin(self, record: Mapping[str, Any], call_sid: str = "") -> dict[str, Any]:
        return dict(self._pin)

    def policy(self, session: Mapping[str, Any], record: Mapping[str, Any]) -> CompiledPolicy:
        return self.pinned


class _ReadOnlyCompanies:
    """The sandbox's view of the companies for side effects: a blacklisting is recorded, never stored."""

    def add_to_blacklist(self, company_id: str, number: str) -> bool:
        return False


def _conversation(catalog: Catalog, answers: Answers, db: Any, practice: Practice,
                  clock: Callable[[], float]) -> Conversation:
    call_log = CallLog(db, DurableWriter(db, None), clock=clock)
    notifier = Notifier(db, account_sid="", auth_token="", clock=clock, workers=1)
    conv = Conversation(catalog=catalog, sessions=SessionStore(SnapshotTier(call_log), clock=clock),
                        call_log=call_log, notifier=notifier, answers=answers, observer=NullObserver(), clock=clock,
                        poke=lambda company_id: None)
    conv.scopes = _PinnedScopes(catalog, clock=clock, pinned=practice.policy, pin=practice.pin)
    conv.effects = Effects(_ReadOnlyCompanies(), call_log, notifier, clock=clock)  # type: ignore[arg-type]
    return conv


def run(catalog: Catalog, answers: Answers, practice: Practice, call_sid: str) -> dict[str, Any]:
    """Play the practice call: greeting, then each of the words in turn (an empty one is silence) while the
    agent listens, a transfer's dial result, the end. Returns the call as forensics shows a real one, with
    ``ended`` (the agent said goodbye), ``listening`` (it waits for the caller) and the words not reached."""
    with tempfile.TemporaryDirectory(prefix="practice-") as tmp:
        db = open_docstore("", tmp)
        tick = [0]

        def clock() -> float:  # the call's own time: the moment it started, a millisecond a step
            tick[0] += 1
            return practice.started_at + tick[0] * 0.001

        conv = _conversation(catalog, answers, db, practice, clock)
        reply = conv.start(IncomingCall(call_sid, practice.called, practice.caller))
        said, words = 0, list(practice.words)[:MAX_TURNS]
        while reply.kind == LISTEN and said < len(words):
            reply = conv.turn(CallerTurn(call_sid, practice.called, practice.caller, reply.next or said + 1,
                                         clean_utterance(words[said])))
            said += 1
        if reply.kind == CONNECT:
            reply = conv.dial_result(DialOutcome(call_sid, practice.called, reply.next or said + 1,
                                                 practice.dial_status))
        record = conv.scopes.company(practice.called)
        detail = call_detail(db, record["_id"] if record else "", call_sid) or {"turn_details": []}
    detail.update(ended=reply.kind == HANGUP, listening=reply.kind == LISTEN, unsaid=words[said:])
    return detail


__all__ = ["Practice", "run", "PRACTICE_CALLER", "MAX_TURNS"]
