"""Emergencies said over more than one turn, and emergencies said while we collect details.

"My AC stopped working" and then, asked for the address, "we have a baby at home": the company's
emergency rule (its combinations: cooling gone + a baby) would have taken the two in one breath,
so it takes them said one after the other; a yes to our question about the people at home ("is anyone in
the home vulnerable to the cold?" - "yes, my mother") is read with the question's words. Which words make an emergency, and what happens then,
stay the company's policy: this only lets the rule read the caller's recent words with the new ones. A danger
the caller denies ("no, no babies here", "nobody's sick") is no emergency: the engine does not hear it.
"""

from __future__ import annotations

import re
from typing import Any

import policy
from policy.decision import TurnContext

from session import last_reply

from . import acts

#: How many of the caller's earlier turns are read with the new words.
EARLIER_TURNS = 2
#: Someone at home, said after a yes ("yes, my mother").
_SOMEONE = re.compile(r"\b(?:there is|there'?s|we do|we have|i do|i am|i'?m|my|our|she|he|they|mom|mother|dad|father|"
                      r"grand\w*|wife|husband|son|daughter|kids?|children|parents?|baby|sister|brother|aunt|uncle)\b",
                      re.I)


def is_emergency(pol: policy.CompiledPolicy, routing: policy.Routing) -> bool:
    """Whether the rules connect the caller to an emergency rule of the company."""
    if not routing.decided or routing.turn.action != "TRANSFER":
        return False
    rules = pol.runtime.transfer_by_id
    return any(b.get("type") == "TRANSFER_RULE" and getattr(rules.get(b.get("id")), "intent", None) == "emergency"
               for b in routing.turn.blocks)


def with_earlier(pol: policy.CompiledPolicy, ctx: TurnContext, session: dict[str, Any], text: str,
                 routing: policy.Routing) -> policy.Routing:
    """The routing of the caller's words read with what they said just before, when only together they
    make an emergency ("the AC died" ... "we have a baby at home"); else ``routing`` as it was."""
    if routing.edge_case or is_emergency(pol, routing):
        return routing
    earlier = [str(t) for t in (session.get("heard") or [])[-EARLIER_TURNS:] if t]
    if not earlier or not text.strip():
        return routing
    if is_emergency(pol, policy.route(pol, " . ".join(earlier), ctx)):
        return routing  # the earlier words were an emergency on their own (its transfer was tried): nothing new
    asked = _asked(session) if _yes_about_someone(text) else ""
    together = policy.route(pol, " . ".join([*earlier, *([asked] if asked else []), text]), ctx)
    return together if is_emergency(pol, together) else routing


def _asked(session: dict[str, Any]) -> str:
    """The question our last reply ended on ("... is anyone in the home vulnerable to the cold?"), or ""."""
    last = last_reply(session)
    found = re.findall(r"[^.?!]*\?", last)
    return found[-1].strip() if found else ""


def _yes_about_someone(text: str) -> bool:
    """A yes that answers our question about the people at home ("yes", "yeah, my mother lives with us"),
    not one said in front of other details ("yeah, come tomorrow")."""
    if not acts.YES_FIRST.match(text) or acts.is_question(text) or re.search(r"\d", text):
        return False
    rest = acts.YES_FIRST.sub("", text).strip(" ,.!")
    return not rest or bool(_SOMEONE.search(rest))


def heard(session: dict[str, Any], text: str) -> None:
    """Remember the caller's words for the next turns (the last few, trimmed)."""
    if text.strip():
        session["heard"] = [*(session.get("heard") or []), text.strip()[:200]][-EARLIER_TURNS:]


__all__ = ["is_emergency", "with_earlier", "heard", "EARLIER_TURNS"]
