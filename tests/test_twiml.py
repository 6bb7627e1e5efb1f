"""TwiML: the cached Say-and-Gather frame gives exactly what the helper library builds, on hostile text too."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

import pytest

from conversation.types import Listening
from voice import twiml

LISTENINGS = [Listening(), Listening(hints="furnace, no heat, A/C & heat pump", speech_model="phone_call",
                                     enhanced=True, speech_timeout="2", profanity_filter=False),
              Listening(language="es-US", voice="Polly.Lupe", expecting="PHONE", speech_timeout="3"),
              Listening(hints='quote "marks" <b>, \ue000odd\ue000')]  # a frame the stand-ins cannot use
TEXTS = ["Ok, our office hours are 8 a.m. to 5 p.m.", "", "   ", "Tom & Jerry's <b>bold</b> \"quoted\" 'it'",
         "line\nbreak\ttab\rreturn", "\x00\x07 control \ufffe", "x" * 2000, "a ]]> b", "\ue000words\ue000 sneaky",
         "Café — naïve 日本語 🎉", "&amp; already escaped &lt;"]
URLS = ["/voice/turn?seq=2", "https://example.com/voice/turn?seq=3&x=\"1\"<2>", "https://h/v?a=b\nc", "\ue000url\ue000"]


def lib(text, url, listening, barge_in):
    return twiml._respond(text, action_url=url, listening=listening, barge_in=barge_in)


@pytest.mark.parametrize("listening", LISTENINGS)
@pytest.mark.parametrize("barge_in", [True, False])
def test_the_cached_frame_is_what_the_helper_library_builds(listening, barge_in):
    for text in TEXTS:
        for url in URLS:
            got = twiml.respond(text, action_url=url, listening=listening, barge_in=barge_in)
            assert got == lib(text, url, listening, barge_in), (text, url)
            ET.fromstring(got)  # well-formed


def test_random_text_renders_the_same_both_ways():
    rnd = random.Random(7)
    alphabet = "abc XYZ&<>\"'\n\t\r;:/?=%#]\x01\u00e9\u2014\U0001f600"
    for _ in range(3000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40)))
        url = "/voice/turn?seq=%d%s" % (rnd.randint(0, 99), "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 5))))
        listening = rnd.choice(LISTENINGS[:3])
        barge_in = rnd.random() < 0.5
        assert twiml.respond(text, action_url=url, listening=listening, barge_in=barge_in) == \
            lib(text, url, listening, barge_in), (text, url)
