"""A caller who speaks Spanish: recognised, answered in Spanish (es-US), connected or a message taken."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

import policy

from conversation import spanish
from conversation.types import Listening
from tests.conftest import CLOSED, ROOT, Clock, make_app
from tests.twilio_helpers import call, calls_coll, said

HVAC, ELECTRIC = "+15125550100", "+16025550300"
CALLER = "+15125550123"


def replies(result):
    """The parsed TwiML of every answered webhook, in order (the greeting first)."""
    return [ET.fromstring(body) for url, _, status, body in result.exchanges if "/voice/status" not in url]


def messages(app, result):
    return list(app.extensions["docstore"]["messages"].find({"call_sid": result.call_sid}))


def sms(app, result):
    return list(app.extensions["docstore"]["notifications"].find({"call_sid": result.call_sid, "kind": "message"}))


def spoken_in(root):
    """(language, voice) of every Say in a TwiML document."""
    return {(el.get("language"), el.get("voice")) for el in root.iter("Say")}


@pytest.fixture
def electric(app, runner):
    runner.invoke(args=["company", "import", str(ROOT / "examples" / "companies" / "demo-electric.yaml")])
    return app


# --- recognising Spanish ------------------------------------------------------------------------------------

@pytest.mark.parametrize("words", [
    "hola necesito ayuda con mi aire acondicionado", "¿hablan español?", "hablan espanol", "no hablo inglés",
    "No hablo ingles", "¿Alguien habla español?", "hola", "¿Bueno?", "Hola, buenas tardes",
    "mi calefacción no funciona", "el aire no enfría y hace mucho calor", "quiero hacer una cita",
    "huelo gas en la cocina", "hay humo", "fuego", "se está inundando el sótano", "necesito un técnico por favor",
    "do you speak Spanish?", "is there anyone who speaks Spanish", "no English, sorry",
    "buenos días, tengo un problema con el calentador", "cuánto cuesta la visita", "tengo un problema",
    "oiga, el calentador de agua gotea", "se apagó la luz", "el inodoro está tapado", "pues mire, es que no prende",
])
def test_spanish_is_recognised(words):
    assert spanish.speaks_spanish(words)


@pytest.mark.parametrize("words", [
    "Maria Lopez", "my name is José García", "I live on Camelback Road", "we're in San Antonio",
    "I'm out in El Paso, do you come out here", "it's 400 W Camelback Rd, mornings are best",
    "1200 Calle del Sol", "Paseo de la Luz in Casa Grande", "do you service Mesa and Agua Fria",
    "Los Angeles, Las Vegas, Santa Fe, Del Rio", "ok gracias, bye", "hola, what are your hours",
    "yo my AC is broken", "no heat", "gracias", "my tenant only speaks Spanish, can you send someone",
    "the unit is a Bueno Air model", "Rosa Hernandez, 512 555 0147", "Buenos Aires street", "si", "Luz Maria Santos",
    "what are your hours", "there's water everywhere", "I smell gas", "que sera sera",
    "I speak English", "the gas stove", "Mi Casa restaurant on Rio Grande", "La Casa del Sol", "Casa Grande",
    "Luz Santos, San Antonio", "I need someone to visit", "the problem is the thermostat", "Mira Costa Drive",
])
def test_english_with_spanish_names_and_places_is_not_spanish(words):
    assert not spanish.speaks_spanish(words)


@pytest.mark.parametrize("words, danger", [
    ("huelo gas", "I smell gas"), ("hay olor a gas en la casa", "I smell gas"), ("hay humo", "smoke"),
    ("fuego en la cocina", "on fire"), ("el enchufe echa chispas", "sparking"),
    ("se está inundando el sótano", "flooding"), ("es una emergencia", "emergency"),
    ("no huelo gas, solo no prende", None), ("no hay humo", None), ("la estufa de gas no prende", None),
    ("necesito ayuda con mi aire", None), ("no huelo gas pero hay humo en el sótano", "smoke"),
    ("¿me llamas mañana?", None), ("huele a quemado en el panel", "burning smell"),
])
def test_danger_said_in_spanish(words, danger):
    assert spanish.danger(words) == danger


@pytest.mark.parametrize("words, phone", [
    ("512 555 0166", "+15125550166"), ("es el 512-555-0166", "+15125550166"),
    ("cinco uno dos cinco cinco cinco cero uno seis seis", "+15125550166"), ("sí", None), ("no sé", None),
])
def test_a_phone_number_said_in_digits_or_spanish_words(words, phone):
    assert spanish.phone_in(words, "US") == phone


@pytest.mark.parametrize("words, name", [
    ("María López", "María López"), ("me llamo José García", "José García"), ("mi nombre es ana", "Ana"),
    ("sí, soy Juan Pérez", "Juan Pérez"), ("sí", None), ("", None),
])
def test_a_name(words, name):
    assert spanish.name_in(words) == name


def test_wanting_english_back():
    assert spanish.wants_english("oh, I speak English, sorry")
    assert spanish.wants_english("in English is fine")
    assert not spanish.wants_english("no hablo inglés")
    assert not spanish.wants_english("I don't speak English")


def test_listening_in_spanish_keeps_the_kind_of_voice_and_drops_the_english_model():
    base = Listening(voice="Polly.Joanna", hints="furnace, heat pump", speech_model="phone_call", enhanced=True,
                     speech_timeout="2")
    es = spanish.listening(base)
    assert (es.language, es.voice, es.hints, es.speech_model, es.enhanced, es.speech_timeout) == \
        ("es-US", "Polly.Lupe", "", None, False, "2")
    assert spanish.listening(Listening(voice="Polly.Matthew")).voice == "Polly.Miguel"
    assert spanish.listening(es) == es


# --- whole calls ------------------------------------------------------------------------------------------------

def test_a_spanish_caller_is_connected_to_the_person_a_general_request_reaches(app):
    result = call(app, "hola necesito ayuda con mi aire acondicionado")
    reply = replies(result)[1]
    assert reply.find("./Dial/Number").text == "+15125550101"
    text = said(reply)[0]
    assert "asistente virtual" in text and "inglés" in text and "Le comunico" in text
    assert spoken_in(reply) == {("es-US", "Polly.Lupe")}
    goodbye = replies(result)[2]
    assert said(goodbye)[0].startswith("Gracias por llamar") and spoken_in(goodbye) == {("es-US", "Polly.Lupe")}
    assert "spanish" in calls_coll(app).find_one({"_id": result.call_sid})["tags"]


def test_closed_a_message_is_taken_in_spanish_with_the_callers_own_words(tmp_path):
    app = make_app(tmp_path / "data", CLOCK=Clock(CLOSED))
    result = call(app, "hola necesito ayuda con mi aire acondicionado", "Me llamo María López", "sí")
    offer, asked_number, done = replies(result)[1:4]
    assert offer.find(".//Dial") is None
    gather = offer.find("./Gather")
    assert gather.get("language") == "es-US" and gather.get("speechModel") is None
    assert spoken_in(offer) == {("es-US", "Polly.Lupe")}
    assert "mensaje" in said(offer)[0] and said(offer)[0].endswith("¿Me dice su nombre, por favor?")
    assert said(asked_number)[0] == "Gracias, María. ¿Le devolvemos la llamada a este mismo número?"
    assert done.find("./Hangup") is not None and "habla español" in said(done)[0]
    [message] = messages(app, result)
    assert (message["name"], message["callback_phone"], message["language"]) == ("María López", CALLER, "es")
    assert "aire acondicionado" in message["message"]
    [text] = sms(app, result)
    assert "who speaks Spanish" in text["body"] and "aire acondicionado" in text["body"]


def test_a_company_with_no_general_transfer_takes_a_message_asking_what_it_is_about(electric):
    result = call(electric, "¿hablan español?", "José García", "no, a otro", "seis cero dos cinco cinco cinco cero uno "
                  "tres tres", "se me fue la luz en la cocina", to=ELECTRIC)
    heard = [said(r)[0] for r in replies(result)[1:]]
    assert not [e for e in result.events if e.kind == "dial"]
    assert heard[2] == spanish.ASKED["number"]
    assert heard[3] == spanish.WHAT_LINE
    assert "6 0 2, 5 5 5, 0 1 3 3" in heard[4]
    [message] = messages(electric, result)
    assert (message["name"], message["callback_phone"]) == ("José García", "+16025550133")
    assert "hablan español" in message["message"] and "luz en la cocina" in message["message"]


def test_gas_said_in_spanish_reaches_on_call_with_the_safety_line_in_spanish(app):
    result = call(app, "huelo gas en la cocina")
    reply = replies(result)[1]
    assert reply.find("./Dial/Number").text == "+15125550199"
    assert "salgan todos de la casa" in said(reply)[0] and spoken_in(reply) == {("es-US", "Polly.Lupe")}


def test_smoke_said_in_spanish_reaches_on_call_and_a_failed_dial_takes_a_message(electric):
    result = call(electric, "hay humo en el panel", "Ana Ruiz", "sí", to=ELECTRIC, dial_status="busy")
    assert [e.text for e in result.events if e.kind == "dial"] == ["+16025550399"]
    after = replies(result)[2]
    assert said(after)[0] == spanish.DIAL_FAILED_LINE and after.find("./Gather").get("language") == "es-US"
    [message] = messages(electric, result)
    assert message["name"] == "Ana Ruiz" and "humo" in message["message"] and message["reason"] == "busy"


def test_silence_in_spanish_asks_again_in_spanish(electric):
    result = call(electric, "no hablo inglés", "", "", "", to=ELECTRIC)
    heard = [said(r)[0] for r in replies(result)[2:]]
    assert heard[0] == "Perdone, no le escuché. ¿Me dice su nombre, por favor?"
    assert heard[1] == "¿Sigue ahí? ¿Me dice su nombre, por favor?"
    assert heard[2] == spanish.SILENCE_GOODBYE and replies(result)[-1].find("./Hangup") is not None


def test_english_is_fine_takes_the_call_back_to_english(electric):
    result = call(electric, "¿hablan español?", "oh ok, in English is fine", "what are your hours", to=ELECTRIC)
    back, hours = replies(result)[2:4]
    assert said(back)[0] == spanish.ENGLISH_LINE and back.find("./Gather").get("language") == "en-US"
    assert "7:30" in said(hours)[0]


def test_a_spanish_goodbye_ends_the_call(electric):
    result = call(electric, "¿hablan español?", "no, gracias, adiós", to=ELECTRIC)
    last = replies(result)[-1]
    assert last.find("./Hangup") is not None and said(last)[0].startswith("Gracias por llamar")
    assert not messages(electric, result)


def test_english_callers_with_spanish_names_keep_the_english_flow(app):
    result = call(app, "can someone call me back", "Maria Lopez", "512 555 0133", "about my heat pump in San Antonio",
                  "yes")
    assert all(el.get("language") == "en-US" for r in replies(result) for el in r.iter("Say"))
    [message] = messages(app, result)
    assert message["name"] == "Maria Lopez" and "language" not in message


def test_what_they_need_said_instead_of_a_name_is_kept_and_the_name_asked_again(electric):
    result = call(electric, "no hablo inglés", "tengo un enchufe que no sirve en el baño", "Carmen Ruiz", "sí",
                  to=ELECTRIC)
    heard = [said(r)[0] for r in replies(result)[1:]]
    assert heard[1] == spanish.NOTED_LINE and heard[2].startswith("Gracias, Carmen.")
    [message] = messages(electric, result)
    assert message["name"] == "Carmen Ruiz" and "enchufe que no sirve" in message["message"]


def test_a_company_that_takes_no_messages_and_cannot_connect_says_so_in_spanish_and_ends_the_call():
    from conversation.messages import Messages
    from tests.conftest import compile_, ctx

    pol = compile_(allowedActions=["PROVIDE_HOURS"])
    session = {"call_sid": "CA1", "from": CALLER, "to": HVAC}
    turn = spanish.Spanish(Messages(None, None, clock=lambda: 0.0))  # nothing is stored on this path
    decision = turn.turn(pol, ctx(), session, "¿hablan español?", policy.route(pol, "x", ctx()))
    assert decision.action == "HANGUP" and "llámenos de nuevo" in decision.response and "spanish" in decision.tags


def test_a_repeated_delivery_of_a_spanish_turn_is_answered_in_spanish_again(tmp_path):
    from tests.twilio_helpers import form, signed_post, twiml

    app = make_app(tmp_path / "data", CLOCK=Clock(CLOSED))
    client = app.test_client()
    sid = "CA" + "5" * 32
    twiml(signed_post(client, "/voice", form(sid)))
    first = twiml(signed_post(client, "/voice/turn?seq=1", form(sid, SpeechResult="¿hablan español?")))
    again = twiml(signed_post(client, "/voice/turn?seq=1", form(sid, SpeechResult="¿hablan español?")))
    assert ET.tostring(first) == ET.tostring(again)
    gather = again.find("./Gather")
    assert gather.get("language") == "es-US" and gather.get("speechModel") is None and not gather.get("hints")
    assert spoken_in(again) == {("es-US", "Polly.Lupe")}


def test_an_unclear_answer_about_the_number_is_asked_once_more_then_their_own_number_is_used(electric):
    result = call(electric, "no hablo inglés", "Carmen", "no sé", "eh", "el aire no enfría", to=ELECTRIC)
    heard = [said(r)[0] for r in replies(result)[1:]]
    assert heard[2] == spanish.SAME_NUMBER_AGAIN_LINE and heard[3] == spanish.WHAT_LINE
    [message] = messages(electric, result)
    assert message["callback_phone"] == CALLER and "no enfría" in message["message"]


def test_a_caller_who_withholds_their_number_is_asked_for_one(electric):
    result = call(electric, "no hablo inglés", "Carmen Ruiz", "602 555 0144", "el aire no enfría", to=ELECTRIC,
                  caller="anonymous")
    heard = [said(r)[0] for r in replies(result)[1:]]
    assert heard[1] == "Gracias, Carmen. ¿A qué número le podemos llamar?"
    [message] = messages(electric, result)
    assert message["callback_phone"] == "+16025550144"


def test_the_caller_gets_a_longer_pause_while_saying_a_number(electric):
    result = call(electric, "no hablo inglés", "Carmen Ruiz", "no", "602 555 0144", "el aire no enfría", to=ELECTRIC)
    asked_name, asked_same, asked_number, asked_what = replies(result)[1:5]
    assert asked_name.find("./Gather").get("speechTimeout") == "2"
    assert asked_same.find("./Gather").get("speechTimeout") == "2"
    assert asked_number.find("./Gather").get("speechTimeout") == "3"
    assert asked_what.find("./Gather").get("speechTimeout") == "3"


@pytest.mark.parametrize("words, spanish_wanted", [
    ("how do you say thank you in spanish", False), ("what is thank you in spanish", False),
    ("can you translate hello to spanish", False),
    ("in spanish please", True), ("can you say that in spanish", True), ("please talk to me in spanish", True)])
def test_asking_how_to_say_something_in_spanish_is_not_asking_for_spanish(words, spanish_wanted):
    assert spanish.speaks_spanish(words) is spanish_wanted
