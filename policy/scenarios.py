"""Scenario templates: their schema, and base answers from them (Tier 1 keywords, Tier 2 similar examples,
else a safe fallback).

Pure: a template is validated and compiled once (``compile_template``); ``answer`` takes
the caller's words plus the call id and turn number (for the deterministic choice of a
reply variation) and returns a ``ScenarioAnswer``. Tier 3 (an LLM) is the conversation's
(``conversation.answers``), above the fallback.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any, Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from rapidfuzz import fuzz, process

from policy.errors import PolicyError
from policy.canon import canon
from policy.matching import SpokenIndex, denied
from policy.negation import affirmed, denied_words
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
                      r"evening)|(?:i'?ve )?(?:i )?(?:got|have) a (?:quick )?question|how are you(?: doing)?(?: today)?|"
                      r"how'?s it going|(?:is )?(?:anyone|anybody|someone|somebody) (?:there|home)|are you there)\b[\s,.!?:-]*)+", re.I)
#: The confidence (0-100) Tier 2 needs unless the template sets its own: a similarity of ``SIMILARITY``
#: is reported as this confidence (and a plain ratio of at least this lets a short input match).
DEFAULT_THRESHOLD = 82.0
#: Tier 2: the similarity (0..1) a scenario's examples need, and the lead it needs over the next scenario.
SIMILARITY, MARGIN = 0.4, 0.05
#: A single keyword's answer gives way to Tier 2 when Tier 2 answers for another scenario this far (0..1) ahead
#: of the keyword's own examples; a lesser lead over them from ``DISPUTED_AT`` marks it ``DISPUTED`` (its confidence).
OVERRULE_LEAD, DISPUTED_AT, DISPUTED = 0.1, 0.3, 0.85
#: Tier 2 leaves out of its sums a word or letter group found in more than this many examples (and 5%).
COMMON_AT = 200
#: Tier 2's classifier (a linear SVM over the same features, trained on the examples when the template is first
#: used) speaks for a scenario once it has ``CLASSIFY_MIN`` examples: it answers when that scenario's decision
#: value reaches ``CLASSIFY_AT`` (the similarity ranking alone confuses requests that share most words, such as
#: checking a credit score and improving it). A single keyword gives way to it when another scenario leads the
#: keyword's own by ``KEYWORD_LEAD``; a lead of ``KEYWORD_DOUBT`` makes the keyword's answer ``DISPUTED``.
CLASSIFY_MIN, CLASSIFY_AT, KEYWORD_LEAD, KEYWORD_DOUBT = 5, -0.1, 0.4, 0.2
#: The lead that suffices when the keyword said is part of the other scenario's longer keyword ("credit limit",
#: "credit limit change"): the keyword cannot tell those two apart, their examples can.
NESTED_LEAD = 0.2
#: A single keyword of a scenario the classifier knows is thin evidence when the examples say the caller's words
#: read unlike that scenario's (its decision value below ``KEYWORD_FLOOR``): a common word said in another request
#: ("when was the last time the president visited florida" said "time"). Tier 2 then decides, as if no keyword
#: was said.
KEYWORD_FLOOR = -0.6
#: A keyword gives way to another scenario only when the classifier's decision value for that one reaches
#: ``OVERRULE_AT`` (a lead over a keyword the examples read unlike is no answer: "what is the name of the 13th
#: president").
OVERRULE_AT = -0.5
#: Keywords of at most this many words are looked for inside longer ones.
NESTED_WORDS = 4


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
    tier: str            # "1" keywords, "2" similar examples, "fallback"
    confidence: float    # 0..1
    scenario: str | None
    matched: str | None = None


@dataclass(frozen=True, slots=True)
class _Choice:
    scenario: int
    reply: str | None   # a Q&A answer, else the scenario's replies


#: A question about the thing just talked of ("how much does that cost", "how long would it take", "is it worth
#: it"): a word that points back, and no new thing named in its place.
_REFERS_BACK = re.compile(r"\b(?:that|it|this|those|these|them|one)\b", re.I)
#: Words that carry no request on their own: Tier 2 compares them only in a pair with another word ("my name").
_FUNCTION_WORDS = frozenset(
    "a an the to of and or is are am be was were i me my you your it its this that in on at for with from by as "
    "do does did can could would will please what how there here we our us so just "
    # Talk around a request, never the request ("are you guys hiring" is not "when are you guys open").
    "guys y'all yall folks someone somebody something anything anyone thing things get got have has had need "
    "wanna gonna like know um uh well oh also any some really about if be been "
    "they them their he she his her it's that's there's what's i'm i'd i've you're we're who which help".split())
#: Letters a word and an example's word must share at the start to count as the same word for Tier 2's guard.
_STEM = 4


def _asked(request: str, text: str) -> str:
    """What Tier 2 compares: the request without the greeting in front of it, unless that leaves too few
    words to say anything (then the whole normalized utterance, ``text``)."""
    return normalize(request) if len(request.split()) >= 3 else text


def _pointed(text: str, subject: frozenset[str]) -> str:
    """A question with its thing said as "it" ("how much does a new system cost" and "how much does that cost"
    both "how much does it cost"): words pointing back, and the subject's own words, become one "it"."""
    out: list[str] = []
    for w in text.split():
        if w in ("a", "an", "the"):
            continue
        if w in subject or _REFERS_BACK.fullmatch(w):
            w = "it"
        if not (w == "it" and out and out[-1] == "it"):
            out.append(w)
    return " ".join(out)


def _content(words: list[str]) -> set[str]:
    """The words that carry the request, by their first letters ("cancelled" and "cancel" alike)."""
    return {w[:_STEM] for w in words if w not in _FUNCTION_WORDS and len(w) > 1}


def _word_features(words: list[str]) -> list[str]:
    return [w for w in words if w not in _FUNCTION_WORDS] + [
        f"{a} {b}" for a, b in zip(words, words[1:]) if a not in _FUNCTION_WORDS or b not in _FUNCTION_WORDS]


def _letter_groups(word: str) -> list[str]:
    if word in _FUNCTION_WORDS:
        return []
    padded = f" {word} "
    return [padded[i:i + n] for n in (3, 4, 5) for i in range(len(padded) - n + 1)]


def _tfidf(counts: Any, n: int) -> tuple[np.ndarray, Any]:
    """Smoothed idf of each column, and the rows as sublinear tf-idf scaled to length 1/sqrt(2)."""
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    # A word or letter group in very many examples says little and costs the most per turn: left out.
    idf[df > max(COMMON_AT, n // 20)] = 0.0
    m = counts.tocsr(copy=True)
    m.data = (1.0 + np.log(m.data)) * idf[m.indices]
    m.eliminate_zeros()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    m = m.multiply((math.sqrt(0.5) / norms)[:, None]).tocsr()
    return idf, m


class _Similar:
    """Tier 2's index: TF-IDF vectors of every example (words and word pairs; groups of 3-5 letters inside
    words, so "cancelled" meets "cancel"), each half weighing the same. A scenario's similarity to the
    caller's words is the mean of its nearest example's and its examples' centre's (cosine, 0..1)."""

    def __init__(self, texts: list[str], owners: list[int]) -> None:
        from scipy.sparse import csr_matrix, hstack

        n = len(texts)
        self.words: dict[str, int] = {}
        rows, cols = [], []
        for r, text in enumerate(texts):
            for f in _word_features(text.split()):
                cols.append(self.words.setdefault(f, len(self.words)))
                rows.append(r)
        counts = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, len(self.words)))
        self.letters: dict[str, int] = {}
        rows, cols = [], []
        for f, j in self.words.items():
            if " " not in f:
                for g in _letter_groups(f):
                    cols.append(self.letters.setdefault(g, len(self.letters)))
                    rows.append(j)
        groups = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(self.words), len(self.letters)))
        self.word_idf, w = _tfidf(counts, n)
        self.letter_idf, c = _tfidf(counts @ groups, n)
        x = hstack([w, c]).tocsr()
        self.size = n
        self.examples_t = x.T.tocsr()
        owner = np.asarray(owners)
        self.starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])   # examples come grouped by scenario
        self.ends = np.r_[self.starts[1:], n]
        self.scenario = owner[self.starts]
        self.row = {int(sc): k for k, sc in enumerate(self.scenario)}
        which = csr_matrix((np.ones(n), (np.searchsorted(self.starts, np.arange(n), side="right") - 1,
                                         np.arange(n))), shape=(len(self.starts), n))
        centres = (which @ x).tocsr()
        norms = np.sqrt(np.asarray(centres.multiply(centres).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        self.centres_t = centres.multiply((1.0 / norms)[:, None]).tocsr().T.tocsr()

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The normalized words' query vector (columns, weights), or None when no feature is known."""
        return self._vector(text.split())

    def nearest_of(self, got: tuple[np.ndarray, np.ndarray] | None, scenario: int) -> int:
        """The position of a scenario's example most like the words (``scores``' answer)."""
        k = self.row[scenario]
        start = int(self.starts[k])
        return start if got is None else start + int(np.argmax(got[0][start:self.ends[k]]))

    def _vector(self, words: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
        parts = []
        for vocab, idf, offset, feats in (
                (self.words, self.word_idf, 0, _word_features(words)),
                (self.letters, self.letter_idf, len(self.words), [g for w in words for g in _letter_groups(w)])):
            tf: dict[int, int] = {}
            for f in feats:
                j = vocab.get(f)
                if j is not None and idf[j]:
                    tf[j] = tf.get(j, 0) + 1
            if tf:
                cols = np.fromiter(tf, dtype=np.int64, count=len(tf))
                weights = (1.0 + np.log(np.fromiter(tf.values(), dtype=float, count=len(tf)))) * idf[cols]
                parts.append((cols + offset, weights * (math.sqrt(0.5) / np.linalg.norm(weights))))
        if not parts:
            return None
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    @staticmethod
    def _dot(columns: Any, cols: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
        """Cosine of the query with every row (``columns`` holds the rows' vectors by column, CSR)."""
        start, end = columns.indptr[cols], columns.indptr[cols + 1]
        lens = end - start
        at = np.repeat(start - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
        return np.bincount(columns.indices[at], weights=columns.data[at] * np.repeat(weights, lens), minlength=n)

    def scores(self, text: str, q: tuple[np.ndarray, np.ndarray] | None = None
               ) -> tuple[np.ndarray, np.ndarray] | None:
        """Every example's similarity to the words, and every scenario's (in ``self.scenario`` order);
        ``q``: the words' vector, when computed already."""
        q = self._vector(text.split()) if q is None else q
        if q is None:
            return None
        sims = self._dot(self.examples_t, *q, self.size)
        return sims, 0.5 * (np.maximum.reduceat(sims, self.starts) + self._dot(self.centres_t, *q, len(self.starts)))

    def score_of(self, got: tuple[np.ndarray, np.ndarray] | None, scenario: int) -> float:
        """One scenario's similarity in ``scores``' answer (0 when it has no examples)."""
        k = np.flatnonzero(self.scenario == scenario)
        return float(got[1][k[0]]) if got is not None and len(k) else 0.0

    def nearest(self, text: str, got: tuple[np.ndarray, np.ndarray] | None = None
                ) -> tuple[int, float, float, int] | None:
        """The closest scenario, its similarity, the next scenario's, and the position of its nearest example
        (``got``: ``scores``' answer for the text, when computed already)."""
        got = self.scores(text) if got is None else got
        if got is None:
            return None
        sims, scores = got
        k = int(np.argmax(scores))
        best = float(scores[k])
        second = float(np.partition(scores, -2)[-2]) if len(scores) > 1 else 0.0
        pos = int(self.starts[k] + np.argmax(sims[self.starts[k]:self.ends[k]]))
        return int(self.scenario[k]), best, second, pos


class _Classifier:
    """A linear SVM over Tier 2's features, one class per scenario with examples (one-vs-rest, deterministic):
    it weighs the words that tell scenarios apart, where similarity weighs the words they share."""

    def __init__(self, similar: _Similar) -> None:
        from sklearn.svm import LinearSVC

        x = similar.examples_t.T.tocsr()
        owners = np.repeat(similar.scenario, similar.ends - similar.starts)
        svm = LinearSVC(C=1.0, random_state=0, max_iter=2000).fit(x, owners)
        self.classes = svm.classes_.astype(np.int64)
        # Feature rows of the weights (float32: a template of 150 scenarios and 30,000 features is 18 MB).
        self.weights = np.ascontiguousarray(svm.coef_.T, dtype=np.float32)
        self.bias = svm.intercept_.astype(np.float32)
        self.position = {int(c): k for k, c in enumerate(self.classes)}

    def decide(self, q: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Each scenario's decision value (in ``classes`` order) for a query vector."""
        cols, weights = q
        return weights.astype(np.float32) @ self.weights[cols] + self.bias


class CompiledTemplate:
    """A template ready to answer: one phrase index for keywords, one similarity index of the examples."""

    def __init__(self, template: Template) -> None:
        self.id = template.id
        self.greeting = template.greeting
        self.fallback = template.fallback
        self.threshold = template.fuzzyThreshold
        self.scenarios = tuple(template.scenarios)
        self._index = {sc.id: i for i, sc in enumerate(self.scenarios)}
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
        self._similar = _Similar(choices, [o.scenario for o in owners]) if choices else None
        self._content: dict[int, set[str]] = {}
        for text, owner in zip(choices, owners):
            self._content.setdefault(owner.scenario, set()).update(_content(text.split()))
        # What a scenario's phrases say is missing ("not heating", "no cold air", "won't turn on").
        self._absent: dict[int, set[str]] = {}
        for i, sc in enumerate(self.scenarios):
            for phrase in (*sc.keywords, *sc.examples, *(qa.q for qa in sc.qna)):
                if (words := denied_words(phrase)):
                    self._absent.setdefault(i, set()).update(_content(sorted(words)))
        # Keywords whose words another scenario's examples say too.
        self._shared = {pid for pid, owners in self._owner.items()
                        if (kw := _content(normalize(self.phrases.phrases[pid]).split()))
                        and any(kw <= words for j, words in self._content.items() if j not in owners)}
        # Keywords said inside another scenario's longer keyword ("credit limit" in "credit limit change"): the
        # caller may mean the other one in their own words ("raise my credit limit").
        self._inside = self._nested()
        self.hints = tuple(sorted({normalize(k) for sc in self.scenarios for k in sc.keywords},
                                  key=lambda p: (len(p), p)))
        self._counts = {i: len(sc.examples) + len(sc.qna) for i, sc in enumerate(self.scenarios)}
        self._trusted = {i for i, n in self._counts.items() if n >= CLASSIFY_MIN}
        self._classifier: _Classifier | None = None
        self._pointed: dict[int, tuple[frozenset[str], frozenset[str], list[str]]] = {}
        self._keyword_words: tuple[list[frozenset[str]], Counter[str]] | None = None
        self.training_error: str | None = None
        # Trained when first asked (a template compiled only to compare words with never needs it).
        self._classify = self._similar is not None and len(self._trusted) >= 2

    @property
    def classifier(self) -> _Classifier | None:
        """Tier 2's classifier, trained on first use; None when fewer than two scenarios have enough examples."""
        if self._classifier is None and self._classify:
            try:
                self._classifier = _Classifier(self._similar)  # deterministic: a race trains the same model twice
            except Exception as exc:  # noqa: BLE001 - the similarity ranking answers without it
                self._classify, self.training_error = False, f"{type(exc).__name__}: {exc}"
        return self._classifier

    @property
    def untrained(self) -> bool:
        """Whether the classifier is still to be trained (``train``; the first answer trains it otherwise)."""
        return self._classify and self._classifier is None

    @property
    def size(self) -> int:
        """How many examples and Q&A questions the template has (what training its classifier costs)."""
        return len(self._choices)

    def train(self) -> None:
        """Train Tier 2's classifier now (about 0.1 s for 1,000 examples, 6 s for 15,000)."""
        _ = self.classifier

    def answer(self, utterance: str, *, call_sid: str, seq: int) -> ScenarioAnswer:
        """The base answer for the caller's words (deterministic per call and turn)."""
        text = normalize(utterance or "")
        if not text:
            return ScenarioAnswer(self.fallback, FALLBACK_ACTION, "fallback", 0.0, None)
        # "Hi, yeah, are you open Saturday?": the greeting in front is manners, the rest is the request.
        request = _OPENING.sub("", utterance or "")
        hits = self.phrases.scored(request) if request.strip() else {}
        if hits:  # "no sparks or smell, it just died" is not about a smell
            for pid in denied(self.phrases, hits, request, canon(request)):
                del hits[pid]
        if not hits and len(request.split()) < 3:
            # Only a greeting ("hi there"): the greeting is the request. A question after it ("hello, do you
            # do commercial buildings?") is not answered with a hello.
            hits = self.phrases.scored(utterance)
        if len(hits) > 1:
            hits = self._widest(hits)
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
            confidence = 1.0
            if len(scores[idx]) == 1:
                verdict = self._against_keyword(_asked(request, text), text, idx, scores[idx][0], matched)
                if isinstance(verdict, tuple):
                    other, pos, conf = verdict
                    return self._reply(other, self._choice_owner[pos].reply, "2", conf, call_sid, seq,
                                       self._choices[pos])
                confidence = verdict
            if confidence is not None:
                qa = self._qna_reply(idx, text)
                if qa is None and self.scenarios[idx].action == "PROVIDE_PRICING" and len(scores) > 1:
                    # "I need a new AC unit, how much does that cost": the price question of the other scenario
                    # said (its own Q&A knows it), not the general fee.
                    for other in sorted(scores, key=lambda i: (-sum(hits[p] for p in scores[i]), i)):
                        own = self._qna_reply(other, text) if other != idx else None
                        if own is not None:
                            other_matched = max((self.phrases.phrases[p] for p in scores[other]), key=len)
                            return self._reply(other, own, "1", confidence, call_sid, seq, other_matched)
                return self._reply(idx, qa, "1", confidence, call_sid, seq, matched)
        # Tier 2 reads the request too, not the greeting in front of it.
        return self._similar_answer(_asked(request, text), text, call_sid, seq)

    def _similar_answer(self, asked: str, text: str, call_sid: str, seq: int, *, again: bool = False
                        ) -> ScenarioAnswer:
        """Tier 2's answer for the request ``asked`` (else the fallback). An answer found only by words the caller
        denies ("no sparks or smell, it just died" is not about a smell) is looked for again without them."""
        q = self._similar.vector(asked) if self._similar is not None else None
        if q is None:
            return ScenarioAnswer(self.fallback, FALLBACK_ACTION, "fallback", 0.0, None)
        got = self._similar.scores(asked, q)
        classifier = self.classifier
        decided = classifier.decide(q) if classifier is not None else None
        k = int(np.argmax(decided)) if decided is not None else -1
        if decided is not None and int(classifier.classes[k]) in self._trusted:
            # The classifier knows this scenario from enough examples: it decides.
            idx, value = int(classifier.classes[k]), float(decided[k])
            pos = self._similar.nearest_of(got, idx)
            confidence = self._decided_confidence(value)
            answers = value >= CLASSIFY_AT and self._alike(idx, pos, asked, text)
        else:
            idx, score, second, pos = self._similar.nearest(asked, got)
            confidence = self._confidence(score)
            answers = self._tier2(idx, score, second, pos, asked, text)
        if not answers:
            return ScenarioAnswer(self.fallback, FALLBACK_ACTION, "fallback",
                                  round(min(confidence, self.threshold / 100.0 - 0.01), 3), None)
        if not again:
            rest = self._undenied(idx, asked)
            if rest is not None:
                return self._similar_answer(rest, rest, call_sid, seq, again=True)
        return self._reply(idx, self._choice_owner[pos].reply, "2", confidence, call_sid, seq, self._choices[pos])

    def _undenied(self, idx: int, asked: str) -> str | None:
        """The request without what the caller denies, when the only words it shares with scenario ``idx`` are
        denied ones; None when the caller denies nothing of it."""
        rest = affirmed(asked)
        if rest is None:
            return None
        own = self._content.get(idx, set())
        gone = (_content(asked.split()) & own) - _content(normalize(rest).split())
        # ("there's no heat" is what the no-heat scenario's "not heating" means: not denied, the request)
        if not gone or gone & self._absent.get(idx, set()) or _content(normalize(rest).split()) & own:
            return None
        return normalize(rest.replace("zznegated", " "))

    def follow_up(self, utterance: str, subject: str | None, *, call_sid: str, seq: int) -> ScenarioAnswer | None:
        """A question about what the caller just heard ("how much does that cost?" after the new-system quote):
        the answer of a Q&A of that scenario (``subject``) when the words refer back to it and ask that question;
        None otherwise (the words are answered as they stand)."""
        idx = self._index.get(subject)
        if idx is None or not self.scenarios[idx].qna:
            return None
        sc = self.scenarios[idx]
        own, distinct, questions = self._pointed_qna(idx)
        said = normalize(_OPENING.sub("", utterance or ""))
        # "How much does that cost?", or the thing named again by a word only its keywords use ("the plan").
        if not (_REFERS_BACK.search(said) or not distinct.isdisjoint(said.split())):
            return None
        asked = _pointed(said, own)
        found = process.extractOne(asked, questions, scorer=fuzz.token_set_ratio, processor=None,
                                   score_cutoff=self.threshold)
        if found is None:
            return None
        return ScenarioAnswer(sc.qna[found[2]].a, None, "1", round(found[1] / 100.0, 3), sc.id, "follow-up")

    def _pointed_qna(self, idx: int) -> tuple[frozenset[str], frozenset[str], list[str]]:
        """A scenario's own keyword words, those no other scenario's keywords use, and its Q&A questions with its
        words said as "it" (made once, on first use)."""
        got = self._pointed.get(idx)
        if got is None:
            if self._keyword_words is None:  # every scenario's keyword words, and how many scenarios use each
                per = [frozenset({w for k in sc.keywords for w in normalize(k).split()} - _FUNCTION_WORDS)
                       for sc in self.scenarios]
                self._keyword_words = per, Counter(w for words in per for w in words)
            per, used = self._keyword_words
            own = per[idx]
            got = self._pointed[idx] = (own, frozenset(w for w in own if used[w] == 1),
                                        [_pointed(normalize(qa.q), own) for qa in self.scenarios[idx].qna])
        return got

    def _against_keyword(self, asked: str, text: str, idx: int, pid: int, matched: str
                         ) -> tuple[int, int, float] | float | None:
        """What the examples say of a single keyword's answer: another scenario's answer (scenario, example
        position, confidence) when they clearly say it, None when they say the words read unlike the keyword's
        scenario (Tier 2 decides), else the keyword answer's confidence (1.0, or ``DISPUTED`` when they lean
        elsewhere)."""
        classifier = self.classifier if idx in self._trusted else None
        if classifier is not None:
            # Both known from enough examples: the words that tell them apart decide ("what can I do to raise my
            # credit score" said "credit score", and reads like improving one, not checking it).
            q = self._similar.vector(asked)
            if q is None:
                return 1.0
            decided = classifier.decide(q)
            own = float(decided[classifier.position[idx]])
            k = int(np.argmax(decided))
            other = int(classifier.classes[k])
            if other == idx or other not in self._trusted:
                return None if own < KEYWORD_FLOOR else 1.0
            lead = float(decided[k]) - own
            # A keyword said inside the other scenario's longer keyword tells the two apart not at all.
            if lead >= (NESTED_LEAD if other in self._inside.get(pid, ()) else KEYWORD_LEAD):
                pos = self._similar.nearest_of(self._similar.scores(asked, q), other)
                if self._alike(other, pos, asked, text) and float(decided[k]) >= OVERRULE_AT:
                    return other, pos, self._decided_confidence(float(decided[k]))
            if own < KEYWORD_FLOOR:
                return None
            return DISPUTED if lead >= KEYWORD_DOUBT else 1.0
        if pid not in self._shared:
            return 1.0
        # One keyword that other scenarios' examples say too is thin evidence: when what the caller said
        # reads clearly like another scenario's examples, those examples know better ("add a reminder to
        # call mom" said "reminder", and reads like the examples of setting one); when they only lean
        # elsewhere, the answer is less sure. (A keyword no other scenario's examples say costs nothing.)
        leaning = self._leaning(asked, idx)
        if leaning is None:
            return 1.0
        (other, score, second, pos), lead = leaning
        # Only a keyword the other scenario's examples say too (then it tells the two apart no more),
        # and only when they share more of the caller's words than the keyword's.
        theirs, kw = self._content.get(other, set()), _content(matched.split())
        common = kw <= theirs and bool((_content(asked.split()) - kw) & theirs)
        if common and lead >= OVERRULE_LEAD and self._tier2(other, score, second, pos, asked, text):
            return other, pos, self._confidence(score)
        return DISPUTED if score >= DISPUTED_AT and lead >= MARGIN else 1.0

    def _tier2(self, idx: int, score: float, second: float, pos: int, asked: str, text: str) -> bool:
        """Whether Tier 2's nearest scenario is close enough, and far enough ahead of the next, to answer."""
        return score >= SIMILARITY and score - second >= MARGIN and self._alike(idx, pos, asked, text)

    def _alike(self, idx: int, pos: int, asked: str, text: str) -> bool:
        """Whether the words can be the request of scenario ``idx`` (its example at ``pos`` the closest)."""
        # Few words say little: a short input ("yes") must also read like the example as a whole.
        if len(text.split()) < 3 and fuzz.ratio(text, self._choices[pos]) < self.threshold:
            return False
        # Similar talk is not a similar request: some word that carries it must be the scenario's too.
        said = _content(asked.split())
        return bool(said & self._content.get(idx, set())) or not (said or _content(self._choices[pos].split()))

    def _widest(self, hits: dict[int, int]) -> dict[int, int]:
        """The keywords said, less any said only as part of a longer one ("a c" inside "new ac unit"): the
        longer says what the caller meant, and the shorter must not count again."""
        stems = {pid: self.phrases.stems(pid) for pid in hits}

        def inside(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
            n = len(short)
            return n < len(long) and any(long[i:i + n] == short for i in range(len(long) - n + 1))
        return {p: v for p, v in hits.items() if not any(inside(stems[p], stems[q]) for q in hits if q != p)}

    def _nested(self) -> dict[int, set[int]]:
        """For each keyword said as part of another scenario's longer keyword, the scenarios of the longer ones."""
        by_stems: dict[tuple[str, ...], int] = {}
        for pid in self._owner:
            by_stems.setdefault(self.phrases.stems(pid), pid)
        lengths = sorted({len(stems) for stems in by_stems if len(stems) <= NESTED_WORDS})
        inside: dict[int, set[int]] = {}
        for pid, owners in self._owner.items():
            longer = self.phrases.stems(pid)
            # Only the lengths short keywords have: linear in the template's words.
            for n in lengths:
                if n >= len(longer):
                    break
                for start in range(len(longer) - n + 1):
                    short = by_stems.get(longer[start:start + n])
                    if short is not None:
                        others = set(owners) - set(self._owner[short])
                        if others:
                            inside.setdefault(short, set()).update(others)
        return inside

    def disputed(self, utterance: str, scenario_id: str | None) -> bool:
        """Whether the examples lean away from the scenario that answered (another scenario's are at least
        ``DISPUTED_AT`` alike and ahead of its own by Tier 2's margin), or a keyword of it that was said is part of
        a longer keyword of a scenario with too few examples to tell the two apart (``CLASSIFY_MIN``: "raise my
        credit limit" said "credit limit"; "credit limit change" may be what was meant): for learning, off the caller's path."""
        idx = self._index.get(scenario_id)
        if idx is None:
            return False
        request = _OPENING.sub("", utterance or "")
        if self._inside and request.strip():
            for pid in self.phrases.scored(request):
                if idx in self._owner.get(pid, ()) and any(j not in self._trusted for j in self._inside.get(pid, ())):
                    return True
        if self._similar is None:
            return False
        text = normalize(utterance or "")
        asked = _asked(request, text)
        if idx in self._trusted and self.classifier is not None:
            q = self._similar.vector(asked)
            if q is None:
                return False
            decided = self.classifier.decide(q)
            return float(np.max(decided) - decided[self.classifier.position[idx]]) >= KEYWORD_DOUBT
        leaning = self._leaning(asked, idx)
        return leaning is not None and leaning[0][1] >= DISPUTED_AT and leaning[1] >= MARGIN

    def _leaning(self, asked: str, idx: int) -> tuple[tuple[int, float, float, int], float] | None:
        """Tier 2's nearest scenario when it is not ``idx`` (its ``nearest`` answer), and its lead over
        ``idx``'s own examples; None when ``idx`` is the nearest or nothing is."""
        got = self._similar.scores(asked)
        found = self._similar.nearest(asked, got) if got is not None else None
        if found is None or int(found[0]) == idx:
            return None
        return found, found[1] - self._similar.score_of(got, idx)

    def similar(self, utterance: str) -> tuple[str, float] | None:
        """The scenario whose examples are most like the words, and how alike (0..1, no threshold applied)."""
        found = self._similar.nearest(normalize(utterance or "")) if self._similar is not None else None
        return (self.scenarios[found[0]].id, round(found[1], 3)) if found else None

    def similarities(self, utterance: str) -> dict[str, float]:
        """Each scenario with examples and how alike its examples are to the words (0..1; none below 0.01)."""
        got = self._similar.scores(normalize(utterance or "")) if self._similar is not None else None
        if got is None:
            return {}
        return {self.scenarios[int(i)].id: float(v) for i, v in zip(self._similar.scenario, got[1]) if v >= 0.01}

    def examples_of(self, scenario_id: str | None) -> int:
        """How many examples and Q&A questions a scenario has (0 for no such scenario)."""
        idx = self._index.get(scenario_id)
        return 0 if idx is None else self._counts[idx]

    def covered(self, scenario_id: str, texts: Sequence[str]) -> float:
        """How much of what the texts ask the scenario's own words say too: the mean share of each text's words
        that carry a request which its examples, Q&A questions and keywords also use (0..1; 0 for no such scenario)."""
        idx = self._index.get(scenario_id)
        if idx is None or not texts:
            return 0.0
        own = self._content.get(idx, set()) | {w for k in self.scenarios[idx].keywords
                                               for w in _content(normalize(k).split())}
        shares = []
        for t in texts:
            said = _content(normalize(t).split())
            shares.append(len(said & own) / len(said) if said else 0.0)
        return sum(shares) / len(shares)

    def _confidence(self, score: float) -> float:
        """A similarity as a confidence: ``SIMILARITY`` is the template's threshold, 1.0 stays 1.0."""
        need = self.threshold / 100.0
        if score >= SIMILARITY:
            return round(min(1.0, need + (1.0 - need) * (score - SIMILARITY) / (1.0 - SIMILARITY)), 3)
        return round(max(0.0, need * score / SIMILARITY), 3)

    def _decided_confidence(self, value: float) -> float:
        """A classifier's decision value as a confidence: ``CLASSIFY_AT`` is the template's threshold, a value of
        1 (the side of the margin the examples sit on) is 1.0, -1 is 0."""
        need = self.threshold / 100.0
        if value >= CLASSIFY_AT:
            return round(min(1.0, need + (1.0 - need) * (value - CLASSIFY_AT) / (1.0 - CLASSIFY_AT)), 3)
        return round(max(0.0, need * (value + 1.0) / (CLASSIFY_AT + 1.0)), 3)

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
