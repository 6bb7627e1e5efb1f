"""Conversations that span turns: collecting a transfer rule's entities, and taking a message.

Turns the pure steps of ``conversation.collect`` into decisions, with every line we say
passed through the policy's guardrails and behavior rules (``policy.speak``), and stores
taken messages and their SMS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Callable, Mapping

import phonenumbers

import policy
from policy.company import fallback_number
from policy.decision import BaseResponse, Decision, TurnContext
from policy.scenarios import ScenarioAnswer
from records.calllog import CallLog

from . import collect
from .notify import Notifier

log = logging.getLogger(__name__)

TRANSFER_NOW_LINE = "Thank you. I'll connect you now."
PERSON_BUSY_LINE = "Everyone on our team is busy right now, so a message is the quickest way to reach them."
DECLINED_LINE = "No problem. Is there anything else I can help you with?"
TO_MESSAGE_LINE = "I'm sorry, I'm having trouble with that, so let me take a message instead."
MESSAGE_DONE_LINE = ("Thank you{name}. I'll make sure our team gets your message, and someone will call you back "
                     "as soon as they can.")


@lru_cache(maxsize=1024)
def region_of(number: str | None) -> str:
    """The country of a company's Twilio number (phone entities are read in it); US by default."""
    if not number:
        return "US"
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None)) or "US"
    except phonenumbers.NumberParseException:
        return "US"


@dataclass
class Collected:
    """A collecting turn's outcome: the decision, whether an entity was saved, and the events."""

    decision: Decision
    saved: bool
    note: dict[str, Any]


def _with_context(ctx: TurnContext, collected: Mapping[str, Any]) -> TurnContext:
    return TurnContext(company=ctx.company, now=ctx.now, caller_type=ctx.caller_type, spam_flags=ctx.spam_flags,
                       collected_entities=collected)


class Dialogue:
    """Entity collection and message taking."""

    def __init__(self, call_log: CallLog, notifier: Notifier, *, clock: Callable[[], float]) -> None:
        self.call_log = call_log
        self.notifier = notifier
        self.clock = clock

    # -- asking

    def ask(self, pol: policy.CompiledPolicy, ctx: TurnContext, state: Mapping[str, Any], before: str = "",
            *, base: Decision | None = None) -> Decision:
        """Say ``before`` (if any), then the question for the current entity; listen again."""
        question = policy.speak(pol, collect.prompt_of(collect.current(state)), ctx, caller_spoke=False)
        text = f"{before} {question}".strip() if before else question
        if base is not None:
            return replace(base, action="RESPOND", response=text, transfer_target=None, transfer_phone=None,
                           transfer_queue=None, transfer_sip=None, collect_entities=())
        return Decision(action="RESPOND", response=text)

    def maybe_collect(self, pol: policy.CompiledPolicy, decision: Decision, session: dict[str, Any],
                      ctx: TurnContext) -> Decision:
        """Start collecting when a transfer needs entities, or when the answer offers to take a message."""
        if decision.action == "TRANSFER" and decision.collect_entities:
            state = collect.start("transfer", decision.collect_entities, session.get("collected") or {},
                                  transfer={**(decision.transfer or {}), "script": decision.response})
            if state is not None:
                session["collect"] = state
                return self.ask(pol, ctx, state, decision.response, base=decision)
        blocked = any(b.get("type") == "ACTION_BLOCKED" for b in decision.applied_blocks)
        if decision.action == "RESPOND" and decision.proposed_action == "TAKE_MESSAGE" and not blocked:
            state = collect.start("message", collect.MESSAGE_ENTITIES, {}, reason="caller")
            if state is not None:
                state["offered"] = True  # the reply already asked; the caller may still ask something else
                session["collect"] = state
        return decision

    def start_message(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: dict[str, Any], before: str,
                      *, reason: str, transfer: Mapping[str, Any] | None = None) -> Decision:
        """Switch to taking a message (after a failed transfer or failed collection)."""
        state = collect.start("message", collect.MESSAGE_ENTITIES, session.get("collected") or {}, reason=reason,
                              transfer=transfer)
        if state is None:
            return self.finish_message(pol, ctx, session, {"reason": reason, "transfer": transfer})
        session["collect"] = state
        return self.ask(pol, ctx, state, policy.speak(pol, before, ctx, caller_spoke=False))

    # -- one answer

    def collect_turn(self, pol: policy.CompiledPolicy, session: dict[str, Any], text: str, ctx: TurnContext,
                     routing: policy.Routing, answer: Callable[[], ScenarioAnswer]) -> Collected | None:
        """The caller answered while we collect; None hands the turn back to the normal flow.

        ``routing`` is the engine's reading of the words: an edge case still comes first (abuse,
        emergencies ...); transfer rules do not, since an answer like "it's Bill" must not open
        the billing line. ``answer`` gives the scenarios' answer (asked only when needed).
        """
        state = session["collect"]
        note: dict[str, Any] = {"purpose": state["purpose"], "entity": collect.current(state)["name"]}
        if routing.edge_case:
            edge = policy.finish(pol, routing, BaseResponse(""), ctx)
            note["events"] = ["edge_case"]
            if edge.action in ("HANGUP", "TRANSFER"):
                session.pop("collect", None)
                return Collected(edge, False, note)
            return Collected(self.ask(pol, ctx, state, edge.response, base=edge), False, note)
        if collect.declines(text):
            note["events"] = ["declined"]
            session.pop("collect", None)
            line = policy.speak(pol, DECLINED_LINE, ctx, caller_spoke=True)
            return Collected(Decision(action="RESPOND", response=line), False, note)
        if state.get("offered") and state["index"] == 0:
            other = answer()
            if other.tier in ("1", "2") and other.action != "TAKE_MESSAGE":
                session.pop("collect", None)  # they asked something else instead of leaving a message
                return None
        if collect.WANTS_PERSON.search(text):
            note["events"] = ["wants_person"]
            if state["purpose"] == "transfer":
                session.pop("collect", None)
                return Collected(self.finish_transfer(pol, ctx, session, state["transfer"]), False, note)
            busy = policy.speak(pol, PERSON_BUSY_LINE, ctx, caller_spoke=False)
            return Collected(self.ask(pol, ctx, state, busy), False, note)
        return self._step(pol, session, text, ctx, state, note)

    def _step(self, pol: policy.CompiledPolicy, session: dict[str, Any], text: str, ctx: TurnContext,
              state: Mapping[str, Any], note: dict[str, Any]) -> Collected:
        """Take the words as the answer to the current question (or a correction of the last one)."""
        step = collect.answer(state, text, session.get("collected") or {}, now=ctx.company.local(ctx.now),
                              region=region_of(session.get("to")))
        session["collected"] = step.collected
        note["events"] = step.events
        if step.kind == "ask":
            session["collect"] = step.state
            if "reprompt" in step.events:  # the validation prompt is the whole question
                line = policy.speak(pol, step.text, ctx, caller_spoke=False)
                return Collected(Decision(action="RESPOND", response=line), step.changed, note)
            before = policy.speak(pol, step.text, ctx, caller_spoke=False) if step.text else ""
            return Collected(self.ask(pol, ctx, step.state, before), step.changed, note)
        session.pop("collect", None)
        if step.kind == "to_message":
            decision = self.start_message(pol, ctx, session, TO_MESSAGE_LINE, reason="collection_failed",
                                          transfer=state.get("transfer"))
            return Collected(decision, step.changed, note)
        if state["purpose"] == "transfer":
            return Collected(self.finish_transfer(pol, ctx, session, state["transfer"]), step.changed, note)
        return Collected(self.finish_message(pol, ctx, session, state), True, note)

    # -- endings

    def finish_transfer(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: Mapping[str, Any],
                        transfer: Mapping[str, Any] | None) -> Decision:
        """Connect now; CONFIRM_ENTITIES reads back what was collected first."""
        transfer = transfer or {}
        read_back = _with_context(ctx, session.get("collected") or {})
        line = policy.speak(pol, TRANSFER_NOW_LINE, read_back, caller_spoke=False)
        return Decision(action="TRANSFER", response=line, transfer_target=transfer.get("target"),
                        transfer_phone=transfer.get("phone"), transfer_queue=transfer.get("queue"),
                        transfer_sip=transfer.get("sip"))

    def finish_message(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: Mapping[str, Any],
                       state: Mapping[str, Any]) -> Decision:
        """Store the message, text it to the team, thank the caller and end the call."""
        message = self._message(session, state)
        self.call_log.store_message(message)
        self.call_log.update(session["call_sid"], {"$set": {"outcome": "message_taken", "message": {
            k: message[k] for k in ("name", "callback_phone", "message", "reason", "transfer_target")}}})
        self._text_team(ctx, session, state, message)
        name = f", {message['name'].split()[0]}" if message.get("name") else ""
        phone = message["callback_phone"]
        read_back = _with_context(ctx, {"callbackPhone": phone} if phone else {})
        line = policy.speak(pol, MESSAGE_DONE_LINE.format(name=name), read_back, caller_spoke=False)
        return Decision(action="HANGUP", response=f"{line} Goodbye.", tags=("message_taken",))

    def _message(self, session: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
        collected = dict(session.get("collected") or {})
        caller = session.get("from") or ""
        transfer = state.get("transfer") or {}
        return {"_id": f"{session['call_sid']}:{session.get('seq', 0) + 1}", "company_id": session.get("company_id"),
                "call_sid": session["call_sid"], "caller": caller, "name": collected.get("name"),
                "callback_phone": collected.get("callbackPhone") or caller, "message": collected.get("message"),
                "reason": state.get("reason") or "caller", "transfer_target": transfer.get("target"),
                "created_at": self.clock()}

    def _text_team(self, ctx: TurnContext, session: Mapping[str, Any], state: Mapping[str, Any],
                   message: Mapping[str, Any]) -> None:
        transfer = state.get("transfer") or {}
        to = transfer.get("phone") or fallback_number(ctx.company.raw)
        if not to:
            return
        company = ctx.company.variables.get("companyname", ctx.company.name)
        why = f" (transfer to {transfer.get('target')}: {message['reason']})" if transfer.get("target") else ""
        body = (f"{company}: message from {message['name'] or 'a caller'} ({message['callback_phone']}){why}: "
                f"{message['message'] or '(no message)'}")
        self.notifier.sms(f"{message['_id']}:message", to=to, from_=session.get("to"), body=body,
                          company_id=session.get("company_id"), call_sid=session["call_sid"], kind="message")


__all__ = ["Dialogue", "Collected", "region_of"]
