"""The engine's quick paths give what the scans they stand in front of give (seeded random texts).

Each quick path (a byte table, a test of what a scan cannot do without, ``str.find`` instead of a
case-blind scan) must decide exactly as the full scan; ``bench/engine_diff.py`` checks whole turns
against another tree, these check each path against its reference in this one.
"""

from __future__ import annotations

import random

import pytest

from policy import behavior, canon, guardrails
from policy.compiler import builtin_data
from policy.text import ascii_words, normalize

PIECES = ("you guys", "no problem", "cool", "cooling", "_cool", "cool2", "Yeah", "yeah's", "NO PROBLEM", "sure thing",
          "hey", "awesome folks", "are you", "is it", "can y'all", "what", "um,", "quick question", "I need",
          "i'd like", "book", "set up", "urgent", "leave the house", "911", "get out", "www.", "http://", ".com",
          "8 a.m.", "a.b", "x.\u0131o", "a c", "i a", "five", "twenty-one", "it's", "don't", "#cold", "5", "a_b")
ALPHABET = "ab xyzK $.,!?'`\"-/:;_{}()0123456789\t\n\x0b\x1c\xa0\u2003\u212a\u017fé"


def _texts(seed: int, count: int = 3000) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rnd.randint(0, 10)):
            piece = rnd.choice(PIECES) if rnd.random() < 0.6 else "".join(rnd.choices(ALPHABET, k=rnd.randint(1, 3)))
            parts.append(piece.upper() if rnd.random() < 0.1 else piece)
            parts.append(rnd.choice((" ", " ", "  ", ", ", ". ", "? ", "-", "")))
        out.append("".join(parts))
    return out


@pytest.fixture(scope="module")
def polite() -> behavior.BehaviorRules:
    return behavior.BehaviorRules({"behaviorRules": ["POLITE_PROFESSIONAL"],
                                   "politeReplacements": dict(builtin_data("polite"))})


def test_casual_phrases_found_where_the_scan_finds_them(polite):
    def repl(m):
        new = polite._polite_map[m.group(0).lower()]
        return new[:1].upper() + new[1:] if m.group(0)[:1].isupper() else new
    for text in _texts(1):
        assert polite.formal(text) == polite._polite.sub(repl, text), text


def test_what_the_caller_did_is_read_as_the_scans_read_it():
    for text in _texts(2):
        expected = ("question" if behavior._QUESTION.search(text) else
                    "request" if behavior._REQUEST.search(text) else "statement")
        assert behavior._asked(text) == expected, text


def test_urgent_replies_still_take_no_acknowledgement():
    for text in _texts(3):
        expected = bool(text) and not behavior._NO_ACK.match(text) and not behavior._URGENT.search(text)
        assert behavior._takes_ack.__wrapped__(text) == expected, text


def test_quick_tests_never_rule_out_a_leak():
    for text in _texts(4):
        if guardrails.URL.search(text):
            assert guardrails._may_hold_url(text), text
        if text.isascii():
            assert [w.decode() for w in ascii_words(text)] == normalize(text).split(), text


def test_words_are_the_tokenizer_words():
    for text in _texts(5):
        prepared = canon._prepare(text)
        assert canon._tokens(prepared) == canon._TOKEN.findall(prepared), text
