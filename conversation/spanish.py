"""A caller who speaks Spanish: recognised from their words, answered in Spanish (pure reading, then decisions).

The assistant understands English only, so it says so honestly in Spanish and then does something useful:
an emergency said in Spanish ("huelo gas", "hay humo") reaches the company's emergency rule; otherwise a caller
is connected to a person when the company would connect a general request and is open; else a short message is
taken in Spanish (name, a callback number, the caller's own words kept for the team). Every line here is our
own Spanish: the policy's guardrails and behavior rules are written for English and are not run over it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from typing import Any, Mapping

import policy
from policy.decision import BaseResponse, Decision, TurnContext
from policy.entities import normalize_phone, spoken

from . import urgency
from .dialogue import region_of
from .messages import Messages
from .types import Listening

#: How a Spanish call sounds and listens: es-US on both sides. The company's own speech model is left out
#: (the ones it may name are tuned for English); Twilio picks a provider for es-US itself.
LANGUAGE = "es-US"
MALE_VOICES = frozenset({"Polly.Matthew", "Polly.Joey", "Polly.Justin", "Polly.Kevin", "Polly.Stephen",
                         "Polly.Gregory", "Polly.Brian", "Polly.Russell", "Polly.Miguel", "Polly.Pedro"})
VOICES = ("Polly.Lupe", "Polly.Miguel")  # es-US, female and male

# --- recognising Spanish -------------------------------------------------------------------------------------

#: Words a caller speaking English does not say, even in a name or a place name: function words, verbs, and
#: the words of a call about a home (accents dropped).
_STRONG = frozenset("""
hola bueno buenas necesito necesitamos necesita ayuda ayudar ayudarme ayudame quiero queria quisiera tengo tenemos
tiene tienen puede pueden puedo podria podrian usted ustedes hablo habla hablan hablar espanol ingles gracias favor
senor senora senorita esta estan estoy estamos funciona funcionan sirve prende enciende acondicionado calefaccion
calentador llamar llamo llame llamada llamen llamarme porque pero muy tambien ahora aqui que cuando cuanto cuesta
cobran donde huelo huele humo fuego olor incendio emergencia urgente nombre numero telefono alguien trabajo servicio
calor frio nada manana hoy precio cita tecnico horas abierto abren cierran mi mis es para por eso esto soy somos
hace hacer necesitan disculpe perdon oiga gustaria ningun ninguna hay tuberia fuga chispas electricidad apagon
luces enchufe cocina sala cuarto bano sotano techo pared estufa horno caliente descompuso descompuesto
calienta enfria funcionando prendido apagado ayer semana problema problemas reparar arreglar revisar instalar
cambiar termostato calefactor hielo gotea gotera goteando tapado tapada drenaje inodoro fregadero lavabo regadera
ducha tubo plomero electricista apago prendio prender foco focos saber informacion cobra visita direccion vivo hijo
hija esposo esposa todavia otra vez pues entonces oye digame quisiera estaba estuvo tenia dijeron vinieron
""".split())
#: Spanish words that also live in English speech as names and places ("El Paso", "Casa Grande", "Mesa",
#: "Agua Fria", "Los Angeles", "Del Rio", "Luz", "Rosa"): never enough alone.
_WEAK = frozenset("""
el la los las de del con casa agua luz aire si y o un una como yo se lo le nos su sus mesa vista sol rio san santa
grande mucho poco bien mal amigo persona
""".split())
#: The words alone that open a call in Spanish ("¿Bueno?", "Hola, buenas").
_GREETINGS = frozenset("hola bueno buenas buenos dias tardes noches alo diga oiga disculpe perdon senor senora "
                       "senorita si".split())
#: Asking for Spanish, in either language ("¿hablan español?", "no hablo inglés", "do you speak Spanish?").
_ASKS_SPANISH = re.compile(
    r"\b(?:espanol|en espanol|no hablo (?:mucho |bien (?:el )?)?ingles|no habla(?:mos)? ingles|"
    r"(?:do|does|can) (?:you|anyone|anybody|someone|somebody)(?: there| here)? speak spanish|"
    r"(?:anyone|anybody|someone|somebody) (?:who|that) speaks spanish|"
    r"(?:i |we )?(?:do not|don'?t|no) (?:speak |talk |habla )?english)\b")
#: "In Spanish, please": asking to go on in Spanish, unless the caller asks how to say something in it.
_IN_SPANISH = re.compile(r"\b(?:in spanish|spanish,? please)\b")
_TRANSLATING = re.compile(r"\btranslat\w*|\bphrase\b|\bword for\b|\bwhat(?:'s| is) .{1,40} in spanish|"
                          r"\b(?:say|said|saying)\b(?! (?:that|it|this|everything|things)\b)")
_WORD = re.compile(r"[a-z]+")


def _plain(text: str) -> str:
    """Lower case, accents dropped ("¿Hablan español?" -> "¿hablan espanol?")."""
    text = (text or "").lower()
    if text.isascii():  # most turns: nothing to drop
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def speaks_spanish(text: str) -> bool:
    """Whether the caller speaks Spanish: they ask for it, or say two Spanish words that no English sentence
    holds (names and places such as "Maria Lopez", "El Paso", "San Antonio" or "Camelback" are not enough), or
    only greet in Spanish ("¿Bueno?", "Hola")."""
    plain = _plain(text)
    if _ASKS_SPANISH.search(plain) or (_IN_SPANISH.search(plain) and not _TRANSLATING.search(plain)):
        return True
    words = _WORD.findall(plain)
    strong = {w for w in words if w in _STRONG}
    if len(strong) >= 2 or _danger_in(plain) is not None:
        return True
    if not strong:
        return False
    # "Hola", "¿Bueno?"; "se apagó la luz": one such word, and every other word Spanish too.
    return all(w in _GREETINGS for w in words) or (len(words) >= 3 and all(w in _STRONG or w in _WEAK for w in words))


_WANTS_ENGLISH = re.compile(r"\b(?:(?<!don't )(?<!dont )(?<!do not )(?:i|we) (?:can |do )?speak english|"
                            r"in english|english (?:is )?(?:fine|ok|okay|please)|"
                            r"(?<!no )hablo ingles|puede ser en ingles)\b")


def wants_english(text: str) -> bool:
    """The caller would rather go on in English ("I speak English", "in English is fine")."""
    return bool(_WANTS_ENGLISH.search(_plain(text)))


#: Danger said in Spanish, and the English words the company's rules know it by.
_DANGER = ((re.compile(r"\b(?:huel[eo]n? (?:a )?gas|olor a gas|fuga de gas|escape de gas|se (?:sale|escapa) el gas|"
                       r"huele (?:como )?a huevo podrido)\b"), "I smell gas"),
           (re.compile(r"\b(?:monoxido)\b"), "carbon monoxide alarm"),
           (re.compile(r"\b(?:fuego|incendio|se esta quemando|en llamas)\b"), "on fire"),
           (re.compile(r"\b(?:humo)\b"), "smoke"),
           (re.compile(r"\b(?:chispas?|chispea(?:ndo)?|echa chispas)\b"), "sparking"),
           (re.compile(r"\b(?:inundando|inundacion|inundado|inundada|se (?:esta )?inundando|se revento|"
                       r"tubo roto|tuberia rota|agua por todas partes|aguas negras)\b"), "flooding"),
           (re.compile(r"\b(?:emergencia|urgente)\b"), "emergency"),
           (re.compile(r"\b(?:huele a quemado|olor a quemado|huelo a quemado|algo quemado)\b"), "burning smell"))
#: Dangers that reach the emergency rule even when the company's rules do not know their words.
_ALWAYS_URGENT = frozenset({"I smell gas", "carbon monoxide alarm", "on fire", "smoke", "sparking", "flooding"})
#: A danger denied ("no huelo gas", "no hay humo", "no es una emergencia"), up to "pero" or the clause's end.
_DENIED = re.compile(r"\bno (?:huel[eo]|hay|es|sale|salen|veo)\b[^,.;]*?(?=\bpero\b|[,.;]|$)")


#: Any of those words at all (one search on an English turn, where none is said).
_ANY_DANGER = re.compile("|".join(f"(?:{pattern.pattern})" for pattern, _ in _DANGER))


def danger(text: str) -> str | None:
    """The danger the caller names in Spanish, in the English words the company's emergency rules know."""
    return _danger_in(_plain(text))


def _danger_in(plain: str) -> str | None:
    if not _ANY_DANGER.search(plain):
        return None
    plain = _DENIED.sub(" ", plain)
    return next((words for pattern, words in _DANGER if pattern.search(plain)), None)


# --- what the caller answers -------------------------------------------------------------------------------

_DIGITS = {"cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5", "seis": "6",
           "siete": "7", "ocho": "8", "nueve": "9"}
_YES = re.compile(r"^\W*(?:si|claro|correcto|ese|este mismo|ese mismo|el mismo|al mismo|esta bien|de acuerdo|ok|"
                  r"okay|exacto|por favor|yes|yeah)\b")
_NO = re.compile(r"^\W*(?:no(?! se\b)|otro|a otro|mejor (?:a )?otro)\b")
_CLOSING = re.compile(r"^\W*(?:(?:(?:muchas )?gracias|ok|bueno|no|nada mas|eso es todo|es todo)\W+)*"
                      r"(?:adios|hasta luego|bye|nos vemos|chao|chau|hasta pronto)\W*$")
_NAME_LEAD = re.compile(r"^\W*(?:(?:s[ií]|bueno|ok|pues|claro|este|eh+|mm+)[\s,.]+)*(?:(?:mi nombre es|me llamo|"
                        r"yo soy|soy|habla|le habla|es|se llama|my name is|it'?s|this is)\s+)?", re.I)


def phone_in(text: str, region: str) -> str | None:
    """A phone number said in digits or in Spanish number words ("cinco uno dos ..."), E.164; else None."""
    spoken_digits = " ".join(_DIGITS.get(w, w) for w in _WORD.findall(_plain(text)) + re.findall(r"\d+", text)
                             if w.isdigit() or w in _DIGITS)
    if len(re.sub(r"\D", "", spoken_digits)) < 7:
        return None
    result = normalize_phone(spoken_digits, region)
    return result.value if result.ok else None


def name_in(text: str) -> str | None:
    """The name in an answer to "¿Me dice su nombre?" ("Me llamo José García" -> "José García"); None when
    there is none (a yes, a number, nothing)."""
    rest = _NAME_LEAD.sub("", text.strip(), count=1)
    words = re.findall(r"[^\W\d_]+(?:['-][^\W\d_]+)*", rest)
    if not words or len(words) > 5 or _plain(" ".join(words)) in ("si", "no", "bueno", "ok", "gracias", "nada"):
        return None
    if any(_plain(w) in _STRONG for w in words):  # "tengo una fuga debajo del fregadero": a sentence, not a name
        return None
    return " ".join(w[:1].upper() + w[1:] for w in words)


def about_something(said: list[str]) -> bool:
    """Whether the caller's words say what they need, beyond greeting or asking for Spanish."""
    plain = " ".join(_plain(s) for s in said)
    plain = _ASKS_SPANISH.sub(" ", plain)
    rest = [w for w in _WORD.findall(plain) if w not in _GREETINGS and w not in {
        "por", "favor", "alguien", "aqui", "que", "hable", "habla", "hablan", "hablo", "ingles", "espanol", "no", "y",
        "usted", "ustedes", "yo", "puede", "pueden", "ayudar", "ayudarme", "ayuda", "necesito", "con", "en", "el",
        "mucho", "bien", "poco", "you", "speak", "spanish", "do", "english", "please", "hi", "hello"}]
    return len(rest) >= 2


# --- the lines -------------------------------------------------------------------------------------------------

WHO_LINE = "Disculpe, soy el asistente virtual de {company} y solo puedo atenderle en inglés"
CONNECT_LINE = "{who}. Le comunico ahora con una persona de nuestro equipo. Un momento, por favor."
MESSAGE_OFFER_LINE = ("{who}, pero con gusto le tomo un mensaje para que alguien del equipo le devuelva la llamada. "
                      "¿Me dice su nombre, por favor?")
EMERGENCY_LINES = {
    "I smell gas": ("Si huele a gas, salgan todos de la casa ahora mismo y no prendan ni apaguen nada. No cuelgue: "
                    "le comunico con nuestro técnico de guardia."),
    "on fire": "Si hay fuego, salgan todos de la casa y llamen al 9 1 1. Le comunico ahora con nuestro técnico de guardia.",
    "smoke": ("Si hay humo o fuego, salgan todos de la casa y llamen al 9 1 1. Le comunico ahora con nuestro técnico "
              "de guardia."),
}
EMERGENCY_LINE = "Entiendo, es urgente. Le comunico ahora con nuestro técnico de guardia. No cuelgue, por favor."
SAME_NUMBER_LINE = "Gracias, {first}. ¿Le devolvemos la llamada a este mismo número?"
NUMBER_LINE = "Gracias, {first}. ¿A qué número le podemos llamar?"
NUMBER_AGAIN_LINE = "Perdone, no le entendí. ¿Me dice el número, con el código de área, por favor?"
SAME_NUMBER_AGAIN_LINE = "Perdone, no le entendí. ¿Le devolvemos la llamada a este mismo número? Diga sí o no."
NOTED_LINE = "Entendido, lo anoto para el equipo. ¿Y me dice su nombre, por favor?"
NAME_AGAIN_LINE = "Perdone, no le entendí. ¿Me dice su nombre, por favor?"
WHAT_LINE = "Muy bien. Y en pocas palabras, ¿en qué le podemos ayudar?"
DONE_LINE = ("Perfecto{name}. Le paso su mensaje al equipo, con una nota de que usted habla español, y le devolverán la "
             "llamada {where}lo antes posible. ¡Adiós!")
NO_MESSAGE_LINE = ("{who}. Por favor, llámenos de nuevo en nuestro horario de atención. Si es una emergencia, llame al "
                   "9 1 1. ¡Adiós!")
GOODBYE_LINE = "Gracias por llamar a {company}. ¡Adiós!"
DIAL_FAILED_LINE = ("Lo siento, nadie pudo contestar en este momento. Puedo tomarle un mensaje para que le devuelvan "
                    "la llamada. ¿Me dice su nombre, por favor?")
SILENCE_LINES = ("Perdone, no le escuché.", "¿Sigue ahí?")
SILENCE_GOODBYE = "No le escucho, así que voy a terminar la llamada. Por favor, llámenos de nuevo. ¡Adiós!"
ENGLISH_LINE = "Of course. How can I help you today?"
#: The question each step asks (said again after silence).
ASKED = {"name": "¿Me dice su nombre, por favor?", "same_number": "¿Le devolvemos la llamada a este mismo número?",
         "number": "¿A qué número le podemos llamar?", "what": "En pocas palabras, ¿en qué le podemos ayudar?"}
TAG = "spanish"


def listening(base: Listening) -> Listening:
    """The company's listening settings for a Spanish call: es-US, a Spanish voice of the same kind as the
    company's, no English hints and no English speech model."""
    voice = VOICES[base.voice in MALE_VOICES]
    return replace(base, language=LANGUAGE, voice=voice, hints="", speech_model=None, enhanced=False,
                   speech_timeout=base.speech_timeout if base.speech_timeout.isdigit() else "auto")


def in_spanish(session: Mapping[str, Any]) -> bool:
    """Whether the call goes on in Spanish."""
    return session.get("lang") == "es"


def expecting(session: Mapping[str, Any]) -> str | None:
    """What a Spanish call asks for next (PHONE, TEXT): the caller gets the longer pause those need."""
    if not in_spanish(session):
        return None
    return {"number": "PHONE", "what": "TEXT"}.get((session.get("es") or {}).get("step") or "")


def company_name(ctx: TurnContext) -> str:
    """The company's name as callers hear it."""
    return ctx.company.variables.get("companyname") or ctx.company.name or "la compañía"


def _say(text: str, *, action: str = "RESPOND", tags: tuple[str, ...] = ()) -> Decision:
    return Decision(action=action, response=text, tags=(TAG, *tags))


class Spanish:
    """Answers the turns of a Spanish call: the emergency rule, a person, or a message taken in Spanish."""

    def __init__(self, messages: Messages) -> None:
        self.messages = messages

    def turn(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: dict[str, Any], text: str,
             routing: policy.Routing) -> Decision:
        """A caller turn of a Spanish call (the first one too)."""
        session["lang"] = "es"
        session.pop("collect", None)  # an English question being asked is not answered in Spanish
        state = session.setdefault("es", {"said": []})
        step = state.get("step")
        if step in (None, "what"):
            state["said"] = (list(state.get("said") or []) + [" ".join(text.split())[:300]])[-5:]
        urgent = self._emergency(pol, ctx, routing, text)
        if urgent is not None:
            return urgent
        if _CLOSING.match(_plain(text)):
            if state.get("name"):
                return self._finish(pol, ctx, session)
            return _say(GOODBYE_LINE.format(company=company_name(ctx)), action="HANGUP", tags=("caller_closed",))
        if step is None:
            person = self._person(pol, ctx)
            who = WHO_LINE.format(company=company_name(ctx))
            if person is not None:
                return replace(person, response=CONNECT_LINE.format(who=who), tags=(*person.tags, TAG))
            if "TAKE_MESSAGE" not in pol.runtime.allowed:
                return _say(NO_MESSAGE_LINE.format(who=who), action="HANGUP")
            return self._start(state, MESSAGE_OFFER_LINE.format(who=who), reason="spanish")
        return self._answer(pol, ctx, session, state, text)

    def _answer(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: dict[str, Any], state: dict[str, Any],
                text: str) -> Decision:
        """The answer to the question of the message being taken."""
        step = state["step"]
        region = _region(session)
        if step == "name":
            name = name_in(text) if not phone_in(text, region) else None
            if name is None:
                noted = len(text.split()) > 2
                if noted:  # what they need, said instead of a name: kept for the team
                    state["said"] = (list(state.get("said") or []) + [" ".join(text.split())[:300]])[-5:]
                return self._again(pol, ctx, session, state, NOTED_LINE if noted else NAME_AGAIN_LINE)
            state["name"], state["tries"] = name, 0
            first = name.split()[0]
            if _own_number(session):
                state["step"] = "same_number"
                return _say(SAME_NUMBER_LINE.format(first=first))
            state["step"] = "number"
            return _say(NUMBER_LINE.format(first=first))
        if step in ("same_number", "number"):
            number = phone_in(text, region)
            if number is None and step == "same_number" and _YES.match(_plain(text)):
                number = _own_number(session)
            elif number is None and step == "same_number" and _NO.match(_plain(text)):
                state["step"] = "number"
                return _say(ASKED["number"])
            if number is None:
                return self._again(pol, ctx, session, state,
                                   SAME_NUMBER_AGAIN_LINE if step == "same_number" else NUMBER_AGAIN_LINE)
            state["phone"], state["tries"] = number, 0
            return self._what_or_finish(pol, ctx, session, state)
        # step == "what": the words were kept above
        return self._finish(pol, ctx, session)

    def _again(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: dict[str, Any], state: dict[str, Any],
               line: str) -> Decision:
        """Ask once more; after a second miss go on with what we have (the caller's own number)."""
        state["tries"] = int(state.get("tries", 0)) + 1
        if state["tries"] < 2:
            return _say(line)
        state["tries"] = 0
        if state["step"] == "name":
            state["step"] = "same_number" if _own_number(session) else "number"
            return _say(ASKED[state["step"]])
        state["phone"] = _own_number(session)
        return self._what_or_finish(pol, ctx, session, state)

    def _what_or_finish(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: dict[str, Any],
                        state: dict[str, Any]) -> Decision:
        if not about_something(list(state.get("said") or [])):
            state["step"] = "what"
            return _say(WHAT_LINE)
        return self._finish(pol, ctx, session)

    @staticmethod
    def _start(state: dict[str, Any], line: str, *, reason: str,
               transfer: Mapping[str, Any] | None = None) -> Decision:
        state.update(step="name", reason=reason, tries=0, offered=True)
        if transfer:
            state["transfer"] = dict(transfer)
        return _say(line)

    def _finish(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: dict[str, Any]) -> Decision:
        """Store the message (in the caller's own words, marked as Spanish), text the team, say goodbye."""
        state = session.pop("es", None) or {}
        phone = state.get("phone") or _own_number(session)
        session["collected"] = {"name": state.get("name"), "callbackPhone": phone,
                                "message": " / ".join(state.get("said") or []) or None}
        message = self.messages.store(ctx, session, {"reason": state.get("reason") or "spanish",
                                                     "transfer": state.get("transfer")}, language="es")
        first = f", {message['name'].split()[0]}" if message.get("name") else ""
        where = f"al {spoken(phone)} " if phone and phone != session.get("from") else ""
        return _say(DONE_LINE.format(name=first, where=where), action="HANGUP", tags=("message_taken",))

    def _emergency(self, pol: policy.CompiledPolicy, ctx: TurnContext, routing: policy.Routing,
                   text: str) -> Decision | None:
        """The company's emergency transfer, for danger said in Spanish (or in English words we read too)."""
        words = danger(text)
        if urgency.is_emergency(pol, routing):
            decided = policy.finish(pol, routing, BaseResponse(""), ctx)
        elif words is not None:
            decided = _connect(pol, ctx, words)
            if decided is None and words in _ALWAYS_URGENT:
                decided = _connect(pol, ctx, "emergency")
        else:
            return None
        if decided is None or decided.action != "TRANSFER":
            return None
        line = EMERGENCY_LINES.get(words or "", EMERGENCY_LINE)
        return replace(decided, response=line, tags=(*decided.tags, TAG), collect_entities=())

    @staticmethod
    def _person(pol: policy.CompiledPolicy, ctx: TurnContext) -> Decision | None:
        """The transfer the company makes for "just get me a person", while it is open; else None."""
        if not ctx.company.is_open(ctx.now):
            return None
        return _connect(pol, ctx, "talk to a person")

    def silence(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: dict[str, Any]) -> Decision:
        """Nothing heard on a Spanish call: ask again twice, then goodbye (a message with a name is passed on)."""
        silence = int(session.get("silence", 0))
        state = session.get("es") or {}
        step = state.get("step")
        if silence > 2:
            if state.get("name"):
                return self._finish(pol, ctx, session)
            return _say(SILENCE_GOODBYE, action="HANGUP")
        question = ASKED.get(step or "", "¿En qué le podemos ayudar?")
        return _say(f"{SILENCE_LINES[silence - 1]} {question}")

    def dial_failed(self, session: dict[str, Any], transfer: Mapping[str, Any], status: str) -> Decision:
        """The person we connected a Spanish caller to did not answer: take a message in Spanish."""
        state = session.setdefault("es", {"said": []})
        return self._start(state, DIAL_FAILED_LINE, reason=status, transfer=transfer)


def _connect(pol: policy.CompiledPolicy, ctx: TurnContext, words: str) -> Decision | None:
    """The company's transfer for these English words, when it connects somewhere; else None."""
    routing = policy.route(pol, words, ctx)
    if not routing.decided or routing.turn.action != "TRANSFER":
        return None
    decided = policy.finish(pol, routing, BaseResponse(""), ctx)
    if decided.action != "TRANSFER" or not (decided.transfer_phone or decided.transfer_sip or decided.transfer_queue):
        return None
    return replace(decided, collect_entities=())


def _region(session: Mapping[str, Any]) -> str:
    return region_of(session.get("to"))


def _own_number(session: Mapping[str, Any]) -> str | None:
    """The number the caller calls from, when it is one we can call back (not withheld)."""
    own = normalize_phone(session.get("from") or "", _region(session))
    return own.value if own.ok else None


__all__ = ["Spanish", "speaks_spanish", "wants_english", "danger", "phone_in", "name_in", "listening",
           "in_spanish", "LANGUAGE"]
