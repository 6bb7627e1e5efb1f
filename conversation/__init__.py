"""The conversation: the turn pipeline and the dialogue, apart from any channel.

It takes typed inputs (``types``), finds base answers (Tiers 1-3), runs the cheat-sheet
engine, collects entities and takes messages, performs side effects, and answers with a
``Reply``. Its stores, clients and observer are passed in; it never sees Twilio's field
names or TwiML.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from . import names
from .answers import Answers, parse_costs
from .llm import LLMTier
from .notify import Notifier
from .pipeline import Conversation
from .types import CallEnded, CallerTurn, DialOutcome, IncomingCall, Listening, Reply


def crash_points(spec: str) -> Callable[[str, int], None]:
    """Test mode only: kill this process at named steps of a turn ("after_record:3,before_record")."""
    wanted = {tuple(part.strip().split(":", 1)) for part in spec.split(",") if part.strip()}

    def crash(step: str, seq: int) -> None:
        if (step,) in wanted or (step, str(seq)) in wanted:
            os._exit(70)  # as abrupt as kill -9: no cleanup, no response
    return crash


def init_app(app: Any, settings: Any, *, observer: Any) -> Conversation:
    """Build the conversation from the app's stores (records and session must be set up first)."""
    notifier = Notifier(app.extensions["docstore"], account_sid=settings.TWILIO_ACCOUNT_SID,
                        auth_token=settings.TWILIO_AUTH_TOKEN, clock=settings.CLOCK, sleep=settings.SLEEP)
    llm = (LLMTier(settings.LLM_URL, api_key=settings.LLM_API_KEY, model=settings.LLM_MODEL,
                   timeout=settings.LLM_TIMEOUT_S) if settings.LLM_URL else None)
    conversation = Conversation(catalog=app.extensions["catalog"], sessions=app.extensions["sessions"],
                                call_log=app.extensions["call_log"], notifier=notifier,
                                answers=Answers(llm=llm, costs=parse_costs(settings.TIER_COSTS)),
                                observer=observer, clock=settings.CLOCK, poke=app.extensions["rollouts"].poke,
                                **({"crash": crash_points(settings.CRASH_AT)}
                                   if settings.TESTING and settings.CRASH_AT else {}))
    names.warm()  # read once per process at start, not during a caller's turn
    app.extensions.update(notifier=notifier, conversation=conversation)
    return conversation


__all__ = ["init_app", "Conversation", "Reply", "Listening", "IncomingCall", "CallerTurn", "DialOutcome",
           "CallEnded"]
