"""Base answers: Tier 1 keywords and Tier 2 similar examples from the company's template, Tier 3 from an LLM.

Tier 3 is asked only when Tiers 1 and 2 found nothing and no edge case or transfer rule took
the turn: it costs money and time. Its failure keeps the safe fallback.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Mapping

from policy.company import CompanyProfile
from policy.compiler import CompiledPolicy
from policy.hours import HOURS_QUESTION, follows_up_on_day, hours_answer
from policy.scenarios import CompiledTemplate, ScenarioAnswer
from policy.text import split_sentences

from .acts import is_question
from .llm import LLMTier
from .several import joined, questions_in


def parse_costs(spec: str) -> dict[str, float]:
    """Tier costs from ``"1=0,2=0.0001,3=0.002,fallback=0"`` (dollars per turn)."""
    costs = {"1": 0.0, "2": 0.0001, "3": 0.002, "fallback": 0.0}
    for part in (spec or "").split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            try:
                costs[k.strip()] = float(v)
            except ValueError:
                raise ValueError(f"TIER_COSTS: {part!r} is not tier=dollars") from None
    return costs


class Answers:
    """Finds a turn's base answer and prices it."""

    def __init__(self, *, llm: LLMTier | None = None, costs: Mapping[str, float] | None = None) -> None:
        self.llm = llm
        self.costs = dict(costs or parse_costs(""))

    def base(self, template: CompiledTemplate, text: str, *, call_sid: str, seq: int,
             subject: str | None = None) -> ScenarioAnswer:
        """Tiers 1 and 2 (or the template's safe fallback); a question about the scenario the caller just heard
        (``subject``: "how much does that cost?") is answered for it when it knows the answer."""
        got = template.answer(text, call_sid=call_sid, seq=seq)
        if subject is not None:
            return template.follow_up(text, subject, call_sid=call_sid, seq=seq) or got
        return got

    def knowledge(self, answer: ScenarioAnswer, text: str, *, profile: CompanyProfile,
                  now: datetime, topic: str | None = None, ask: bool = True) -> ScenarioAnswer:
        """What the company knows beats a canned reply: hours for the day asked about, open now or not.
        Right after an answer about hours, a short "what about today?" is about hours too."""
        hours_asked = answer.action == "PROVIDE_HOURS" or (answer.tier == "fallback" and (
            (HOURS_QUESTION.search(text) and is_question(text)) or (topic == "hours" and follows_up_on_day(text))))
        if not hours_asked:
            return answer
        said = hours_answer(profile, now, text)
        if said is None:
            return answer
        # (not again right after an answer about hours: "what about saturday?" heard the question already)
        asks = split_sentences(answer.text)[-1] if ask and answer.tier in ("1", "2") and answer.text \
            and topic != "hours" else ""
        if asks.endswith("?") and "{" not in asks:
            said = f"{said} {asks}"  # the scenario's question after its hours ("Is there something I can help with?")
        return replace(answer, text=said, action="PROVIDE_HOURS", tier=answer.tier if answer.tier != "fallback"
                       else "1", scenario=answer.scenario or "hours", confidence=max(answer.confidence, 0.9))

    def several(self, template: CompiledTemplate, text: str, *, call_sid: str, seq: int, profile: CompanyProfile,
                now: datetime) -> ScenarioAnswer | None:
        """Two questions in one breath ("what are your hours and do you serve Oakland?"), each a scenario the
        template knows: both answered in one reply. The one that starts something (a visit, a message) is
        answered last, so the call goes on from it. None when that is not what was asked."""
        parts = questions_in(text)
        if not parts:
            return None
        found = [self.knowledge(self.base(template, part, call_sid=call_sid, seq=seq), part, profile=profile, now=now,
                                ask=False) for part in parts]
        if any(a.tier not in ("1", "2") for a in found) or found[0].scenario == found[1].scenario:
            return None
        first, second = sorted(found, key=lambda a: a.action not in (None, "PROVIDE_HOURS", "PROVIDE_PRICING"))
        return replace(second, text=joined(first.text, second.text), confidence=min(a.confidence for a in found),
                       matched=f"{first.scenario}+{second.scenario}")

    def tier3(self, answer: ScenarioAnswer, text: str, *, profile: CompanyProfile, pol: CompiledPolicy,
              template: CompiledTemplate) -> ScenarioAnswer:
        """Ask the LLM when Tiers 1 and 2 found nothing; without one, or on failure, the fallback stays."""
        if self.llm is None or answer.tier != "fallback":
            return answer
        got = self.llm.answer(text, company=profile.variables.get("companyname", profile.name), trade=profile.trade,
                              variables=profile.variables, scenarios=[sc.name for sc in template.scenarios],
                              actions=sorted(pol.runtime.allowed))
        if got is None:
            return replace(answer, matched="tier3-failed")
        return ScenarioAnswer(got.reply, got.action, "3", None, None, None)

    def cost(self, answer: ScenarioAnswer | None) -> float:
        """Estimated cost of a turn: its tier's cost, plus a Tier 3 call that failed."""
        if answer is None:
            return 0.0
        cost = self.costs.get(answer.tier, 0.0)
        if answer.matched == "tier3-failed":
            cost += self.costs.get("3", 0.0)
        return round(cost, 6)


__all__ = ["Answers", "parse_costs"]
