"""The turn pipeline: one entry point per channel event, each a short sequence of named steps.

A caller turn: load (session, company, pinned policy, template) -> decide (silence, an
answer to a question being collected, or route -> base answer -> finish through the engine)
-> side effects -> reply -> commit (session saved, turn recorded, observers told).
Nothing here knows the channel: inputs and replies are ``conversation.types``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, Callable

import policy
from infra.observe import NullObserver, Observer
from policy.company import fallback_number
from policy.decision import BaseResponse, Decision
from policy.judgement import arm_error
from records.calllog import CallLog, TurnFacts, tally, turn_record
from records.catalog import Catalog
from session import KEEP_REPLIES, KEEP_TOKENS, STORED, SessionStore, Superseded, last_reply, new_session, remember

from . import acts, manners, spanish, urgency
from .answers import Answers
from .dialogue import Dialogue, side_answer
from .effects import Effects
from .notify import Notifier
from .rollout import RolloutTurns
from .scope import Scope, Scopes, caller_flags
from .types import CONNECT, HANGUP, LISTEN, CallEnded, CallerTurn, DialOutcome, IncomingCall, OutOfOrder, Reply

log = logging.getLogger(__name__)

UNKNOWN_NUMBER_LINE = "Sorry, the number you have called is not in service. Goodbye."
BLACKLISTED_LINE = "We're sorry, but we're unable to take your call. Goodbye."
UNAVAILABLE_LINE = "We're sorry, this line is not available right now. Please try again later. Goodbye."
STILL_HERE_LINE = "I'm still here whenever you're ready."
SILENCE_LINES = ("Sorry, I didn't catch that. How can I help you today?",
                 "Are you still there? Tell me how I can help, or I can take a message for our team.")
READBACK_STILL_THERE = "Are you still there? Is what I read back right?"
SILENCE_GOODBYE = ("I haven't heard anything, so I'll end the call now. Please call us back any time. "
                   "Goodbye.")
DIAL_DONE_LINE = "Thank you for calling {companyname}. Goodbye."
DIAL_FAILED_LINE = ("I'm sorry, no one was able to take your call just now. I can take a message and have "
                    "someone call you back.")
FALLBACK_LINE = "We're sorry, we're having a problem on our end. Let me connect you to our team."
FALLBACK_GOODBYE = "We're sorry, we're having a problem on our end. Please call back in a few minutes. Goodbye."
UPSET_OFFER = "I'll make sure this gets to the right person. May I have your name, please?"
#: Typed reasons for a transfer that did not connect (call log ``transfer_outcome.reason``).
DIAL_REASONS = {"busy": "CONTACT_BUSY", "no-answer": "CONTACT_NO_ANSWER", "failed": "DIAL_FAILED",
                "canceled": "CALLER_CANCELED", "leave": "QUEUE_LEFT", "queue-full": "QUEUE_FULL",
                "error": "QUEUE_ERROR", "system-error": "QUEUE_ERROR", "unknown": "UNKNOWN"}
DIAL_OK = {"completed", "answered", "bridged", "hangup"}
FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
#: The dial-result turn number of the fallback's transfer (a call the fallback rescues may be anywhere).
FALLBACK_DIAL_SEQ = 9000


class Conversation:
    """Answers a call's events: the greeting, each caller turn, dial results, the end, the fallback."""

    def __init__(self, *, catalog: Catalog, sessions: SessionStore, call_log: CallLog, notifier: Notifier,
                 answers: Answers | None = None, observer: Observer | None = None,
                 clock: Callable[[], float] = time.time, poke: Callable[[str], None] | None = None,
                 crash: Callable[[str, int], None] = lambda step, seq: None) -> None:
        self.catalog = catalog
        self.sessions = sessions
        self.call_log = call_log
        self.answers = answers or Answers()
        self.observer = observer or NullObserver()
        self.clock = clock
        self.crash = crash  # tests only: kills the process at a named step of a turn
        self.scopes = Scopes(catalog, clock=clock)
        self.dialogue = Dialogue(call_log, notifier, clock=clock)
        self.spanish = spanish.Spanish(self.dialogue.messages)
        self.effects = Effects(catalog.companies, call_log, notifier, clock=clock)
        self.rollout = RolloutTurns(catalog, call_log, self.observer, clock=clock,
                                    **({"poke": poke} if poke is not None else {}))

    # -- the call's start

    def start(self, call: IncomingCall) -> Reply:
        """A new call: greet, or end calls to unknown numbers and from blacklisted callers."""
        facts = TurnFacts(seq=0, kind="greeting", started=time.perf_counter())
        session, tier = self.sessions.load(call.call_sid, 0)
        if session is not None and session["seq"] >= 0:
            return self._replay(session, 0)
        record = self.scopes.company(call.called)
        if record is None or (call.caller and call.caller in (record["doc"].get("blacklist") or [])):
            return self._refuse(call, record)
        facts.mark("session")
        pin = self.scopes.pin(record, call.call_sid)
        self.rollout.started(record)
        session = new_session(call.call_sid, company_id=record["_id"], caller=call.caller, called=call.called,
                              policy=pin, now=self.clock())
        session.update(caller_type=self._caller_type(call, record),
                       spam_flags=caller_flags(withheld=call.withheld, attestation_failed=call.attestation_failed))
        scope = self.scopes.load(session, record, tier)
        facts.mark("policy")
        ctx = self.scopes.context(scope, first_turn=True)
        decision = policy.apply(scope.policy, "", BaseResponse(scope.template.greeting, None, "greeting"), ctx)
        decision = self.dialogue.maybe_collect(scope.policy, decision, session, ctx)
        facts.done = self.effects.perform(decision, session, record, 0)
        return self._commit(scope, facts, decision, call.token, first=True)

    def _refuse(self, call: IncomingCall, record: dict[str, Any] | None) -> Reply:
        """End a call we will not take: an unknown number, or a blacklisted caller (logged on the call log)."""
        outcome = "unknown-number" if record is None else "blacklisted"
        log.info("call %s to %s from %s ended: %s", call.call_sid, call.called, call.caller, outcome)
        self.call_log.start(new_session(call.call_sid, company_id=record["_id"] if record else None,
                                        caller=call.caller, called=call.called, policy=None, now=self.clock()),
                            status="rejected", outcome=outcome)
        if record is None:
            return Reply(HANGUP, UNKNOWN_NUMBER_LINE)
        return Reply(HANGUP, BLACKLISTED_LINE, listening=self.scopes.listening(record, None, None))

    def _caller_type(self, call: IncomingCall, record: dict[str, Any]) -> str:
        """vendor (one of the company's vendors), existing (called before), new, or unknown (no number)."""
        if call.caller in (record["doc"].get("vendors") or []):
            return "vendor"
        if call.withheld:
            return "unknown"
        seen = self.call_log.caller_seen(record["_id"], call.caller, besides=call.call_sid)
        return "unknown" if seen is None else ("existing" if seen else "new")

    # -- a caller turn

    def turn(self, turn: CallerTurn) -> Reply:
        """The caller said something (or nothing) on turn ``seq``."""
        facts = TurnFacts(seq=turn.seq, kind="turn" if turn.speech.strip() else "silence",
                          started=time.perf_counter(), text=turn.speech, confidence=turn.confidence)
        loaded = self._load(turn.call_sid, turn.called, turn.caller, turn.seq, turn.token, facts, recover=True)
        if isinstance(loaded, Reply):
            return loaded
        scope = loaded
        if turn.speech.strip():
            decision = self._answer(scope, turn, facts)
        else:
            decision = self._silence(scope)
        return self._commit(scope, facts, decision, turn.token)

    def _load(self, call_sid: str, called: str, caller: str, seq: int, token: str | None, facts: TurnFacts, *,
              recover: bool, jump: bool = False) -> Scope | Reply:
        """The turn's scope, or the reply already given (a replayed delivery), or a goodbye.

        A turn more than one ahead of the call is refused (OutOfOrder), except the fallback's
        transfer (``jump``), which may come at any point of a call.
        """
        session, tier = self.sessions.load(call_sid, seq - 1)
        if session is not None and session["seq"] >= seq:
            return self._replay(session, seq)
        if session is not None and token and token in (session.get("tokens") or {}):
            return self._replay(session, session["tokens"][token])
        if session is not None and seq > session["seq"] + 1 and not jump:
            raise OutOfOrder(f"turn {seq} is ahead of the call (its last turn is {session['seq']})")
        record = self.scopes.company(called, session.get("company_id") if session else None)
        if not recover and (record is None or session is None):
            return Reply(HANGUP, FALLBACK_GOODBYE)
        if record is None:
            return Reply(HANGUP, UNAVAILABLE_LINE if session else UNKNOWN_NUMBER_LINE)
        if session is None:
            # The call's session is gone from every tier (or this is a turn of a call we never saw):
            # go on with a new one rather than drop the caller.
            log.warning("call %s: no session for turn %d; continuing with a new one", call_sid, seq)
            session = new_session(call_sid, company_id=record["_id"], caller=caller, called=called,
                                  policy=self.scopes.pin(record, call_sid), now=self.clock())
            self.call_log.start(session, policy=session["policy"], recovered=True)
        facts.mark("session")
        scope = self.scopes.load(dict(session), record, tier)
        facts.mark("policy")
        return scope

    def _silence(self, scope: Scope) -> Decision:
        """Nothing heard: reprompt (the question being collected, if any) twice, then say goodbye."""
        session = scope.session
        silence = int(session.get("silence", 0)) + 1
        session["silence"] = silence
        if silence == 1 and manners.held(last_reply(session)) and not spanish.in_spanish(session):
            # Quiet after "hold on a sec": they are busy, not gone (the next silence asks again as usual).
            return Decision(action="RESPOND", response=STILL_HERE_LINE)
        if spanish.in_spanish(session):
            return self.spanish.silence(scope.policy, self.scopes.context(scope), session)
        state = session.get("collect")
        if silence > 2:
            if state and state.get("readback") and state.get("purpose") == "message":
                # Every detail of the message was given and read back: pass it on as it stands.
                session.pop("collect", None)
                return self.dialogue.messages.finish(scope.policy, self.scopes.context(scope), session, state,
                                                     read_back=False, confirmed=False)
            return Decision(action="HANGUP", response=SILENCE_GOODBYE)
        if state:
            if state.get("readback") and silence == 2:  # the read-back once more would sound scripted
                return Decision(action="RESPOND", response=READBACK_STILL_THERE)
            line = "Sorry, I didn't catch that." if silence == 1 else "Are you still there?"
            return self.dialogue.reprompt(scope.policy, self.scopes.context(scope), session, line)
        return Decision(action="RESPOND", response=SILENCE_LINES[silence - 1])

    def _answer(self, scope: Scope, turn: CallerTurn, facts: TurnFacts) -> Decision:
        """The caller spoke: the rules read the words, the scenarios answer, the engine decides."""
        session, pol = scope.session, scope.policy
        ctx = self.scopes.context(scope)
        # "We have a baby at home" after "my AC stopped working": an emergency said over two turns.
        routing = urgency.with_earlier(pol, ctx, session, turn.speech, policy.route(pol, turn.speech, ctx))
        base = self._base_answer(scope, turn, facts, ctx)
        if spanish.in_spanish(session) or spanish.speaks_spanish(turn.speech):
            # Asked in Spanish ("¿hablan español?"): answered in Spanish, and the call goes on in it.
            return self._after(scope, turn, facts, self._in_spanish(scope, turn, ctx, routing))
        said = acts.read(turn.speech)
        decision = None
        last = (session.get("replies") or {}).get(str(turn.seq - 1)) or {}
        if acts.asks_if_human(turn.speech):
            # "Am I talking to a real person?" says "real person", yet asks what we are (a company's own edge case
            # for it, and an emergency, still come first).
            decision = self.dialogue.what_we_are(pol, ctx, session, routing)
        if decision is None and not routing.decided:
            decision = manners.act(pol, ctx, session, turn.speech, said, last.get("text"))
            if decision is not None and decision.action == "HANGUP":
                session.pop("collect", None)
        if decision is None and not session.get("collect") and not routing.decided:
            decision = self.dialogue.accepted_visit(pol, ctx, session, turn.speech, last.get("text"))
        elif decision is None and session.get("collect"):
            collected = self.dialogue.collect_turn(pol, session, turn.speech, ctx, routing, base,
                                                   side=lambda: side_answer(pol, routing, base(), ctx))
            if collected is not None:
                decision, facts.extra["collect"] = collected.decision, collected.note
                scope.extra["entity_saved"] = collected.saved
        if decision is None:
            decision = self.dialogue.requested(pol, ctx, session, routing, turn.speech)
        if decision is None:
            answer = base()
            if not routing.decided:
                # "What are your hours and do you serve Oakland?": both answered.
                answer = self.answers.several(scope.template, turn.speech, call_sid=turn.call_sid, seq=turn.seq,
                                              profile=scope.profile, now=ctx.now) or answer
                with facts.timing("scenario"):
                    answer = self.answers.tier3(answer, turn.speech, profile=scope.profile, pol=pol,
                                                template=scope.template)
                if said.upset and answer.tier == "fallback":
                    answer = replace(answer, text=UPSET_OFFER)
            facts.answer, facts.cost = answer, self.answers.cost(answer)
            source = "tier3" if answer.tier == "3" else f"scenario:{answer.scenario or 'fallback'}"
            decided = policy.finish(pol, routing, BaseResponse(answer.text, answer.action, source), ctx)
            decision = self.dialogue.maybe_collect(pol, decided, session, ctx, turn.speech,
                                                   understood=answer.tier != "fallback")
            self.rollout.shadow(scope, turn.speech, turn.seq, ctx, decided, facts.answer, base, facts)
        if said.kind != "repeat" and not session.get("collect"):  # asked to hear it again: as it was
            decision = manners.not_again(decision, last.get("text"), ctx)
        if said.upset and not session.get("soothed"):  # once a call: twice sounds scripted
            decision = manners.soothe(pol, ctx, decision)
            session["soothed"] = True
        self.rollout.canary_leak(scope, decision, facts)
        return self._after(scope, turn, facts, decision)

    def _in_spanish(self, scope: Scope, turn: CallerTurn, ctx: Any, routing: policy.Routing) -> Decision:
        """A turn of a call in Spanish; "in English is fine" takes the call back to English."""
        session = scope.session
        if spanish.in_spanish(session) and spanish.wants_english(turn.speech):
            session["lang"] = "en"
            session.pop("es", None)
            return manners.respond(scope.policy, ctx, spanish.ENGLISH_LINE)
        return self.spanish.turn(scope.policy, ctx, session, turn.speech, routing)

    def _after(self, scope: Scope, turn: CallerTurn, facts: TurnFacts, decision: Decision) -> Decision:
        """What every answered turn does last: side effects, and what the session remembers of the turn."""
        session = scope.session
        facts.done = self.effects.perform(decision, session, scope.record, turn.seq)
        session["anything_else"] = manners.asked_more(decision) and not session.get("collect")
        # What the caller just heard about, so "what about Saturday?" next is read as about it too.
        if facts.answer is not None and facts.answer.action == "PROVIDE_HOURS" and decision.action == "RESPOND":
            session["topic"] = "hours"
        else:
            session.pop("topic", None)
        # The scenario the caller just heard about, so "how much does that cost?" next is asked of it.
        if facts.answer is not None:
            if facts.answer.tier in ("1", "2") and facts.answer.scenario and decision.action == "RESPOND":
                session["subject"] = facts.answer.scenario
            else:
                session.pop("subject", None)
        urgency.heard(session, turn.speech)
        session["silence"] = 0
        session["turn_count"] = int(session.get("turn_count", 0)) + 1
        return decision

    def _base_answer(self, scope: Scope, turn: CallerTurn, facts: TurnFacts, ctx: Any) -> Callable[[], Any]:
        """The scenarios' answer to the words, with what the company knows (hours), found once and only
        if asked for (its time noted)."""
        found: list[Any] = []

        def answer() -> Any:
            if not found:
                with facts.timing("scenario"):
                    got = self.answers.base(scope.template, turn.speech, call_sid=turn.call_sid, seq=turn.seq,
                                            subject=scope.session.get("subject"))
                    found.append(self.answers.knowledge(got, turn.speech, profile=scope.profile, now=ctx.now,
                                                        topic=scope.session.get("topic")))
            return found[0]
        return answer

    # -- a transfer's result

    def dial_result(self, outcome: DialOutcome) -> Reply:
        """How the transfer went: goodbye when it connected, else take a message for the contact."""
        status = outcome.status or "unknown"
        facts = TurnFacts(seq=outcome.seq, kind="dial-result", started=time.perf_counter(),
                          extra={"dial_status": status})
        loaded = self._load(outcome.call_sid, outcome.called, "", outcome.seq, outcome.token, facts, recover=False,
                            jump=outcome.seq == FALLBACK_DIAL_SEQ)
        if isinstance(loaded, Reply):
            return loaded
        scope = loaded
        session = scope.session
        ctx = self.scopes.context(scope)
        in_spanish = spanish.in_spanish(session)
        if status in DIAL_OK:
            line = spanish.GOODBYE_LINE.format(company=spanish.company_name(ctx)) if in_spanish else \
                policy.speak(scope.policy, DIAL_DONE_LINE, ctx, caller_spoke=False)
            decision = Decision(action="HANGUP", response=line, tags=("transfer_completed",))
        else:
            # Busy, no answer, failed, canceled: tell the caller and take a message for the contact.
            transfer = dict(session.get("transfer") or {})
            decision = self.spanish.dial_failed(session, transfer, status) if in_spanish else \
                self.dialogue.start_message(scope.policy, ctx, session, DIAL_FAILED_LINE, reason=status,
                                            transfer=transfer)
            decision = replace(decision, tags=(*decision.tags, f"transfer_{status}"))
            self.rollout.transfer_failed(session, outcome.seq)
            self.call_log.update(session["call_sid"], {"$set": {"transfer_outcome": {
                "status": status, "target": transfer.get("target"), "reason": DIAL_REASONS.get(status, status)}}})
        session["transfer_outcome"] = status
        return self._commit(scope, facts, decision, outcome.token, persist=True)

    # -- the end, and the fallback

    def end(self, ended: CallEnded) -> None:
        """The call reached a final state: its call log gets the end and the final session."""
        if ended.status not in FINAL_STATUSES:
            return
        end: dict[str, Any] = {"status": ended.status, "ended_at": self.clock()}
        if ended.duration_s is not None:
            end["duration_s"] = ended.duration_s
        session = self.sessions.latest(ended.call_sid)
        self.rollout.hung_up(session, ended.status)
        if session is not None:
            self._hung_up_mid_message(session)
        self.sessions.finalize(ended.call_sid, session=session, **end)

    def _hung_up_mid_message(self, session: dict[str, Any]) -> None:
        """The caller hung up while we took a message or details for a transfer, after giving some of what we asked
        (a name, a number, where and when): what they gave reaches the team, marked as cut short, so someone can
        call back. Nothing is stored for a caller who gave none of it (a hang-up at the first question)."""
        state = session.get("collect")
        collected = session.get("collected") or {}
        if not state or not any(collected.get(k) for k in ("name", "callbackPhone", "visitDetails", "address")):
            return
        try:
            record = self.scopes.company(session.get("to") or "", session.get("company_id"))
            if record is None:
                return
            scope = self.scopes.load(session, record, "end")
            self.dialogue.messages.store(self.scopes.context(scope), session, state, confirmed=False, hung_up=True)
        except Exception as exc:  # noqa: BLE001 - the call's end is still recorded
            log.error("call %s: what the caller gave before hanging up was not passed on: %s", session.get("call_sid"), exc)
            return
        session.pop("collect", None)  # (a repeated status callback stores nothing twice)

    def fallback(self, called: str, call_sid: str = "") -> Reply:
        """The channel could not use our answer: apologize and connect to a person (never our own number)."""
        record = None
        try:
            record = self.catalog.companies.for_number(called) if called else None
            if call_sid:  # the fallback route was hit: an error of the call's rollout arm
                self.rollout.fell_back(self.sessions.latest(call_sid))
        except Exception as exc:  # noqa: BLE001 - the fallback must answer whatever is broken
            log.error("fallback: company or session lookup failed: %s", exc)
        number = fallback_number(record["doc"]) if record else None
        if number:
            return Reply(CONNECT, FALLBACK_LINE, next=FALLBACK_DIAL_SEQ, phone=number, caller_id=called or None)
        return Reply(HANGUP, FALLBACK_GOODBYE)

    # -- replies and the commit

    def _reply(self, decision: Decision, scope: Scope, seq: int) -> Reply:
        """What the channel says and does for a decision."""
        if decision.action == "HANGUP":
            return Reply(HANGUP, decision.response, listening=scope.listening)
        if decision.action == "TRANSFER" and (decision.transfer_phone or decision.transfer_sip
                                              or decision.transfer_queue):
            return Reply(CONNECT, decision.response, next=seq + 1, phone=decision.transfer_phone,
                         sip=decision.transfer_sip, queue=decision.transfer_queue,
                         caller_id=scope.session.get("to") or None, listening=scope.listening)
        asking = scope.session.get("collect")
        expecting = spanish.expecting(scope.session)
        if asking:
            expecting = "CONFIRM" if asking.get("readback") or asking.get("confirm") else \
                asking["entities"][min(asking["index"], len(asking["entities"]) - 1)].get("type")
        return Reply(LISTEN, decision.response, next=seq + 1, barge_in=decision.barge_in,
                     listening=scope.listening.for_answer(expecting))

    def _replay(self, session: dict[str, Any], seq: int) -> Reply:
        """The reply a turn already got (a repeated delivery): nothing is decided or recorded again."""
        stored = (session.get("replies") or {}).get(str(seq)) or self.call_log.recorded_reply(session["call_sid"], seq)
        if isinstance(stored, dict):
            return _spoken_as_stored(Reply.from_stored(stored, self.scopes.listening_for(session)))
        # Neither the session nor the call log kept it: answer like a fresh turn would, recording nothing.
        return Reply(LISTEN, SILENCE_LINES[0], next=session["seq"] + 1)

    def _commit(self, scope: Scope, facts: TurnFacts, decision: Decision, token: str | None, *,
                first: bool = False, persist: bool = False) -> Reply:
        """Finish a turn: the turn record is made durable first, then the session is saved, then observers told.

        In that order a crash at any point loses nothing: a session never says a turn was answered
        before its record is stored (or queued), and a retried delivery of a turn that was recorded
        but not saved is recomputed, recorded once, and answered as it was the first time.
        """
        session = scope.session
        seq = facts.seq
        facts.decision, facts.session_tier = decision, scope.session_tier
        if spanish.in_spanish(session):
            scope.listening = spanish.listening(scope.listening)
        reply = self._reply(decision, scope, seq)
        stored = reply.stored()
        new_tag = self._advance(session, seq, token, decision, stored)
        record = turn_record(session, facts, stored, at=self.clock())
        tally(session, record)
        self.rollout.remember(session, record, reply.kind == LISTEN)
        # The snapshot goes with the record on its schedule, whenever Redis cannot hold the session, and, during
        # a rollout, on an error turn (the judgement reads headers).
        persist = (first or persist or self.sessions.l2_every_turn or self._persist(session, decision, new_tag, scope)
                   or bool((session.get("policy") or {}).get("rollout") and arm_error(record)))
        session["updated_at"] = self.clock()
        self.crash("before_record", seq)
        # One durable write: the turn's record, with the session's snapshot when the schedule keeps one. While
        # Redis holds the session (the copy the next turn reads), it is a journal append, written to the store
        # just after the answer; without Redis the snapshot is what the next turn reads, so it is written now.
        defer = not self.sessions.l2_every_turn
        l2 = None
        if first:
            recorded, created = self.call_log.record_first_turn(
                record, session, policy=session["policy"], caller_type=session["caller_type"],
                spam_flags=session["spam_flags"])
            l2 = STORED if created else None  # the new call's header holds the snapshot
        elif persist:
            recorded, l2 = self.call_log.record_turn_and_snapshot(record, session, defer=defer)
        else:
            recorded = self.call_log.record_turn(record, defer=defer)
        self.crash("after_record", seq)
        try:
            self.sessions.save(session, persist=persist, l2=l2)
        except Superseded:
            log.warning("call %s: turn %d came again after the call moved on; answered as before",
                        session["call_sid"], seq)
            return self._answered(session["call_sid"], seq, reply)
        self.crash("after_save", seq)
        if not recorded:  # answered before (its record is stored): say what the caller heard then
            return self._answered(session["call_sid"], seq, reply)
        self.observer.turn(record)
        return reply

    def _answered(self, call_sid: str, seq: int, reply: Reply) -> Reply:
        """The reply a turn got when it was first answered (from the call log), else ``reply``."""
        earlier = self.call_log.recorded_reply(call_sid, seq)
        return _spoken_as_stored(Reply.from_stored(earlier, reply.listening)) if isinstance(earlier, dict) else reply

    @staticmethod
    def _advance(session: dict[str, Any], seq: int, token: str | None, decision: Decision,
                 reply: dict[str, Any]) -> bool:
        """Move the session to this turn (``reply`` in its stored form); returns whether a new tag was added."""
        session["seq"] = seq
        session["replies"] = remember(session.get("replies") or {}, str(seq), reply, KEEP_REPLIES)
        if token:
            session["tokens"] = remember(session.get("tokens") or {}, token, seq, KEEP_TOKENS)
        session["state"] = {"HANGUP": "ended", "TRANSFER": "transfer"}.get(decision.action, "active")
        tags = list(session.get("tags") or [])
        tags.extend(t for t in decision.tags if t not in tags)
        new_tag = tags[:100] != (session.get("tags") or [])
        session["tags"] = tags[:100]
        if decision.transfer is not None:  # a failed dial takes a message for that contact
            session["transfer"] = decision.transfer
        return new_tag

    @staticmethod
    def _persist(session: dict[str, Any], decision: Decision, new_tag: bool, scope: Scope) -> bool:
        """The L2 write schedule: first turn, every third, a new tag, a collected entity, a transfer, the end."""
        count = session.get("turn_count", 0)
        return (new_tag or bool(scope.extra.get("entity_saved")) or count == 1 or count % 3 == 0
                or decision.action in ("TRANSFER", "HANGUP"))


def _spoken_as_stored(reply: Reply) -> Reply:
    """A stored reply of a Spanish call listens in Spanish again (not with the company's English settings)."""
    if reply.listening.language == spanish.LANGUAGE:
        return replace(reply, listening=spanish.listening(reply.listening))
    return reply


__all__ = ["Conversation", "FALLBACK_GOODBYE", "FALLBACK_LINE", "FALLBACK_DIAL_SEQ"]
