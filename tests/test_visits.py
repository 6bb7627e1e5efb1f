"""A visit's details read back as a person says them (conversation/visits.py), and in whole calls."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

from conversation.visits import visit_phrase
from tests.conftest import CHICAGO, Clock, make_app
from tests.twilio_helpers import call, said


@pytest.mark.parametrize("details, phrase", [
    ("come tomorrow morning, 12 oak street", "a visit tomorrow morning at 12 Oak Street"),
    ("yeah you can come tomorrow morning, 12 oak street", "a visit tomorrow morning at 12 Oak Street"),
    ("Come tomorrow morning, 12 Oak Street.", "a visit tomorrow morning at 12 Oak Street"),
    ("tomorrow afternoon works, 400 W Camelback Rd", "a visit tomorrow afternoon at 400 West Camelback Road"),
    ("any time after 3 on friday, address is 9 elm", "a visit any time after 3 on Friday at 9 Elm"),
    ("um we're at 22 Pine Road and mornings are best", "a visit any morning at 22 Pine Road"),
    ("next monday", "a visit next Monday"),
    ("it's 42 Oak Street, and tomorrow morning works", "a visit tomorrow morning at 42 Oak Street"),
    ("12 oak street tomorrow morning", "a visit tomorrow morning at 12 Oak Street"),
    ("how about thursday at 2, 88 maple avenue apt 4", "a visit at 88 Maple Avenue, apartment 4, on Thursday at 2"),
    ("that'd be great, 15 birch lane, the gate code is 4411", "a visit at 15 Birch Lane, the gate code is 4411"),
    ("between 2 and 4 on tuesday, 5 main st", "a visit between 2 and 4 on Tuesday at 5 Main Street"),
    ("we're in Round Rock, friday afternoon", "a visit on Friday afternoon in Round Rock"),
    ("whenever, 77 Maple Ave", "a visit any time at 77 Maple Avenue"),
    ("asap please, 9 elm street", "a visit as soon as possible at 9 Elm Street"),
    ("saturday morning if possible, 12 5th st", "a visit on Saturday morning if possible at 12 5th Street"),
    ("you can come by monday after 5pm, we're at 100 n main st unit b",
     "a visit on Monday after 5pm at 100 North Main Street, unit B"),
    # A clause that is neither a time nor a street is said as the caller said it (their "my" as "your").
    ("any day but tuesday, 9 elm st", "a visit at 9 Elm Street, any day but tuesday"),
    ("same address as last time, tomorrow", "a visit tomorrow, same address as last time"),
    ("monday, 12 oak st, my dog is friendly", "a visit on Monday at 12 Oak Street, your dog is friendly"),
    # As the recognizer writes it: capitals, full stops, a question mark.
    ("Tomorrow afternoon works. 400 W Camelback Rd.", "a visit tomorrow afternoon at 400 West Camelback Road"),
    ("Yeah, you can come Thursday between 1 and 3. 55 Elm St.", "a visit on Thursday between 1 and 3 at 55 Elm Street"),
    ("How about Wednesday around noon? 1200 Research Blvd, Suite 210, Austin.",
     "a visit on Wednesday around noon at 1200 Research Boulevard, Suite 210, Austin"),
    ("tomorrow at 10 a.m., 3 oak lane", "a visit at 3 Oak Lane, tomorrow at 10 a.m."),
    # What does not suit is said whole, never cut to the time it names; a hedge stays.
    ("friday is not good, monday works, 9 elm st", "a visit on Monday at 9 Elm Street, friday is not good"),
    ("you can't come before 3, 9 elm st", "a visit at 9 Elm Street, you can't come before 3"),
    ("maybe tuesday, 12 oak st", "a visit maybe on Tuesday at 12 Oak Street"),
])
def test_a_visit_is_said_back_the_way_a_person_says_it(details, phrase):
    assert visit_phrase(details) == phrase


@pytest.mark.parametrize("details", ["the back door is unlocked", "I'm not sure yet, my wife knows",
                                     "call me first", ""])
def test_words_with_no_time_or_place_have_no_phrase(details):
    assert visit_phrase(details) is None  # read back as the caller said them


def test_the_address_asked_on_its_own_goes_into_the_phrase():
    assert visit_phrase("next monday", "12 oak street") == "a visit next Monday at 12 Oak Street"


@pytest.mark.parametrize("details", [
    "come tomorrow morning, 12 oak street", "um we're at 22 Pine Road and mornings are best",
    "any time after 3 on friday, address is 9 elm", "monday, 12 oak st, my dog is friendly, he barks",
    "how about thursday at 2, 88 maple avenue apt 4", "whenever, 77 Maple Ave",
])
def test_no_word_the_caller_gave_is_lost(details):
    """Every word but the lead-ins ("come", "um", "we're", "address is") and the "works"/"are best" is said back."""
    phrase = visit_phrase(details).lower()
    gone = {"come", "um", "we", "re", "are", "best", "address", "is", "and", "whenever", "apt", "ave", "st", "how", "about",
            "my"}
    for word in re.findall(r"[a-z0-9]+", details.lower()):
        assert word in gone or word in phrase or word.rstrip("s") in phrase, (word, phrase)


def test_a_word_that_would_be_lost_keeps_the_callers_words():
    # "but" after a time is not a time: the clause is kept whole, never half of it.
    assert "any day but tuesday" in visit_phrase("any day but tuesday, 9 elm st")


def _lines(result):
    return [said(ET.fromstring(body))[0] for url, _, status, body in result.exchanges if "/voice/status" not in url]


def test_the_booking_read_back_sounds_natural_and_the_team_gets_the_callers_words(tmp_path):
    app = make_app(tmp_path / "d", CLOCK=Clock(datetime(2026, 1, 5, 10, 0, tzinfo=CHICAGO)))
    result = call(app, "my furnace is making a banging noise", "yes please", "come tomorrow morning, 12 oak street",
                  "Sam Lee", "512 555 0134", "yes")
    lines = _lines(result)
    assert lines[5].startswith("Just to confirm, I have a visit tomorrow morning at 12 Oak Street, your name as Sam Lee")
    assert "come tomorrow" not in lines[5] and "visit details" not in lines[5]
    stored = list(app.extensions["docstore"]["messages"].find({"call_sid": result.call_sid}))[0]
    assert stored["message"] == "come tomorrow morning, 12 oak street"  # the whole answer, as said


def test_unusual_details_are_still_read_back_whole(tmp_path):
    app = make_app(tmp_path / "d", CLOCK=Clock(datetime(2026, 1, 5, 10, 0, tzinfo=CHICAGO)))
    result = call(app, "my furnace is making a banging noise", "yes please",
                  "tomorrow, 9 elm st, the side gate sticks so knock loud", "Sam Lee", "512 555 0134", "yes")
    readback = _lines(result)[5]
    assert "a visit tomorrow at 9 Elm Street, the side gate sticks so knock loud" in readback, readback


@pytest.mark.parametrize("details, address, phrase", [
    ("yeah tomorrow works, or actually no, thursday is better", "22 elm street", "a visit on Thursday at 22 Elm Street"),
    ("monday, actually make it tuesday afternoon, 9 elm", None, "a visit on Tuesday afternoon at 9 Elm"),
    ("14 oak street, tomorrow, no wait, friday", None, "a visit on Friday at 14 Oak Street"),
    ("the gate code is 4411, tomorrow, actually friday", None, "a visit on Friday, the gate code is 4411"),
])
def test_a_time_taken_back_is_not_read_back(details, address, phrase):
    assert visit_phrase(details, address) == phrase


@pytest.mark.parametrize("details, correction, new", [
    ("tomorrow morning, 12 oak street", "no, the address is 14 oak street", "tomorrow morning, 14 oak street"),
    ("tomorrow morning, 12 oak street", "make it friday instead", "12 oak street, friday"),
    ("12 oak street tomorrow morning", "no, friday afternoon", "12 oak street, friday afternoon"),
    ("come tomorrow, 12 oak street, gate code 4411", "the address is 14 elm street",
     "come tomorrow, gate code 4411, 14 elm street"),
    ("tomorrow morning, 12 oak street", "no, my name is wrong", None),
    ("tomorrow morning, 12 oak street", "no", None),
])
def test_a_correction_at_the_read_back_replaces_the_place_or_the_time(details, correction, new):
    from conversation.visits import patched
    assert patched(details, correction) == new


def test_the_address_corrected_at_the_read_back_is_said_back_and_stored(tmp_path):
    app = make_app(tmp_path / "d")
    result = call(app, "my AC stopped working", "tomorrow morning, 12 oak street", "Sam Lee", "512 555 0134",
                  "no, the address is 14 oak street", "yes")
    lines = [said(ET.fromstring(body))[0] for url, _, status, body in result.exchanges if "/voice/status" not in url]
    assert lines[5] == "Got it, a visit tomorrow morning at 14 Oak Street. Is everything else right?", lines[5]
    assert "passed your visit request" in lines[6]
    stored = list(app.extensions["docstore"]["messages"].find({"call_sid": result.call_sid}))
    assert "14 oak street" in stored[0]["message"] and "12 oak street" not in stored[0]["message"]


@pytest.mark.parametrize("details, address, phrase", [
    ("uh next tuesday afternoon if that works", "1200 maple drive", "a visit next Tuesday afternoon at 1200 Maple Drive"),
    ("any time friday if thats ok", "5 elm st", "a visit any time Friday at 5 Elm Street"),
    ("monday if you guys can, 9 birch lane", None, "a visit on Monday at 9 Birch Lane"),
])
def test_if_that_works_after_a_time_is_not_read_back(details, address, phrase):
    assert visit_phrase(details, address) == phrase


@pytest.mark.parametrize("details, address, phrase", [
    ("Thursday afternoon", "14 Pearl St, no wait, 40 Pearl St", "a visit on Thursday afternoon at 40 Pearl Street"),
    ("14 Pearl St, no wait, 40 Pearl St, thursday", None, "a visit on Thursday at 40 Pearl Street"),
    ("thursday, 14 pearl st, sorry i mean 40 pearl st", None, "a visit on Thursday at 40 Pearl Street"),
])
def test_a_street_taken_back_in_the_same_breath_is_not_read_back(details, address, phrase):
    assert visit_phrase(details, address) == phrase
