"""Asked for a number, the caller speaks of the name we took: a yes, the name again, or a late correction."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from conversation.collect import name_again
from conversation.names import known_name
from tests.twilio_helpers import call, said


@pytest.mark.parametrize("words", ["yes that's right, Lee", "yes that's right", "that's correct", "Lee", "Sam Lee",
                                   "yes, Sam", "yeah Sam Lee", "my name is Sam Lee", "correct, it's Sam Lee"])
def test_the_name_said_again_or_confirmed_is_the_name_we_have(words):
    assert name_again(words, "Sam Lee", known_name) == ""


@pytest.mark.parametrize("words, name", [("Sam Leigh", "Sam Leigh"), ("it's Sam Leigh", "Sam Leigh"),
                                         ("my name is Sam Leigh", "Sam Leigh"),
                                         ("my name is Maria Gomez", "Maria Gomez")])
def test_a_late_correction_of_the_name_is_taken(words, name):
    assert name_again(words, "Sam Lee", known_name) == name


@pytest.mark.parametrize("words", ["512 555 0134", "it's my cell", "Maria Gomez", "I don't know", "no",
                                   "why do you need that", "hold on", "it's five one two five five five", "that's it"])
def test_other_words_are_not_about_the_name(words):
    assert name_again(words, "Sam Lee", known_name) is None


def _lines(result):
    return [said(ET.fromstring(body))[0] for url, _, status, body in result.exchanges if "/voice/status" not in url]


def test_a_yes_and_the_name_for_the_number_is_acknowledged_and_the_number_asked_in_other_words(app):
    result = call(app, "can I talk to someone about my bill", "Sam Lee", "yes that's right, Lee", "512 555 0134")
    lines = _lines(result)
    assert lines[3] in ("Thanks, Sam. And what's a good number to call you back on?",
                        "Great, Sam. And what's a good number to call you back on?"), lines[3]
    assert "Sorry" not in lines[3] and "your name as Sam Lee" in lines[4]


def test_the_name_said_twice_for_the_number_never_gets_the_same_reply_twice(app):
    result = call(app, "can I talk to someone about my bill", "Sam Lee", "Sam Lee", "Lee", "512 555 0134")
    lines = _lines(result)
    assert lines[3] != lines[4] and "Sorry" not in lines[3] + lines[4], lines
    assert "callback phone as 5 1 2, 5 5 5, 0 1 3 4" in lines[5]


def test_a_late_name_correction_said_for_the_number_is_taken(app):
    result = call(app, "can I talk to someone about my bill", "Sam Lee", "it's Sam Leigh", "512 555 0134")
    lines = _lines(result)
    assert lines[3] == "Got it, Sam Leigh. What's the best number to reach you?"
    assert "your name as Sam Leigh" in lines[4]


def test_one_part_of_the_name_spelled_for_the_number_keeps_the_rest(app):
    result = call(app, "can I talk to someone about my bill", "Sam Lee", "L E I G H", "512 555 0134")
    lines = _lines(result)
    assert lines[3] == "Thank you, Sam. What's the best number to reach you?"
    assert "your name as Sam Leigh" in lines[4]
