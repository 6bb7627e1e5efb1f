"""Conversations that span turns: collecting a transfer rule's entities, and taking a message.

Turns the pure steps of ``conversation.collect`` into decisions, with every line we say
passed through the policy's guardrails and behavior rules (``policy.speak``), and stores
taken messages and their SMS. With CONFIRM_ENTITIES what was collected is read back, and the
caller confirms or corrects it before the transfer or the stored message.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Callable, Mapping

import phonenumbers

import policy
from policy.decision import BaseResponse, Decision, TurnContext
from policy.entities import not_a_name, spoken
from policy.words import strip_lead_in
from policy.text import label, lower_first, split_sentences
from records.calllog import CallLog

from session import last_reply

from . import acts, collect, manners, urgency
from .messages import Messages
from .names import known_first_name, known_name
from .notify import Notifier
from .spoken import given_in, message_in, said_back
from .visits import visit_phrase

log = logging.getLogger(__name__)

TRANSFER_NOW_LINE = "Thank you. I'll connect you now."
DECLINED_LINE = "No problem. Is there anything else I can help you with?"
RESOLVED_LINE = "Glad to hear it's working again. Is there anything else I can help you with?"
#: "Ok cool, thanks" to our offer of a visit: a thank-you, not yet a yes.
THANKS_OFFER_LINE = "You're welcome! Shall I book that visit for you?"
TO_MESSAGE_LINE = "I'm sorry, I'm having trouble with that, so let me take a message instead."
MESSAGE_START_LINE = "Sure, I can take a message and have someone call you back."
CALLBACK_AGAIN_LINE = "Let me make sure someone gets back to you this time."
#: "Nobody showed up": said before the caller is connected (or their message taken).
MISSED_VISIT_LINE = "I'm sorry nobody made it out to you."
PERSON_FAILED_LINE = ("I did try to put you through, but no one could pick up just now, so a message is the quickest "
                      "way to reach them.")
PERSON_NONE_LINE = "I'm not able to put you through to someone from here, but I'll make sure the team gets your message."
PERSON_OFFER_LINE = ("I'm not able to put you through to someone directly right now, but I can take a message and "
                     "have someone call you back.")
CONFIRM_NAME_LINE = "Just to make sure I have it right, is your name {name}?"
SPELL_LINE = "Sorry about that. Could you spell your name for me?"
WHICH_LINE = "Sorry about that. What should I change: {fields}?"
VISIT_CORRECTED_LINE = "Got it, {visit}. Is everything else right?"
RESUME_LINES = ("Now, {prompt}", "Back to your message: {prompt}", "So, {prompt}")
#: Said after answering a question asked instead of answering our offer of a visit.
MESSAGE_REOFFER = "Would you still like someone from our team to call you back?"
#: "Am I talking to a real person?"
MACHINE_LINE = ("I'm the virtual assistant for {companyname}. I can help with most things, and if you'd rather talk "
                "to someone on our team, just say so.")
BOOKING_REOFFERS = ("Would you like us to book that visit for you?", "Shall I set one up for you?")
#: The same, while booking a visit (it is not a message to the caller).
BOOKING_RESUME_LINES = ("Now, {prompt}", "Back to your visit: {prompt}", "So, {prompt}")
#: Our reply offered a visit ("I can book a technician for you", "Would you like to book a visit?").
BOOKING_OFFER = re.compile(r"\b(?:i can (?:book|schedule|send)|we can send|would you like (?:to (?:book|schedule)|us to "
                           r"(?:send|come))|shall i (?:set (?:that|one) up|book)|want (?:me|us) to (?:book|send|schedule)|"
                           r"like to book)\b[^.?!]*[.?!]?\s*$", re.I)
#: A side question we cannot answer while collecting: (for a message, before a transfer).
#: A question that asks us to come at a time or place ("can someone come tomorrow?", "how about friday?").
_COME_ASKED = re.compile(r"\b(?:can|could|would|will) (?:you|someone|somebody|anyone|they|y'?all|(?:a|the|your) \w+)"
                         r"(?: guys)? (?:come|make it|be (?:here|there|out)|get (?:here|there|out)|send|stop by|swing by|"
                         r"drop by)\b|^\W*(?:ok(?:ay)?\W+)?(?:how|what) about\b", re.I)
WHEN_LINE = "Got it, I'll let the team know {when} works for you. {prompt}"
WHEN_VISIT_LINE = "Got it, I'll let the team know you'd like {visit}. {prompt}"
UNANSWERED_SIDE_LINES = (("I'll pass that on so the team can answer it when they call you back. {prompt}",
                          "I'll make sure the team answers that when they call you back. {prompt}"),
                         ("The team can answer that as soon as I put you through. {prompt}",
                          "I'll connect you with the team in a moment, and they can help with that. {prompt}"))
#: A question of when we could come ("how soon could you get out here?"): it takes up the offer of a visit.
_WHEN_COMING = re.compile(r"\b(?:how soon|earliest|soonest|how quickly|how fast|next available|availab(?:le|ility)|"
                          r"when (?:can|could|would|will|do) (?:you|someone|somebody|they|y'?all)|"
                          r"(?:get|come|be) (?:out|over) (?:here|there|today|tomorrow))\b", re.I)
#: The same, asked before the caller took up our offer of a visit or of a call back (nothing promised yet).
OFFER_SIDE_LINES = ("The team can go over that with you at the visit. {reoffer}",
                    "That's a good question for our team. Would you like them to call you back about it?")
ASSENT_LINES = ("Great. {prompt}", "Thanks. {prompt}")
#: Our booking reply asked about the people at home ("... and is anyone in the home vulnerable to the cold?").
ASKED_PEOPLE = re.compile(r"\b(?:vulnerable|anyone (?:in the home|at home|there) (?:who|with))\b", re.I)
#: A reply that offers to take a message and asks for the address ("Could I get your name and address?").
ASKS_ADDRESS = re.compile(r"\baddress\b[^.?!]*\?\s*$", re.I)
#: The answer to that part of the question, then the rest of it again.
PEOPLE_NO_LINE = "Okay, good. {prompt}"
PEOPLE_YES_LINE = "Thanks for telling me, I'll make sure the technician knows. {prompt}"
#: Asked where and when to come, the caller told us something else ("it just died"): noted, and asked again.
VISIT_NOTED_LINE = "Got it, I'll pass that on to the technician. {prompt}"
#: ... or said it can wait ("it's not an emergency").
NOT_URGENT_LINE = "Okay, good to know. {prompt}"
NOT_URGENT = re.compile(r"\bnot (?:an? |really )?(?:emergency|urgent)|\bno (?:emergency|rush|hurry)\b|\bnothing urgent\b|"
                        r"\bit can wait\b", re.I)
#: ... or insisted on the visit ("just send someone already").
VISIT_SOON_LINE = "Let's get someone out to you. {prompt}"
SEND_SOMEONE = re.compile(r"\b(?:send|get) (?:someone|somebody|a tech\w*|a guy|anyone)\b|\bcome out\b|"
                          r"\b(?:have|get|want|need|rather|prefer) (?:someone|somebody|a pro(?:fessional)?|a plumber|"
                          r"an electrician|a tech\w*|you(?: guys)?) (?:to )?(?:come|look|check|take a look|see|fix|handle)\b",
                          re.I)
FAILED_DIALS = {"busy", "no-answer", "failed", "canceled", "leave", "queue-full", "error", "system-error"}


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


def _assent_line(session: Mapping[str, Any], ctx: TurnContext, prompt: str, *, name: str = "") -> str:
    """ "Great. <question>" or "Thanks. <question>" ("Thanks, Sam. <question>" with the caller's ``name``): never
    the same opener as the reply just before."""
    last = last_reply(session)
    first = ctx.variation % len(ASSENT_LINES)
    turns = [ASSENT_LINES[(first + k) % len(ASSENT_LINES)] for k in range(len(ASSENT_LINES))]
    if name:
        turns = [line.replace(".", f", {name}.", 1) for line in turns]
    return next((line for line in turns if not last.startswith(line.split(" ")[0])), turns[0]).format(prompt=prompt)


def _routed_intent(pol: policy.CompiledPolicy, routing: policy.Routing) -> str | None:
    """The intent of the transfer rule the words matched ("emergency", "general" ...), or None."""
    rule = next((pol.runtime.transfer_by_id.get(b["id"]) for b in routing.turn.blocks
                 if b["type"] == "TRANSFER_RULE"), None)
    return rule.intent if rule is not None else None


def _name_instead(text: str, state: Mapping[str, Any], session: Mapping[str, Any]) -> dict[str, str] | None:
    """A name said when asked for something else ("Amy Chen", "it's Amy Chen"), when a name is still to be asked
    in this collection: the entity and the name; None when the words are not plainly a name."""
    person = next((e["name"] for e in state["entities"][state["index"] + 1:] if e.get("type") == "PERSON"), None)
    if person is None or person in (session.get("collected") or {}):
        return None
    name = strip_lead_in(text).strip(" .,!?")
    words = name.split()
    if not 1 <= len(words) <= 3 or not all(w.replace("-", "").replace("'", "").isalpha() for w in words) \
            or not known_first_name(words[0]) or not_a_name(name) or collect.gives_visit(text) or acts.when_said(text):
        return None
    return {"entity": person, "value": " ".join(w[:1].upper() + w[1:] for w in words)}


def _keep(session: dict[str, Any], given: Mapping[str, Any]) -> None:
    """Details the caller gave before we asked join what the call has collected."""
    if given:
        session["collected"] = {**(session.get("collected") or {}), **given}


def _given(text: str, region: str, *, understood: bool = False) -> dict[str, Any]:
    """The name, number and message a caller gave in the words that started a message: the message they
    asked to leave ("call me back about my furnace"), or, ``understood`` by a scenario that answers it with a
    message, the request itself ("I need a quote for a panel upgrade")."""
    given: dict[str, Any] = given_in(text, list(collect.MESSAGE_ENTITIES), region) if text else {}
    message = (message_in(text, region) or (message_in(text, region, request=False) if understood else None)
               ) if text else None
    if message:
        given["message"] = message
    return given


def _without_question(text: str) -> str:
    """A side answer without the question it ends on ("I can help you book a visit. What day works best?"):
    our own question comes next, and two questions in one breath leave a caller unsure which to answer."""
    sentences = split_sentences(text)
    while len(sentences) > 1 and sentences[-1].endswith("?"):
        sentences.pop()
    return " ".join(sentences)


#: Our own questions in other words, for the same detail asked again on a later turn after the caller said
#: something else instead (a side question, a statement, an "ok"): the same sentence three times running sounds
#: like a machine.
REASKED = {"PERSON": ("And what's your name?", "Could I get your name?"),
           "PHONE": ("And what's a good number to call you back on?", "What number should the team call?"),
           "message": ("So, what would you like me to tell the team?", "What should I pass along?"),
           "visitDetails": ("So, what's the address, and when is a good time to come by?",
                            "Where should we come, and when works for you?")}
_OWN_PROMPTS = frozenset([*collect.DEFAULT_PROMPTS.values(),
                          *(e["prompt"] for e in (*collect.MESSAGE_ENTITIES, *collect.BOOKING_ENTITIES))])


def _asked(pol: policy.CompiledPolicy, ctx: TurnContext, state: dict[str, Any], *, again: bool = False) -> str:
    """The question for the detail being collected, as the caller hears it. ``again``: asked once more after
    something the caller said instead of answering (a side question, a statement, an "ok"): our own question
    then comes in other words when it was already asked on an earlier turn (a company's own wording is kept;
    after silence or an answer that did not fit, the same question is asked again, as a person would).
    Notes in ``state`` which detail was asked on which turn."""
    spec = collect.current(state)
    question = collect.prompt_of(spec)
    seen = state.get("asked") or {}
    times = 0
    if seen.get("i") == state["index"]:
        times = int(seen.get("n", 0)) + (seen.get("v") != ctx.variation)
    state["asked"] = {"i": state["index"], "v": ctx.variation, "n": times}
    other = REASKED.get(spec["name"]) or REASKED.get(spec.get("type", ""))
    if again and times and question in _OWN_PROMPTS and other:
        question = other[(times - 1) % len(other)]
    return policy.speak(pol, question, ctx, caller_spoke=False)


def _clipped(text: str, most: int) -> str:
    """At most ``most`` characters of a long message for the read-back, ending on a whole word (never "under
    warran"), without a dangling "and", "but" or comma; the whole message is still stored and sent."""
    if len(text) <= most:
        return text
    cut = text[:most].rsplit(" ", 1)[0]
    return re.sub(r"(?:[\s,;:-]+(?:and|but|or|so|like|the|a|an|is|that|of|to|with|under))*[\s,;:.-]*$", "", cut,
                  flags=re.I)


def _reoffer(session: Mapping[str, Any]) -> str:
    """The offer of a visit asked again, in other words than the last time it was asked."""
    last = last_reply(session)
    return next(line for line in (*BOOKING_REOFFERS, BOOKING_REOFFERS[0]) if not last.endswith(line))


def _visit_said(details: str, address: Any) -> str | None:
    """The visit's phrase for the read-back, or None (no details, or too long to say as a phrase)."""
    phrase = visit_phrase(details, str(address) if address else None) if details.strip() else None
    return phrase if phrase and len(phrase) <= 200 else None


def read_back(state: Mapping[str, Any], collected: Mapping[str, Any]) -> str:
    """What was collected, read back: "your name as Ann Lee, your number as 5 1 2, ..."; a visit's details as a
    person says them ("a visit tomorrow morning at 12 Oak Street"), with the address asked on its own."""
    parts = []
    names = [e["name"] for e in state["entities"]]
    address = collected.get("address") if "address" in names else None
    visit = _visit_said(str(collected.get("visitDetails") or ""), address) if "visitDetails" in names else None
    if visit is None and address:
        visit = _visit_said(str(collected.get("visitDetails") or ""), None)
        address = None  # the address could not go into the phrase: it is read back on its own
    for spec in state["entities"]:
        value = collected.get(spec["name"])
        if value in (None, ""):
            continue
        if visit and spec["name"] == "visitDetails":
            parts.append(visit)
            continue
        if visit and address and spec["name"] == "address":
            continue  # said in the visit's phrase
        if spec.get("type") == "TEXT" and spec["name"] in ("message", "visitDetails"):
            parts.append(f"your {label(spec['name'])}: {said_back(_clipped(str(value), 160))}")
        else:
            parts.append(f"your {label(spec['name'])} as {spoken(value)}")
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Just to confirm, I have {listed}. Is that right?"


def side_answer(pol: policy.CompiledPolicy, routing: policy.Routing, answer: Any, ctx: TurnContext) -> Decision | None:
    """A question asked while we collect ("are you open Saturday?"), answered when the scenarios know
    (an answer that gives information, not one that starts something else)."""
    if answer.tier not in ("1", "2") or answer.action not in (None, "PROVIDE_HOURS", "PROVIDE_PRICING"):
        return None
    return policy.finish(pol, routing, BaseResponse(answer.text, None, f"scenario:{answer.scenario}"), ctx)


def is_confirming(state: Mapping[str, Any] | None) -> bool:
    """Whether the caller is being asked to confirm something (a read-back or a name)."""
    return bool(state and (state.get("readback") or state.get("confirm")))


class Dialogue:
    """Entity collection and message taking."""

    def __init__(self, call_log: CallLog, notifier: Notifier, *, clock: Callable[[], float]) -> None:
        self.messages = Messages(call_log, notifier, clock=clock)

    # -- asking

    def ask(self, pol: policy.CompiledPolicy, ctx: TurnContext, state: Mapping[str, Any], before: str = "",
            *, base: Decision | None = None, again: bool = False) -> Decision:
        """Say ``before`` (if any), then the question for the current entity (``again``: see ``_asked``); listen
        again."""
        question = _asked(pol, ctx, state, again=again)
        text = f"{before} {question}".strip() if before else question
        if base is not None:
            return replace(base, action="RESPOND", response=text, transfer_target=None, transfer_phone=None,
                           transfer_queue=None, transfer_sip=None, collect_entities=())
        return Decision(action="RESPOND", response=text)

    def reprompt(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: Mapping[str, Any],
                 before: str) -> Decision:
        """Ask again whatever is pending (the question, the name check or the read-back) after ``before``."""
        state = session["collect"]
        if state.get("readback"):
            return Decision(action="RESPOND", response=f"{before} {read_back(state, session.get('collected') or {})}")
        if state.get("confirm") == "name":
            name = (session.get("collected") or {}).get(collect.current(state)["name"], "")
            line = policy.speak(pol, CONFIRM_NAME_LINE.format(name=name), ctx, caller_spoke=False)
            return Decision(action="RESPOND", response=f"{before} {line}")
        if state.get("offered") and state["index"] == 0:
            # Silence after "Would you like a plumber to take a look?": that question again, not the next one
            # (silence is no yes).
            offer = next((q for q in reversed(split_sentences(last_reply(session))) if q.endswith("?")), None)
            if offer:
                return Decision(action="RESPOND", response=f"{before} {offer}")
        return self.ask(pol, ctx, state, before)

    def maybe_collect(self, pol: policy.CompiledPolicy, decision: Decision, session: dict[str, Any],
                      ctx: TurnContext, text: str = "", *, understood: bool = False) -> Decision:
        """Start collecting when a transfer needs entities, when a booking reply asks for the visit's details,
        or when the answer offers to take a message. Details already given in ``text`` (the words that asked
        for it) are not asked again; when a scenario ``understood`` them, a request it answers by taking a
        message ("I need a quote for a panel upgrade") is the message."""
        confirm = "CONFIRM_ENTITIES" in pol.runtime.behavior.flags
        region = region_of(session.get("to"))
        if decision.action == "TRANSFER" and decision.collect_entities:
            _keep(session, given_in(text, [dict(e) for e in decision.collect_entities], region) if text else {})
            state = collect.start("transfer", decision.collect_entities, session.get("collected") or {},
                                  transfer={**(decision.transfer or {}), "script": decision.response},
                                  confirm=confirm)
            if state is not None:
                session["collect"] = state
                return self.ask(pol, ctx, state, decision.response, base=decision)
        if decision.action != "RESPOND" or any(b.get("type") == "ACTION_BLOCKED" for b in decision.applied_blocks):
            return decision
        if decision.proposed_action == "BOOK_APPT" and decision.response.rstrip().endswith("?"):
            # The booking reply asked for the address or a time: take the answer, then who to call back,
            # and pass the visit request to the team (it is stored and texted like a message).
            state = collect.start("message", collect.BOOKING_ENTITIES, {}, reason="booking", confirm=confirm)
        elif decision.proposed_action == "TAKE_MESSAGE":
            # "Hi, this is Mike from ...": a name (or number) given in the same words is not asked again.
            # What a caller described or asked that no scenario knows ("my upstairs is really hot and downstairs
            # is fine") is what the team needs to hear: the message, not asked for again.
            given = _given(text, region, understood=understood or len(text.split()) >= 4)
            # "Could I get your name and address?": the address is asked too (after the name).
            entities = collect.MESSAGE_WITH_ADDRESS if ASKS_ADDRESS.search(decision.response) else collect.MESSAGE_ENTITIES
            state = collect.start("message", entities, given, reason="caller", confirm=confirm)
            if state is not None and given:
                _keep(session, given)
                if state.get("readback"):  # name, number and message all said: read them back instead
                    return replace(decision, response=f"{_without_question(decision.response)} "
                                                      f"{read_back(state, session.get('collected') or {})}")
                decision = self._thank_for_name(pol, ctx, decision, state, given)
        else:
            return decision
        if state is not None:
            state["offered"] = True  # the reply already asked; the caller may still ask something else instead
            if decision.response.rstrip().endswith(collect.prompt_of(collect.current(state))):
                state["asked"] = {"i": state["index"], "v": ctx.variation, "n": 0}  # our question, asked once
            session["collect"] = state
        return decision

    @staticmethod
    def _thank_for_name(pol: policy.CompiledPolicy, ctx: TurnContext, decision: Decision,
                        state: Mapping[str, Any], given: Mapping[str, Any]) -> Decision:
        """The offer of a message ends by asking the name the caller just gave: thank them and ask what is next."""
        asked = collect.prompt_of(collect.MESSAGE_ENTITIES[0])
        if not given.get("name") or not decision.response.rstrip().endswith(asked):
            return decision
        nxt = _asked(pol, ctx, state)
        thanks = f"Thanks, {str(given['name']).split()[0]}. {nxt}"
        return replace(decision, response=decision.response.rstrip()[:-len(asked)] + thanks)

    def accepted_visit(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: dict[str, Any], text: str,
                       last_said: str | None) -> Decision | None:
        """ "Yes please" to our offer of a visit ("If it's still not working, I can book a technician for
        you."): ask for the visit's details, then who to call back. None when that is not what happened.
        "Never mind, I replaced the batteries and it works" instead: no visit, and glad to hear it."""
        if last_said and BOOKING_OFFER.search(last_said) and acts.resolved(text):
            session["anything_else"] = True
            return Decision(action="RESPOND", response=policy.speak(pol, RESOLVED_LINE, ctx))
        if not (acts.is_yes(text) or acts.is_assent(text) or acts.YES_FIRST.match(text)) or acts.is_question(text):
            return None
        if not last_said or not BOOKING_OFFER.search(last_said) or "BOOK_APPT" not in pol.runtime.allowed:
            return None
        if acts.only_thanks(text):
            return Decision(action="RESPOND", response=policy.speak(pol, THANKS_OFFER_LINE, ctx))
        state = collect.start("message", collect.BOOKING_ENTITIES, {}, reason="booking",
                              confirm="CONFIRM_ENTITIES" in pol.runtime.behavior.flags)
        if state is None:
            return None
        session["collect"] = state
        return self.ask(pol, ctx, state, "Great.")

    def start_message(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: dict[str, Any], before: str,
                      *, reason: str, transfer: Mapping[str, Any] | None = None, text: str = "") -> Decision:
        """Switch to taking a message (asked for, after a failed transfer, or after failed collection); what the
        caller said in the words that asked for it (``text``: their name, number, the message) is not asked."""
        confirm = "CONFIRM_ENTITIES" in pol.runtime.behavior.flags
        _keep(session, _given(text, region_of(session.get("to"))) if text else {})
        state = collect.start("message", collect.MESSAGE_ENTITIES, session.get("collected") or {}, reason=reason,
                              transfer=transfer, confirm=confirm)
        if state is None:
            return self.messages.finish(pol, ctx, session, {"reason": reason, "transfer": transfer})
        session["collect"] = state
        before = policy.speak(pol, before, ctx, caller_spoke=False)
        if state.get("readback"):
            return self.reprompt(pol, ctx, session, before)
        return self.ask(pol, ctx, state, before)

    def what_we_are(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: dict[str, Any],
                    routing: policy.Routing) -> Decision | None:
        """ "Am I talking to a real person?": said honestly, with the way to a person open, and the question we
        were asking asked again; None when a company's own edge case or an emergency rule takes the words."""
        if routing.edge_case or _routed_intent(pol, routing) == "emergency":
            return None
        line = policy.speak(pol, MACHINE_LINE, ctx, caller_spoke=False)
        state = session.get("collect")
        if state and not is_confirming(state) and state["index"] < len(state["entities"]):
            return Decision(action="RESPOND", response=f"{line} {_asked(pol, ctx, state, again=True)}")
        return Decision(action="RESPOND", response=f"{line} How can I help you today?")

    def requested(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: dict[str, Any],
                  routing: policy.Routing, text: str) -> Decision | None:
        """The caller asks to leave a message, or for a person when none can be reached: say so honestly
        and take a message (an emergency or an edge case still comes first); None otherwise."""
        if routing.edge_case or "TAKE_MESSAGE" not in pol.runtime.allowed:
            return None
        if _routed_intent(pol, routing) == "emergency":
            return None
        person = not routing.decided and acts.WANTS_PERSON.search(text) and not acts.LINE_CHECK.match(text)
        if not person and acts.wants_message(text):
            return self.start_message(pol, ctx, session, MESSAGE_START_LINE, reason="caller", text=text)
        if not person and not routing.decided and acts.missed_callback(text):
            # "You guys never called me back about my water heater": the call back they are owed, this time.
            return self.start_message(pol, ctx, session, CALLBACK_AGAIN_LINE, reason="missed_callback", text=text)
        if not person and not routing.decided and acts.missed_visit(text):
            # "Nobody showed up yesterday": a person puts it right (the company's rule for rescheduling, else the
            # general one); with neither, the call back they are owed is taken as a message.
            for request in ("reschedule my appointment", "talk to a person"):
                to = policy.route(pol, request, ctx)
                if to.decided and to.turn.action == "TRANSFER":
                    decision = policy.finish(pol, to, BaseResponse(""), ctx)
                    decision = replace(decision, response=f"{policy.speak(pol, MISSED_VISIT_LINE, ctx)} "
                                                          f"{manners.without_ack(decision.response)}")
                    return self.maybe_collect(pol, decision, session, ctx, text)
            return self.start_message(pol, ctx, session, f"{MISSED_VISIT_LINE} {CALLBACK_AGAIN_LINE}",
                                      reason="missed_visit", text=text)
        if person:
            # Asked in words the general rule does not list ("speak with the owner"): read as the request
            # it is, so a company that can connect does; one that cannot says so honestly.
            person = policy.route(pol, "talk to a person", ctx)
            if person.decided and person.turn.action == "TRANSFER":
                return self.maybe_collect(pol, policy.finish(pol, person, BaseResponse(""), ctx), session, ctx, text)
            return self.start_message(pol, ctx, session, PERSON_OFFER_LINE, reason="asked_for_person", text=text)
        return None

    # -- one answer

    def collect_turn(self, pol: policy.CompiledPolicy, session: dict[str, Any], text: str, ctx: TurnContext,
                     routing: policy.Routing, answer: Callable[[], Any],
                     side: Callable[[], Decision | None]) -> Collected | None:
        """The caller answered while we collect; None hands the turn back to the normal flow.

        ``routing`` is the engine's reading of the words: an edge case still comes first (abuse,
        emergencies ...), and so does an emergency transfer rule; other transfer rules do not, since an
        answer like "it's Bill" must not open the billing line. ``answer`` gives the scenarios' answer (asked only when needed);
        ``side`` answers a side question ("are you open Saturday?") before the question resumes.
        """
        state = session["collect"]
        note: dict[str, Any] = {"purpose": state["purpose"], "entity": collect.current(state)["name"]
                                if state["index"] < len(state["entities"]) else "readback"}
        if routing.edge_case:
            edge = policy.finish(pol, routing, BaseResponse(""), ctx)
            note["events"] = ["edge_case"]
            if edge.action in ("HANGUP", "TRANSFER") or is_confirming(state):
                session.pop("collect", None)
                return Collected(edge, False, note)
            return Collected(self.ask(pol, ctx, state, edge.response, base=edge), False, note)
        if urgency.is_emergency(pol, routing):
            # "There's water pouring through the ceiling now" (or "we have a baby at home" after "the AC died")
            # while we ask for a name: the company's emergency rule connects them, whatever we were asking.
            session.pop("collect", None)
            note["events"] = ["emergency"]
            return Collected(policy.finish(pol, routing, BaseResponse(""), ctx), False, note)
        if not is_confirming(state) and state.get("offered") and state["index"] == 0 and acts.resolved(text):
            # "Never mind, I replaced the batteries and it works" to "Would you like to book a visit?"
            note["events"] = ["declined", "resolved"]
            session.pop("collect", None)
            session["anything_else"] = True
            return Collected(Decision(action="RESPOND", response=policy.speak(pol, RESOLVED_LINE, ctx)), False, note)
        if state.get("reason") == "booking" and state.get("offered") and state["index"] == 0 \
                and not is_confirming(state) and acts.only_thanks(text):
            # "Ok cool, thanks" to "Would you like to book a visit?": thanked, but not yet a yes.
            note["events"] = ["thanks"]
            return Collected(Decision(action="RESPOND", response=policy.speak(pol, THANKS_OFFER_LINE, ctx)), False, note)
        if state.get("offered") and state["index"] == 0 and not is_confirming(state) and acts.read(text).kind == "closing":
            # "Ok thanks, that's all" (or "that's all I needed") to "Would you like a technician to come take a look?":
            # no visit and no message, and goodbye.
            note["events"] = ["declined", "closing"]
            session.pop("collect", None)
            return Collected(manners.closing(pol, ctx), False, note)
        if state.get("reason") == "booking" and not is_confirming(state) and state["index"] < len(state["entities"]) \
                and collect.current(state)["name"] == "visitDetails" \
                and (not acts.is_question(text) or (_COME_ASKED.search(text) and collect.gives_visit(text))):
            # ("Can someone come tomorrow?" answers when, as a question: the address is asked next. "Are you open
            # on Saturday?" does not.)
            visit = self._visit(pol, session, text, ctx, state, note)
            if visit is not None:
                return visit
        rest = None if is_confirming(state) else acts.declined_then(text)
        if rest and not collect.declines(rest) and not acts.read(rest).kind:
            note["events"] = ["declined"]
            session.pop("collect", None)  # "never mind, what are your hours": the rest is a new question
            return None
        if not is_confirming(state) and collect.declines(text):
            note["events"] = ["declined"]
            session.pop("collect", None)
            session["anything_else"] = True
            return Collected(Decision(action="RESPOND", response=policy.speak(pol, DECLINED_LINE, ctx)), False, note)
        if (state.get("reason") == "booking" and state.get("offered") and state["index"] == 0 and routing.decided
                and routing.turn.action == "TRANSFER"):
            # "Can I just book with someone?": a rule of the company connects them (to scheduling ...).
            session.pop("collect", None)
            return None
        if state.get("offered") and state["index"] == 0 and not acts.is_assent(text) and (
                state.get("reason") != "booking" or acts.is_question(text)):
            # (an answer to a booking question is the visit's details, whatever scenario its words suggest)
            other = answer()
            if other.tier in ("1", "2") and other.action not in ("TAKE_MESSAGE", "BOOK_APPT"):
                told = side() if state.get("reason") == "booking" else None
                if told is not None:
                    # "How much is the visit?" to "Would you like to book one?": answered, and the offer stands
                    # (the caller's "Tuesday at 12 Main Street" next is the visit, not a new question).
                    note["events"] = ["side_question"]
                    return Collected(replace(told, response=f"{_without_question(told.response)} {_reoffer(session)}"),
                                     False, note)
                told = side() if other.action == "PROVIDE_PRICING" or other.matched == "follow-up" else None
                if told is not None:
                    # "How much does that usually run?" to "May I have your name?" (the office's call back offered):
                    # answered, and the offer asked again; the name next is still taken.
                    note["events"] = ["side_question"]
                    return Collected(replace(told, response=f"{_without_question(told.response)} {MESSAGE_REOFFER}"),
                                     False, note)
                session.pop("collect", None)  # they asked something else instead of leaving a message
                return None
        offered = state.pop("offered", None) and state["index"] == 0 and not is_confirming(state)
        if offered and acts.YES_FIRST.match(text) \
                and collect.current(state).get("type") == "PERSON" and not collect.could_answer(state, text):
            # "Yes, the breakers look fine" to "Would you like the office to call you?": a yes, not a name.
            prompt = _asked(pol, ctx, state, again=True)
            note["events"] = ["assent"]
            return Collected(Decision(action="RESPOND", response=_assent_line(session, ctx, prompt)), False, note)
        if acts.WANTS_PERSON.search(text) and not is_confirming(state):
            return Collected(self._person(pol, session, state, ctx, routing), False, {**note, "events": ["wants_person"]})
        confirming = is_confirming(state)
        when = acts.when_said(text) if not confirming and collect.current(state).get("type") == "PERSON" else None
        if when and not collect.could_answer(state, text):
            # "Thursday, I guess" when asked for a name: a time for the visit, noted for the team; the name next.
            session["when"] = when
            if re.search(r"\d", text):
                # "3 Oak Lane, next Monday morning": the address said with it is passed on too, not lost.
                session["notes"] = (list(session.get("notes") or []) + [text.strip()[:200]])[-5:]
            prompt = _asked(pol, ctx, state, again=True)
            note["events"] = ["when"]
            # "It's 77 palm lane, any weekday morning": said back whole, as a person would ("... you'd like a visit
            # any weekday morning at 77 Palm Lane"), when it can be said that way; else the time alone.
            visit = _visit_said(text, None) if collect.gives_place(text) else None
            line = WHEN_VISIT_LINE.format(visit=visit, prompt=prompt) if visit else \
                WHEN_LINE.format(when=when, prompt=prompt)
            return Collected(Decision(action="RESPOND", response=line), False, note)
        # ("Why do you need my name?" is about our question: answered with it, below.)
        asking = not confirming and acts.is_question(text) and not collect.WHY_ASKED.search(text)
        fits = asking and collect.could_answer(state, text)
        if fits and collect.current(state).get("type", "TEXT") == "TEXT":
            other = answer()
            # "Are you open Saturday?" when asked for the message: a question about hours is answered
            # (one for the team, "can you tell Bob if the part came in?", is the message). Asked when and where
            # to come, a question the scenarios know ("can I get a quote for a new furnace too?") is not the
            # visit's details; one that says a day, a time or a number ("can you come Tuesday?") is.
            # ("What's the earliest you could come?" says neither when nor where: a question, not the details.)
            fits = other.action != "PROVIDE_HOURS" and not (
                collect.current(state)["name"] == "visitDetails" and not acts.when_said(text)
                and not re.search(r"\d", text) and not collect.gives_place(text))
        if asking and not fits:
            other = side()
            if other is not None:
                lines = BOOKING_RESUME_LINES if state.get("reason") == "booking" else RESUME_LINES
                resume = lines[ctx.variation % len(lines)]
                prompt = re.sub(r"^(?:and|so),?\s+", "", lower_first(_asked(pol, ctx, state, again=True)))
                note["events"] = ["side_question"]
                return Collected(replace(other, response=f"{_without_question(other.response)} "
                                                         f"{resume.format(prompt=prompt)}"), False, note)
            # A question we have no answer for ("what's your earliest appointment?"): the team answers
            # it; it is not a wrong answer to our question, so no retry is counted.
            note["events"] = ["side_question_for_team"]
            session["questions"] = (list(session.get("questions") or []) + [text.strip()[:200]])[-5:]
            if offered and not _WHEN_COMING.search(text):
                # ("How long do those usually last?" to "Would you like a plumber to take a look?": no yes yet, so
                # no promise of a call back, and the offer asked again.)
                booking = state.get("reason") == "booking"
                line = OFFER_SIDE_LINES[0].format(reoffer=_reoffer(session)) if booking else OFFER_SIDE_LINES[1]
                return Collected(Decision(action="RESPOND", response=line), False, note)
            prompt = _asked(pol, ctx, state, again=True)
            lines = UNANSWERED_SIDE_LINES[state["purpose"] == "transfer"]
            line = lines[ctx.variation % len(lines)]
            return Collected(Decision(action="RESPOND", response=line.format(prompt=prompt)), False, note)
        return self._step(pol, session, text, ctx, state, note)

    def _visit(self, pol: policy.CompiledPolicy, session: dict[str, Any], text: str, ctx: TurnContext,
               state: dict[str, Any], note: dict[str, Any]) -> Collected | None:
        """The answer to "What's the address, and when ...?": the details without a yes or no in front ("yeah,
        come tomorrow morning"); asked about the people at home too, a no or a yes about them is answered and the
        address asked again ("no, nobody vulnerable, just me"); something else said instead ("it just died") is
        noted for the technician and the address asked again, once. None: the usual steps take the words."""
        if collect.no_longer_wanted(text) and not collect.gives_visit(text):
            # "Uh no wait, actually it's working again, never mind": no visit, and nothing to note.
            note["events"] = ["declined"]
            session.pop("collect", None)
            session["anything_else"] = True
            line = RESOLVED_LINE if acts.resolved(text) else DECLINED_LINE
            return Collected(Decision(action="RESPOND", response=policy.speak(pol, line, ctx)), False, note)
        last = last_reply(session)
        people = bool(ASKED_PEOPLE.search(last))
        said, rest = collect.visit_answer(text, people=people)
        if rest and collect.gives_visit(rest):
            if said == "yes" and people and rest != text.strip(" ,."):
                session["notes"] = (list(session.get("notes") or []) + [text.strip()[:200]])[-5:]
            when = None
            if not collect.gives_place(rest) and not any(e["name"] == "address" for e in state["entities"]):
                # "Yeah, come tomorrow morning": when, but not where; the address is asked next.
                state["entities"].insert(state["index"] + 1, dict(collect.ADDRESS_ENTITY))
                when = acts.when_said(rest)

            taken = self._step(pol, session, rest, ctx, state, note)
            asked = collect.prompt_of(collect.ADDRESS_ENTITY)
            if when and taken.decision.action == "RESPOND" and taken.decision.response == asked:
                taken.decision = replace(taken.decision, response=f"Got it, {when}. {asked}")
            return taken
        if people and said and not rest and not acts.leaving(text):
            # "No" (or "yeah, my mom lives with us" without an emergency) to the question about the people at home.
            if said == "yes":
                session["notes"] = (list(session.get("notes") or []) + [text.strip()[:200]])[-5:]
            note["events"] = [f"people:{said}"]
            line = PEOPLE_YES_LINE if said == "yes" else PEOPLE_NO_LINE
            return Collected(Decision(action="RESPOND", response=line.format(prompt=_asked(pol, ctx, state))),
                             False, note)
        name = _name_instead(text, state, session)
        if name:
            # "Amy Chen" when asked where and when: the name we ask next, taken now; where and when asked again.
            _keep(session, {name["entity"]: name["value"]})
            note["events"] = ["name_first"]
            line = f"Thanks, {name['value'].split()[0]}. {_asked(pol, ctx, state, again=True)}"
            return Collected(Decision(action="RESPOND", response=line), True, note)
        words = rest or text
        if (said == "yes" and not rest) or int(state.get("statements", 0)) >= 1 or len(words.split()) < 2 \
                or collect.declines(text) or acts.declined_then(text) or acts.read(text).kind \
                or acts.WANTS_PERSON.search(text) or acts.WANTS_MESSAGE.search(text) or acts.when_said(text):
            return None
        state["statements"] = int(state.get("statements", 0)) + 1
        note["events"] = ["statement"]
        if acts.read(text).upset or SEND_SOMEONE.search(text):
            # "This is ridiculous, just send someone already": the visit is what they want; no note for it.
            line = VISIT_SOON_LINE
        else:
            session["notes"] = (list(session.get("notes") or []) + [text.strip()[:200]])[-5:]
            line = NOT_URGENT_LINE if NOT_URGENT.search(text) else VISIT_NOTED_LINE
        return Collected(Decision(action="RESPOND", response=line.format(prompt=_asked(pol, ctx, state))), False, note)

    def _person(self, pol: policy.CompiledPolicy, session: dict[str, Any], state: Mapping[str, Any],
                ctx: TurnContext, routing: policy.Routing) -> Decision:
        """The caller asks for a person while we collect: connect when we can, say honestly when not."""
        if state["purpose"] == "transfer":
            session.pop("collect", None)
            return self.finish_transfer(pol, ctx, session, state["transfer"], read_back=False)
        if routing.decided and routing.turn.action == "TRANSFER":
            session.pop("collect", None)
            return policy.finish(pol, routing, BaseResponse(""), ctx)
        failed = state.get("reason") in FAILED_DIALS
        line = policy.speak(pol, PERSON_FAILED_LINE if failed else PERSON_NONE_LINE, ctx, caller_spoke=False)
        return self.ask(pol, ctx, state, line)

    def _step(self, pol: policy.CompiledPolicy, session: dict[str, Any], text: str, ctx: TurnContext,
              state: Mapping[str, Any], note: dict[str, Any]) -> Collected:
        """Take the words as the answer to the current question (or a correction of the last one)."""
        step = collect.answer(state, text, session.get("collected") or {}, now=ctx.company.local(ctx.now),
                              region=region_of(session.get("to")), known_name=known_name, caller=session.get("from"))
        session["collected"] = step.collected
        note["events"] = step.events
        if "statement" in step.events:  # passed on with the message
            session["notes"] = (list(session.get("notes") or []) + [text.strip()[:200]])[-5:]
        if step.kind in ("ask", "confirm", "spell", "readback", "which"):
            session["collect"] = step.state
            return Collected(self._question(pol, ctx, step, session), step.changed, note)
        session.pop("collect", None)
        if step.kind == "to_message":
            decision = self.start_message(pol, ctx, session, TO_MESSAGE_LINE, reason="collection_failed",
                                          transfer=state.get("transfer"))
            return Collected(decision, step.changed, note)
        confirmed = "confirmed" in step.events
        if state["purpose"] == "transfer":
            return Collected(self.finish_transfer(pol, ctx, session, state["transfer"], read_back=not confirmed),
                             step.changed, note)
        return Collected(self.messages.finish(pol, ctx, session, state, read_back=not confirmed), True, note)

    def _question(self, pol: policy.CompiledPolicy, ctx: TurnContext, step: collect.Step,
                  session: Mapping[str, Any]) -> Decision:
        """What to say when the collection goes on: the next question, a check, or the read-back."""
        state = step.state or {}
        if step.kind == "confirm":
            return Decision(action="RESPOND", response=policy.speak(pol, CONFIRM_NAME_LINE.format(name=step.text), ctx,
                                                                    caller_spoke=False))
        if step.kind == "spell":
            return Decision(action="RESPOND", response=policy.speak(pol, SPELL_LINE, ctx, caller_spoke=False))
        if step.kind == "readback" and ({"added:message", "statement", "callback"} & set(step.events)):
            return Decision(action="RESPOND", response=step.text)
        if step.kind == "readback" and ({"corrected:visitDetails", "corrected:address"} & set(step.events)):
            # "No, the address is 14 Oak Street": the visit said again as it now is, not the whole read-back.
            names = [e["name"] for e in state.get("entities", ())]
            collected = session.get("collected") or {}
            visit = _visit_said(str(collected.get("visitDetails") or ""),
                                collected.get("address") if "address" in names else None)
            if visit:
                return Decision(action="RESPOND", response=VISIT_CORRECTED_LINE.format(visit=visit))
        if step.kind == "readback":
            before = "Got it. " if any(e.startswith("corrected:") for e in step.events) else (
                "No problem. " if any(e.startswith("withheld:") for e in step.events) else "")
            return Decision(action="RESPOND", response=before + read_back(state, session.get("collected") or {}))
        if step.kind == "which":
            fields = [f"your {label(e['name'])}" for e in state["entities"]]
            listed = fields[0] if len(fields) == 1 else ", ".join(fields[:-1]) + " or " + fields[-1]
            return Decision(action="RESPOND", response=WHICH_LINE.format(fields=listed))
        if "reprompt" in step.events:  # the validation prompt is the whole question
            return Decision(action="RESPOND", response=policy.speak(pol, step.text, ctx, caller_spoke=False))
        if "name_again" in step.events:
            # "Yes that's right, Lee" asked for the number: thanked by name, and the number asked in other words.
            person = next((e["name"] for e in state.get("entities", ()) if e.get("type") == "PERSON"), "")
            first = str((session.get("collected") or {}).get(person) or "").split()[:1]
            prompt = _asked(pol, ctx, state, again=True)
            if first:
                return Decision(action="RESPOND", response=_assent_line(session, ctx, prompt, name=first[0]))
        if "assent" in step.events or "name_again" in step.events:
            prompt = _asked(pol, ctx, state, again=True)
            return Decision(action="RESPOND", response=_assent_line(session, ctx, prompt))
        before = policy.speak(pol, step.text, ctx, caller_spoke=False) if step.text else ""
        return self.ask(pol, ctx, state, before, again="statement" in step.events)

    # -- endings

    def finish_transfer(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: Mapping[str, Any],
                        transfer: Mapping[str, Any] | None, *, read_back: bool = True) -> Decision:
        """Connect now (reading back what was collected first unless the caller just confirmed it)."""
        transfer = transfer or {}
        values = (session.get("collected") or {}) if read_back else {}
        with_values = TurnContext(company=ctx.company, now=ctx.now, caller_type=ctx.caller_type,
                                  spam_flags=ctx.spam_flags, collected_entities=values, variation=ctx.variation)
        line = policy.speak(pol, TRANSFER_NOW_LINE, with_values, caller_spoke=False)
        return Decision(action="TRANSFER", response=line, transfer_target=transfer.get("target"),
                        transfer_phone=transfer.get("phone"), transfer_queue=transfer.get("queue"),
                        transfer_sip=transfer.get("sip"))


__all__ = ["Dialogue", "Collected", "region_of", "read_back", "is_confirming", "side_answer"]
