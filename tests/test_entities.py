"""Spoken entities as speech recognition writes them, normalized (a table of 40+ cases)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import re2

from policy import entities
from policy.entities import correction, normalize, patch_phone, spoken

CHI = ZoneInfo("America/Chicago")
#: Thursday 2026-03-12, 10:00 in Chicago.
NOW = datetime(2026, 3, 12, 10, 0, tzinfo=CHI)

CASES = [
    # PHONE
    ("PHONE", "five one two, five five five, zero one nine nine", "+15125550199"),
    ("PHONE", "512 555 0199", "+15125550199"),
    ("PHONE", "(512) 555-0199", "+15125550199"),
    ("PHONE", "+1 512 555 0199", "+15125550199"),
    ("PHONE", "1-512-555-0199", "+15125550199"),
    ("PHONE", "my number is 512.555.0199", "+15125550199"),
    ("PHONE", "five one two five five five oh one nine nine", "+15125550199"),
    ("PHONE", "five one two double five five zero one nine nine", "+15125550199"),
    ("PHONE", "it's 512-555-0199.", "+15125550199"),
    ("PHONE", "yeah you can reach me at 5125550199", "+15125550199"),
    ("PHONE", "plus four four two zero seven nine four six zero nine five eight", "+442079460958"),
    ("PHONE", "555 0199", None),
    ("PHONE", "I don't know", None),
    ("PHONE", "123", None),
    # EMAIL
    ("EMAIL", "john dot smith at gmail dot com", "john.smith@gmail.com"),
    ("EMAIL", "John.Smith@Gmail.com", "john.smith@gmail.com"),
    ("EMAIL", "my email is jane underscore doe at yahoo dot co dot uk", "jane_doe@yahoo.co.uk"),
    ("EMAIL", "bob dash jones at example dot org", "bob-jones@example.org"),
    ("EMAIL", "j o h n at aol dot com", "john@aol.com"),
    ("EMAIL", "john at gmail", None),
    ("EMAIL", "just call me", None),
    ("EMAIL", "a at b at c dot com", None),
    # DATE (now: Thursday 2026-03-12)
    ("DATE", "tomorrow", "2026-03-13"),
    ("DATE", "today", "2026-03-12"),
    ("DATE", "the day after tomorrow", "2026-03-14"),
    ("DATE", "next Tuesday", "2026-03-17"),
    ("DATE", "Tuesday", "2026-03-17"),
    ("DATE", "this Thursday", "2026-03-12"),
    ("DATE", "next Thursday", "2026-03-19"),
    ("DATE", "the 5th", "2026-04-05"),
    ("DATE", "the twentieth", "2026-03-20"),
    ("DATE", "the twenty first", "2026-03-21"),
    ("DATE", "March 20th", "2026-03-20"),
    ("DATE", "march fifth", "2027-03-05"),
    ("DATE", "the 3rd of April", "2026-04-03"),
    ("DATE", "4/2", "2026-04-02"),
    ("DATE", "in three days", "2026-03-15"),
    ("DATE", "2026-05-01", "2026-05-01"),
    ("DATE", "next week", "2026-03-16"),
    ("DATE", "February 30th", None),
    ("DATE", "whenever", None),
    # TIME
    ("TIME", "3 pm", "15:00"),
    ("TIME", "3:30 p.m.", "15:30"),
    ("TIME", "quarter past ten", "10:15"),
    ("TIME", "half past two", "14:30"),
    ("TIME", "quarter to five", "16:45"),
    ("TIME", "ten in the morning", "10:00"),
    ("TIME", "noon", "12:00"),
    ("TIME", "15:00", "15:00"),
    ("TIME", "three thirty", "15:30"),
    ("TIME", "nine o'clock", "09:00"),
    ("TIME", "around 8 am", "08:00"),
    ("TIME", "seven forty five in the evening", "19:45"),
    ("TIME", "12 am", "00:00"),
    ("TIME", "sometime", None),
    ("TIME", "25:00", None),
    # PERSON, ADDRESS, TEXT
    ("PERSON", "my name is jane doe", "Jane Doe"),
    ("PERSON", "It's Bob.", "Bob"),
    ("PERSON", "  ", None),
    ("PERSON", "12345", None),
    ("PERSON", "I don't know", None),  # a sentence, not a name
    ("PERSON", "no sparks or smell, it just died", None),
    ("PERSON", "whatever", None),
    ("PERSON", "12 Birch Lane, any afternoon", None),
    ("PERSON", "oh sorry, it's Pat Quinn", "Pat Quinn"),
    ("PERSON", "Jose de la Cruz", "Jose de la Cruz"),
    ("PERSON", "Mary and Bill Jones", "Mary and Bill Jones"),
    ("ADDRESS", "I live at 12 Oak Street, Austin", "12 Oak Street, Austin"),
    ("TEXT", "  please call me back about the invoice  ", "please call me back about the invoice"),
    ("TEXT", "yeah please, 8 Cedar St, afternoons are best", "8 Cedar St, afternoons are best"),
]


@pytest.mark.parametrize("kind, said, expected", CASES)
def test_spoken_entities(kind, said, expected):
    result = normalize(kind, said, now=NOW)
    assert result.value == expected, (said, result)
    assert result.ok == (expected is not None)
    if not result.ok:
        assert result.reason


def test_the_table_is_big_enough():
    assert sum(1 for k, _, _ in CASES if k in ("PHONE", "EMAIL", "DATE", "TIME")) >= 40


def test_text_is_capped():
    assert len(normalize("TEXT", "x" * 2000, now=NOW).value) == 500
    assert len(normalize("PERSON", "a" * 300, now=NOW).value) == 100


def test_validation_pattern_applies_on_top():
    only_texas = re2.compile(r"^\+1(512|737)")
    assert normalize("PHONE", "512 555 0199", now=NOW, pattern=only_texas).ok
    bad = normalize("PHONE", "212 555 0199", now=NOW, pattern=only_texas)
    assert not bad.ok and "format" in bad.reason


def test_corrections():
    assert correction("no, it's 0198") == "0198"
    assert correction("actually it's Jane") == "Jane"
    assert correction("sorry I mean tuesday") == "tuesday"
    assert correction("Bob") is None
    assert correction("no") is None
    assert correction("no idea") is None and correction("no thanks") is None
    assert patch_phone("+15125550199", "0198").value == "+15125550198"
    assert patch_phone("+15125550199", "two one two five five five one two three four").value == "+12125551234"


@pytest.mark.parametrize("value, said", [
    ("+15125550199", "5 1 2, 5 5 5, 0 1 9 9"),
    ("2026-03-17", "Tuesday, March 17th"),
    ("2026-03-21", "Saturday, March 21st"),
    ("15:30", "3:30 p.m."),
    ("12:00", "noon"),
    ("john.smith@gmail.com", "john dot smith at gmail dot com"),
    ("Jane Doe", "Jane Doe"),
])
def test_spoken_read_back(value, said):
    assert spoken(value) == said


def test_kinds_cover_the_schema():
    from policy.schema import ENTITY_TYPES

    assert set(entities.KINDS) == set(ENTITY_TYPES)
