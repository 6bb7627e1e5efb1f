"""How the agent behaves toward the caller beside answering: closing the call, thanks, saying the
last reply again, holding on, acknowledging an upset caller, and being honest about reaching a person.

Each handler returns a ``Decision`` when it takes the turn, else None. Every line goes through the
policy's guardrails and behavior rules (``policy.speak``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Mapping

import policy
from policy.decision import Decision, TurnContext
from policy.text import lower_first, split_sentences

from . import acts

CLOSING_LINES = ("Thanks for calling {companyname}. Have a great day, goodbye!",
                 "Thank you for calling {companyname}. Take care, goodbye!",
                 "Thanks for calling {companyname}, and have a good day. Goodbye!")
THANKS_LINES = ("You're welcome! Is there anything else I can help you with?",
                "Happy to help. Is there anything else you need today?",
                "You're very welcome. Is there anything else I can do for you?")
MORE_LINES = ("Sure, what else can I help you with?", "Of course. What else can I do for you?")
#: The same when nothing was helped with yet ("Is there anything heating or cooling related I can help with?").
WHAT_LINES = ("Great, what can I help you with?", "Okay, what can I do for you?")
HOLD_LINES = ("Sure, take your time.", "No problem, I'll wait.")
REPEAT_LINES = ("Sure. {text}", "Of course. {text}")
SOOTHE_LINES = ("I'm sorry about that. I can hear how frustrating this has been.",
                "I'm really sorry for the trouble. Let's get this sorted out.",
                "I'm sorry, that's not the experience we want you to have.")
#: Said to "is this the heating company?".
IDENTITY_LINE = "Yes, this is {companyname}. How can I help you today?"
WRONG_NUMBER_LINE = "That's all right, you've reached {companyname}. Have a good day, goodbye!"
#: Our reply asked whether the caller needs anything more (a "no" then ends the call).
ASKED_MORE = re.compile(r"anything else|something (?:else )?i can help|what (?:else )?can i (?:do|help)|"
                        r"how (?:else )?can i help|help you with today|anything\b[^.?!]{0,50}\b(?:i can help|can i help)",
                        re.I)
_LEADING_ACK = re.compile(r"^(?:ok|okay|sure|of course|got it|i see|alright)[,.!]?\s+", re.I)


def without_ack(text: str) -> str:
    """A reply without the acknowledgement in front ("Got it. Let me ..." -> "Let me ...")."""
    rest = _LEADING_ACK.sub("", text, count=1)
    return rest[:1].upper() + rest[1:]


def held(reply: str) -> bool:
    """Whether our reply was one of ``HOLD_LINES`` (whatever acknowledgement was put in front of it)."""
    return any(reply.endswith(line.split(", ", 1)[1]) for line in HOLD_LINES)


def pick(lines: tuple[str, ...], ctx: TurnContext) -> str:
    """A variant for this turn (variants follow one another, so a call never hears one twice in a row)."""
    return lines[ctx.variation % len(lines)]


def closing(pol: policy.CompiledPolicy, ctx: TurnContext) -> Decision:
    """A polite goodbye, and the call ends."""
    line = policy.speak(pol, pick(CLOSING_LINES, ctx), ctx, caller_spoke=False, action="HANGUP")
    return Decision(action="HANGUP", response=line, tags=("caller_closed",))


def respond(pol: policy.CompiledPolicy, ctx: TurnContext, text: str) -> Decision:
    """Say a line of ours and listen again."""
    return Decision(action="RESPOND", response=policy.speak(pol, text, ctx, caller_spoke=False))


def act(pol: policy.CompiledPolicy, ctx: TurnContext, session: Mapping[str, Any], text: str,
        said: acts.Act, last_reply: str | None) -> Decision | None:
    """The caller closes, thanks, asks to hear the last reply again or to hold on; None otherwise."""
    collecting = bool(session.get("collect"))
    if said.kind == "repeat":
        again = without_ack((last_reply or "").strip())
        if not again:
            return respond(pol, ctx, "Sorry about that. How can I help you today?")
        return Decision(action="RESPOND", response=pick(REPEAT_LINES, ctx).format(text=again))
    if said.kind == "hold":
        return respond(pol, ctx, pick(HOLD_LINES, ctx))
    if said.kind == "line_check":  # the caller did not hear us: say we are here, and ask again
        question = next((s for s in reversed(split_sentences(last_reply or "")) if s.endswith("?")), None)
        if question:
            return Decision(action="RESPOND", response=f"Yes, I'm here. {question}")
        return respond(pol, ctx, "Yes, I'm here. How can I help you today?")
    if acts.wrong_number(text):
        line = policy.speak(pol, WRONG_NUMBER_LINE, ctx, caller_spoke=False, action="HANGUP")
        return Decision(action="HANGUP", response=line, tags=("wrong_number",))
    if not collecting and acts.identity_asked(text, ctx.company.variables.get("companyname", ctx.company.name),
                                             ctx.company.trade):
        return respond(pol, ctx, IDENTITY_LINE)
    if collecting:
        # "that's it" or "yes that's all" may answer our question; only a goodbye leaves mid-message.
        return closing(pol, ctx) if acts.leaving(text) else None
    if said.kind == "closing" or (session.get("anything_else") and acts.done_after_anything_else(text)):
        return closing(pol, ctx)
    if said.kind == "thanks":
        return respond(pol, ctx, pick(THANKS_LINES, ctx))
    if session.get("anything_else") and acts.is_yes(text) and len(text.split()) <= 3:
        helped = re.search(r"\belse\b", last_reply or "", re.I) or not re.search(r"\banything\b", last_reply or "", re.I)
        return respond(pol, ctx, pick(MORE_LINES if helped else WHAT_LINES, ctx))
    return None


def soothe(pol: policy.CompiledPolicy, ctx: TurnContext, decision: Decision) -> Decision:
    """An upset caller hears their frustration acknowledged before anything else."""
    if decision.action == "HANGUP" or decision.short_circuit:
        return decision
    rest = _LEADING_ACK.sub("", decision.response)
    rest = re.sub(r"^(?:i'?m (?:so |very |really )?sorry[^.!?]*[.!?]\s*)", "", rest, flags=re.I)
    # Never two sentences in a row that open alike ("... Let's get this sorted out. Let's get you cooled down.").
    def opener(text: str) -> str:  # "Let's" and "Let me" open alike
        return re.sub(r"'.*$", "", text.split(" ", 1)[0].lower())
    first = opener(rest)
    turns = [SOOTHE_LINES[(ctx.variation + k) % len(SOOTHE_LINES)] for k in range(len(SOOTHE_LINES))]
    line = next((t for t in turns if opener(split_sentences(t)[-1]) != first), turns[0])
    sorry = policy.speak(pol, line, ctx, caller_spoke=False)
    return replace(decision, response=f"{sorry} {rest[:1].upper()}{rest[1:]}".strip())


AGAIN_OPENERS = ("Sure. Once again, ", "Of course. Again, ")
MORE_QUESTION = "Is there anything else I can help with?"


def not_again(decision: Decision, last_said: str | None, ctx: TurnContext) -> Decision:
    """The same answer twice in a row sounds like a recording: the second time it is said as a reminder,
    and the caller is asked what else they need. A question of ours is asked again as it was."""
    if decision.action != "RESPOND" or not last_said or decision.short_circuit or decision.response.endswith("?"):
        return decision
    now = _LEADING_ACK.sub("", decision.response).strip()
    before = _LEADING_ACK.sub("", last_said).strip()
    sentences = split_sentences(before)
    if len(sentences) > 1 and sentences[-1].endswith("?"):
        before = " ".join(sentences[:-1])  # the same answer, said last time with a question after it
    if not now or now.lower() != before.lower():
        return decision
    return replace(decision, response=f"{pick(AGAIN_OPENERS, ctx)}{lower_first(now)} {MORE_QUESTION}")


def asked_more(decision: Decision) -> bool:
    """Whether our reply asked the caller if they need anything more."""
    return decision.action == "RESPOND" and bool(ASKED_MORE.search(decision.response))


__all__ = ["act", "soothe", "closing", "respond", "asked_more", "pick", "without_ack", "held"]
