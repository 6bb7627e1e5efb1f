"""Scenario templates: their schema, and base answers from them (Tier 1 keywords, Tier 2 fuzzy, else a
safe fallback).

Pure: a template is validated and compiled once (``compile_template``); ``answer`` takes
the caller's words plus the call id and turn number (for the deterministic choice of a
reply variation) and returns a ``ScenarioAnswer``. Tier 3 (an LLM) is the conversation's
(``conversation.answers``), above the fallback.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from rapidfuzz import fuzz, process

from policy.errors import PolicyError
from policy.matching import SpokenIndex
from policy.schema import AllowedAction, field_errors
from policy.text import normalize

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

DEFAULT_GREETING = "Thank you for calling {companyname}. How can I help you today?"
FALLBACK_REPLY = ("I want to make sure you get the right answer, so I'd like to take a message and have "
                  "someone from our team call you back. May I have your name, please?")
FALLBACK_ACTION = "TAKE_MESSAGE"
#: Greetings and fillers in front of a request ("hi, yeah, I got a question, ...").
_OPENING = re.compile(r"^\W*(?:(?:hi|hello|hey|hiya|yeah|yes|yep|um+|uh+|oh|so|ok(?:ay)?|good (?:morning|afternoon|"
                      r"evening)|(?:i'?ve )?(?:i )?(?:got|have) a (?:quick )?question)\b[\s,.!?:-]*)+", re.I)
#: Tier 2 needs this fuzzy score (0-100) unless the template sets its own.
DEFAULT_THRESHOLD = 82.0


class QnA(BaseModel):
    """A question and its fixed answer."""

    model_config = ConfigDict(extra="forbid")
    q: Phrase
    a: Text


class Scenario(BaseModel):
    """One thing callers ask about: how to recognize it and what to answer."""

    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    name: Phrase
    keywords: list[Phrase] = Field(default_factory=list, max_length=100)
    examples: list[Phrase] = Field(default_factory=list, max_length=100)
    replies: list[Text] = Field(min_length=1, max_length=20)
    action: AllowedAction | None = None
    qna: list[QnA] = Field(default_factory=list, max_length=50)


class Template(BaseModel):
    """A shared scenario template that companies name in ``scenarioTemplate``."""

    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")]
    name: Phrase
    trade: Phrase | None = None
    greeting: Text = DEFAULT_GREETING
    fallback: Text = FALLBACK_REPLY
    fuzzyThreshold: float = Field(default=DEFAULT_THRESHOLD, ge=50, le=100)
    scenarios: list[Scenario] = Field(min_length=1, max_length=500)


def validate_template(doc: Any) -> Template:
    """Validate a template document; raises PolicyError with every field error."""
    if not isinstance(doc, dict):
        raise PolicyError([{"path": "", "message": "a scenario template must be a mapping of fields"}])
    try:
        template = Template.model_validate(doc)
    except ValidationError as exc:
        raise PolicyError(field_errors(exc)) from None
    seen: set[str] = set()
    errors = []
    for i, sc in enumerate(template.scenarios):
        if sc.id in seen:
            errors.append({"path": f"scenarios[{i}].id", "message": f"duplicate scenario id {sc.id!r}"})
        seen.add(sc.id)
        if not (sc.keywords or sc.examples or sc.qna):
            errors.append({"path": f"scenarios[{i}]", "message": "needs keywords, examples or qna to be found"})
    if errors:
        raise PolicyError(errors)
    return template


@dataclass(frozen=True, slots=True)
class ScenarioAnswer:
    """The base answer of one turn, with how it was found."""

    text: str
    action: str | None
    tier: str            # "1" keywords, "2" fuzzy, "fallback"
    confidence: float    # 0..1
    scenario: str | None
    matched: str | None = None


@dataclass(frozen=True, slots=True)
class _Choice:
    scenario: int
    reply: str | None   # a Q&A answer, else the scenario's replies


class CompiledTemplate:
    """A template ready to answer: one phrase index for keywords, one choice list for fuzzy matching."""

    def __init__(self, template: Template) -> None:
        self.id = template.id
        self.greeting = template.greeting
        self.fallback = template.fallback
        self.threshold = template.fuzzyThreshold
        self.scenarios = tuple(template.scenarios)
        self.phrases = SpokenIndex(())
        self._owner: dict[int, list[int]] = {}
        for i, sc in enumerate(self.scenarios):
            for kw in sc.keywords:
                pid = self.phrases.add(kw)
                self._owner.setdefault(pid, []).append(i)
        self.phrases.finish()
        choices: list[str] = []
        owners: list[_Choice] = []
        for i, sc in enumerate(self.scenarios):
            for ex in sc.examples:
                choices.append(normalize(ex))
                owners.append(_Choice(i, None))
            for qa in sc.qna:
                choices.append(normalize(qa.q))
                owners.append(_Choice(i, qa.a))
        self._choices = choices
        self._choice_owner = owners
        self.hints = tuple(sorted({normalize(k) for sc in self.scenarios for k in sc.keywords},
                                  key=lambda p: (len(p), p)))

    def answer(self, utterance: str, *, call_sid: str, seq: int) -> ScenarioAnswer:
        """The base answer for the caller's words (deterministic per call and turn)."""
        text = normalize(utterance or "")
        if not text:
            return ScenarioAnswer(self.fallback, FALLBACK_ACTION, "fallback", 0.0, None)
        # "Hi, yeah, are you open Saturday?": the greeting in front is manners, the rest is the request.
        request = _OPENING.sub("", utterance or "")
        hits = (self.phrases.scored(request) if request.strip() else {}) or self.phrases.scored(utterance)
        if hits:
            # The scenario with the most keywords said (one said as written counts double a reworded one),
            # then the longest keyword, then the first declared.
            best: tuple[int, int, int] | None = None
            scores: dict[int, list[int]] = {}
            for pid in hits:
                for i in self._owner.get(pid, ()):
                    scores.setdefault(i, []).append(pid)
            for i, pids in scores.items():
                key = (sum(hits[p] for p in pids), max(len(self.phrases.phrases[p]) for p in pids), -i)
                if best is None or key > best:
                    best = key
            idx = -best[2]  # type: ignore[index]
            matched = max((self.phrases.phrases[p] for p in scores[idx]), key=len)
            qa = self._qna_reply(idx, text)
            return self._reply(idx, qa, "1", 1.0, call_sid, seq, matched)
        if self._choices:
            found = process.extractOne(text, self._choices, scorer=fuzz.token_set_ratio,
                                       processor=None, score_cutoff=0)
            if found is not None:
                _, score, pos = found
                # token_set_ratio is 100 whenever one side's words are a subset of the other's;
                # guard short inputs ("yes") with a plain ratio so they do not match everything.
                choice = self._choice_owner[pos]
                if len(text.split()) < 3:
                    score = min(score, fuzz.ratio(text, self._choices[pos]))
                if score >= self.threshold:
                    return self._reply(choice.scenario, choice.reply, "2", round(score / 100.0, 3),
                                       call_sid, seq, self._choices[pos])
                return ScenarioAnswer(self.fallback, FALLBACK_ACTION, "fallback", round(score / 100.0, 3), None)
        return ScenarioAnswer(self.fallback, FALLBACK_ACTION, "fallback", 0.0, None)

    def _qna_reply(self, idx: int, text: str) -> str | None:
        sc = self.scenarios[idx]
        if not sc.qna:
            return None
        found = process.extractOne(text, [normalize(q.q) for q in sc.qna], scorer=fuzz.token_set_ratio,
                                   processor=None, score_cutoff=self.threshold)
        return sc.qna[found[2]].a if found else None

    def _reply(self, idx: int, fixed: str | None, tier: str, confidence: float, call_sid: str, seq: int,
               matched: str | None) -> ScenarioAnswer:
        sc = self.scenarios[idx]
        text = fixed or sc.replies[variation(call_sid, seq, sc.id, len(sc.replies))]
        return ScenarioAnswer(text, sc.action, tier, confidence, sc.id, matched)


def variation(call_sid: str, seq: int, scenario_id: str, n: int) -> int:
    """Which reply variation a call hears on a turn: stable for replays, varied across calls."""
    if n <= 1:
        return 0
    digest = hashlib.blake2b(f"{call_sid}:{seq}:{scenario_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def compile_template(doc: Mapping[str, Any] | Template) -> CompiledTemplate:
    """Validate (if needed) and compile a scenario template."""
    template = doc if isinstance(doc, Template) else validate_template(dict(doc))
    return CompiledTemplate(template)


#: Used when a company names no template, or its template cannot be loaded.
EMPTY_TEMPLATE = CompiledTemplate(Template(id="none", name="No scenarios", scenarios=[
    Scenario(id="hello", name="Greeting", keywords=["hello", "hi there"],
             replies=["Hello! How can I help you today?"])]))

__all__ = ["ScenarioAnswer", "CompiledTemplate", "compile_template", "validate_template", "variation",
           "EMPTY_TEMPLATE", "DEFAULT_GREETING", "FALLBACK_REPLY"]
