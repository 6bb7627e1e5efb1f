"""Companies (SPEC section 3): the document's schema and the runtime profile the engine reads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Annotated, Any, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints,
                      ValidationError, field_validator, model_validator)

from .entities import normalize_phone
from .errors import PolicyError
from .schema import HHMM, Name, RuleId, check_hhmm, field_errors

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _check_e164(value: str) -> str:
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", value):
        raise ValueError(f"{value!r} is not an E.164 phone number (like +15125550100)")
    return value


def _hours_pairs(value: Any) -> Any:
    """Accept ["08:00", "17:00"] or [["08:00", "12:00"], ["13:00", "17:00"]]; null = closed."""
    if value is None or value == []:
        return None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, list) and len(v) == 2 for v in value):
        raise ValueError('business hours are ["HH:MM", "HH:MM"] (open, close), a list of such pairs, or null for closed')
    return value


E164 = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_check_e164)]


def _check_tz(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA timezone (e.g. America/Chicago)") from None
    return value



Hours = Annotated[list[list[HHMM]] | None, BeforeValidator(_hours_pairs)]


def _check_date(value: Any) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a date as YYYY-MM-DD") from None


class Holiday(BaseModel):
    """A day with other hours than its weekday's: closed (no ``hours``), or open ``hours`` that day."""

    model_config = ConfigDict(extra="forbid")
    date: Annotated[str, BeforeValidator(_check_date)]
    name: Name
    hours: Hours = None


class Contact(BaseModel):
    """Where a transfer goes: exactly one of a phone number, a Twilio queue or a SIP address."""

    model_config = ConfigDict(extra="forbid")
    phone: E164 | None = None
    queue: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    sip: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^sips?:[^\s@]+@[^\s]+$")] | None = None

    @model_validator(mode="after")
    def _one(self) -> "Contact":
        given = [k for k in ("phone", "queue", "sip") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("a contact needs exactly one of phone, queue or sip")
        return self


#: Twilio <Gather> speechModel values: the generic ones, or a provider's model ("googlev2_telephony").
SPEECH_MODEL = r"^(?:default|numbers_and_commands|phone_call|experimental_conversations|experimental_utterances|" \
               r"(?:googlev2|deepgram)_[a-z0-9_.-]{1,40})$"
Hint = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^,]+$")]


class Voice(BaseModel):
    """Speech settings for the company's calls: how it sounds and how it listens (Twilio <Gather>).

    Twilio takes hints as up to 500 comma-separated entries of at most 100 characters each;
    ``speechTimeout="auto"`` is refused once a speechModel is set, so the pause that ends a
    caller's turn is then a whole number of seconds; ``enhanced`` applies to ``phone_call`` only.
    """

    model_config = ConfigDict(extra="forbid")
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}-[A-Z]{2}$")] = "en-US"
    voice: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "Polly.Joanna"
    speechModel: Annotated[str, StringConstraints(pattern=SPEECH_MODEL)] | None = "phone_call"
    enhanced: bool = True
    speechTimeout: int | Literal["auto"] = 2
    timeout: Annotated[int, Field(ge=1, le=30)] = 6
    profanityFilter: bool = False
    hints: list[Hint] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _listening(self) -> "Voice":
        if self.speechTimeout == "auto" and self.speechModel:
            raise ValueError('speechTimeout "auto" cannot be used with a speechModel (Twilio refuses it); '
                             "give the pause in whole seconds, e.g. 2")
        if isinstance(self.speechTimeout, int) and not 1 <= self.speechTimeout <= 10:
            raise ValueError("speechTimeout must be 1 to 10 seconds, or \"auto\" without a speechModel")
        return self


class Company(BaseModel):
    """A company (tenant) document, YAML or JSON, same shape in the admin API."""

    model_config = ConfigDict(extra="forbid")
    id: RuleId
    name: Name
    numbers: list[E164] = Field(default_factory=list, max_length=50)
    timezone: Annotated[str, AfterValidator(_check_tz)] = "America/Chicago"
    businessHours: dict[Literal[DAYS], Hours] = Field(default_factory=dict)  # type: ignore[valid-type]
    holidays: list[Holiday] = Field(default_factory=list, max_length=100)
    trade: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] | None = None
    variables: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,59}$")],
                    Annotated[str, StringConstraints(max_length=300)]] = Field(default_factory=dict)
    urlWhitelist: list[Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True,
                                                        pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")]] = Field(default_factory=list)
    contacts: dict[Name, Contact] = Field(default_factory=dict)
    voice: Voice = Field(default_factory=Voice)
    scenarioTemplate: Annotated[str, StringConstraints(max_length=80)] | None = None
    blacklist: list[E164] = Field(default_factory=list)
    vendors: list[E164] = Field(default_factory=list)
    networkLearning: bool = False
    cheatSheet: dict[str, Any] | None = None

    @field_validator("numbers")
    @classmethod
    def _unique_numbers(cls, numbers: list[str]) -> list[str]:
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        if repeated:
            raise ValueError(f"each number once; repeated: {', '.join(repeated)}")
        return numbers


def _ranges(spec: Any) -> tuple[tuple[int, int], ...]:
    """Business hours of one day as (start, end) minutes; end <= start spans midnight."""
    if not spec:
        return ()
    pairs = [spec] if isinstance(spec[0], str) else spec
    out = []
    for pair in pairs:
        a, b = (int(x[:2]) * 60 + int(x[3:]) for x in (check_hhmm(pair[0]), check_hhmm(pair[1])))
        out.append((a, b))
    return tuple(out)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


_MONEY = re.compile(r"\$\s?(\d[\d,]*(?:\.\d{1,2})?)|\b(\d[\d,]*(?:\.\d{1,2})?)\s*(?:dollars?|bucks|usd)\b", re.I)


def money_value(text: str) -> str:
    """A money amount as a canonical string ("$1,250.00" -> "1250")."""
    raw = text.replace(",", "")
    if "." in raw:
        raw = raw.rstrip("0").rstrip(".")
    return raw.lstrip("0") or "0"


@dataclass(frozen=True, slots=True, eq=False)
class CompanyProfile:
    """What the engine needs to know about a company, precomputed once per company revision."""

    id: str
    name: str
    tz: ZoneInfo
    hours: Mapping[int, tuple[tuple[int, int], ...]]  # weekday (0 = Monday) -> ranges in minutes
    trade: str
    variables: Mapping[str, str]
    approved_prices: frozenset[str]
    approved_phones: frozenset[str]
    url_whitelist: tuple[str, ...]
    contacts: Mapping[str, Mapping[str, str]]
    main_phone: str | None = None
    has_hours: bool = False
    holidays: Mapping[str, tuple[str, tuple[tuple[int, int], ...]]] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    fingerprint: tuple = field(default=(), repr=False)

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CompanyProfile) and other.fingerprint == self.fingerprint

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any] | "CompanyProfile" | None) -> "CompanyProfile":
        """Build a profile from a company document (already validated, or at least well-formed)."""
        if isinstance(doc, CompanyProfile):
            return doc
        doc = doc or {}
        try:
            tz = ZoneInfo(doc.get("timezone") or "America/Chicago")
        except (ZoneInfoNotFoundError, ValueError):
            tz = ZoneInfo("UTC")
        bh = doc.get("businessHours") or {}
        hours = {i: _ranges(bh.get(day)) for i, day in enumerate(DAYS)}
        variables = {str(k): str(v) for k, v in (doc.get("variables") or {}).items() if v is not None}
        if "companyname" not in variables and doc.get("name"):
            variables["companyname"] = str(doc["name"])
        prices = set()
        phones = set()
        for value in variables.values():
            for m in _MONEY.finditer(value):
                prices.add(money_value(m.group(1) or m.group(2)))
            d = _digits(value)
            if 7 <= len(d) <= 15 and not _MONEY.search(value):
                phones.add(d[-10:])
        contacts = {str(k): MappingProxyType({kk: str(vv) for kk, vv in (v or {}).items() if vv})
                    for k, v in (doc.get("contacts") or {}).items()}
        main = variables.get("phone") or next(iter(doc.get("numbers") or []), None)
        holidays = {str(h.get("date")): (str(h.get("name") or "a holiday"), _ranges(h.get("hours")))
                    for h in doc.get("holidays") or [] if isinstance(h, Mapping) and h.get("date")}
        return cls(
            id=str(doc.get("id") or ""), name=str(doc.get("name") or variables.get("companyname", "")),
            tz=tz, hours=MappingProxyType(hours), trade=str(doc.get("trade") or "").casefold(),
            variables=MappingProxyType(variables), approved_prices=frozenset(prices),
            approved_phones=frozenset(phones),
            url_whitelist=tuple(d.lower().removeprefix("www.") for d in doc.get("urlWhitelist") or []),
            contacts=MappingProxyType(contacts), main_phone=main, has_hours=bool(bh),
            holidays=MappingProxyType(holidays),
            raw=MappingProxyType(dict(doc)),
            fingerprint=(str(doc.get("id") or ""), tuple(sorted(variables.items())), frozenset(prices),
                         frozenset(phones), tuple(doc.get("urlWhitelist") or ()), str(tz),
                         str(doc.get("trade") or ""), repr(sorted(bh.items())), repr(sorted(contacts.items())),
                         repr(sorted(holidays.items()))),
        )

    def local(self, now: datetime) -> datetime:
        """The given aware time in the company's timezone."""
        return now.astimezone(self.tz)

    def ranges_on(self, day: date) -> tuple[tuple[int, int], ...]:
        """Opening hours on a date in minutes (a holiday's own hours, else its weekday's)."""
        holiday = self.holidays.get(day.isoformat())
        return holiday[1] if holiday else self.hours.get(day.weekday(), ())

    def holiday(self, day: date) -> str | None:
        """The name of the holiday on a date, if it is one."""
        holiday = self.holidays.get(day.isoformat())
        return holiday[0] if holiday else None

    def is_open(self, now: datetime) -> bool:
        """Whether the company is within business hours at ``now`` (no hours given = always open)."""
        if not self.has_hours:
            return True
        local = self.local(now)
        minute = local.hour * 60 + local.minute
        for start, end in self.ranges_on(local.date()):
            if start < end and start <= minute < end:
                return True
            if end <= start and minute >= start:  # opens today, closes after midnight
                return True
        for start, end in self.ranges_on(local.date() - timedelta(days=1)):
            if end <= start and minute < end:
                return True
        return False


def fallback_number(doc: Mapping[str, Any]) -> str | None:
    """Where to send a caller when something fails: a person's number, never the Twilio number itself."""
    own = set(doc.get("numbers") or [])
    contacts = doc.get("contacts") or {}
    for contact in (contacts.get("main"), contacts.get("dispatch"), *contacts.values()):
        phone = (contact or {}).get("phone")
        if phone and phone not in own:
            return phone
    variables = doc.get("variables") or {}
    for key in ("phone", "emergencyPhone"):
        number = normalize_phone(variables[key]).value if variables.get(key) else None
        if number and number not in own:
            return number
    return None


def validate_company(doc: Any) -> Company:
    """Validate a company document; raises PolicyError with every field error."""
    if not isinstance(doc, dict):
        raise PolicyError([{"path": "", "message": "a company must be a mapping of fields"}])
    try:
        return Company.model_validate(doc)
    except ValidationError as exc:
        raise PolicyError(field_errors(exc)) from None


__all__ = ["Company", "CompanyProfile", "Holiday", "Voice", "validate_company", "fallback_number", "money_value",
           "DAYS"]
