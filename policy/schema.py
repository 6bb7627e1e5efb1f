"""The cheat sheet schema (SPEC section 4): pydantic models, enums, bounds, defaults, legacy shape."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import re2
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StringConstraints,
                      ValidationError, field_validator, model_validator)

from .entities import KINDS
from .legacy import legacy_to_enterprise
from .errors import PolicyError, format_path
from .text import normalize

BEHAVIOR_RULES = ("ACK_OK", "NEVER_INTERRUPT", "USE_COMPANY_NAME", "CONFIRM_ENTITIES",
                  "POLITE_PROFESSIONAL")
GUARDRAILS = ("NO_PRICES", "NO_DIAGNOSES", "NO_APOLOGIES_SPAM", "NO_PHONE_NUMBERS", "NO_URLS",
              "NO_MEDICAL_ADVICE", "NO_LEGAL_ADVICE")
ALLOWED_ACTIONS = ("BOOK_APPT", "TAKE_MESSAGE", "TRANSFER_BILLING", "TRANSFER_EMERGENCY",
                   "TRANSFER_GENERAL", "TRANSFER_SCHEDULING", "TRANSFER_TECHNICAL", "COLLECT_INFO",
                   "PROVIDE_HOURS", "PROVIDE_PRICING")
INTENT_TAGS = ("billing", "emergency", "scheduling", "technical", "general")
ENTITY_TYPES = KINDS  # the spoken-entity normalizers are the source of the kinds
EDGE_ACTION_TYPES = ("override_response", "force_transfer", "polite_hangup", "flag_only")
CALLER_TYPES = ("new", "existing", "vendor", "unknown")
TERM_GUARDRAILS = ("NO_DIAGNOSES", "NO_MEDICAL_ADVICE", "NO_LEGAL_ADVICE")

MAX_PATTERN_CHARS = 300
MAX_PATTERNS_PER_RULE = 20
MAX_KEYWORDS_PER_RULE = 200
MAX_KEYWORD_CHARS = 100
# Limits of one sheet, so that compiling one at the limit stays under a second (bench/compile.py).
MAX_EDGE_CASES = 1000
MAX_TRANSFER_RULES = 200
MAX_KEYWORDS_PER_SHEET = 10_000
MAX_PATTERNS_PER_SHEET = 1_000
RE2_MAX_MEM = 8 << 20
DEFAULT_HANGUP_MESSAGE = "Thank you for calling. Goodbye."
DEFAULT_TRANSFER_MESSAGE = "Let me connect you with someone who can help."

BehaviorRule = Literal[BEHAVIOR_RULES]  # type: ignore[valid-type]
Guardrail = Literal[GUARDRAILS]  # type: ignore[valid-type]
AllowedAction = Literal[ALLOWED_ACTIONS]  # type: ignore[valid-type]

_SLASHED = re.compile(r"^/(.*)/([a-z]*)$", re.S)
_RE2_HINTS = (
    ("invalid escape sequence: \\1", "backreferences are not supported (patterns run in the linear-time RE2 engine)"),
    ("invalid perl operator: (?=", "lookahead is not supported (patterns run in the linear-time RE2 engine)"),
    ("invalid perl operator: (?!", "lookahead is not supported (patterns run in the linear-time RE2 engine)"),
    ("invalid perl operator: (?<", "lookbehind is not supported (patterns run in the linear-time RE2 engine)"),
)


def re2_options() -> re2.Options:
    """RE2 options used for every user-written pattern: case-insensitive, quiet, bounded memory."""
    opts = re2.Options()
    opts.case_sensitive = False
    opts.log_errors = False
    opts.max_mem = RE2_MAX_MEM
    return opts


def pattern_body(pattern: str) -> str:
    """Strip the optional ``/.../flags`` form to an RE2 pattern (case-insensitive always; m and s honoured)."""
    m = _SLASHED.match(pattern)
    if not m:
        return pattern
    body, flags = m.group(1), m.group(2)
    bad = set(flags) - set("imsgu")
    if bad:
        raise ValueError(f"unsupported regex flag(s) {''.join(sorted(bad))!r} (allowed: i, m, s)")
    inline = "".join(f for f in "ms" if f in flags)
    return f"(?{inline}){body}" if inline else body


def check_regex(pattern: str) -> str:
    """Validate a user-written pattern with RE2; the message says what RE2 could not take."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"pattern is {len(pattern)} characters; at most {MAX_PATTERN_CHARS} allowed")
    body = pattern_body(pattern)
    try:
        compiled = re2.compile(body, re2_options())
    except re2.error as exc:
        msg = exc.args[0] if exc.args else str(exc)
        if isinstance(msg, bytes):
            msg = msg.decode("utf-8", "replace")
        for needle, hint in _RE2_HINTS:
            if needle in msg:
                msg = f"{hint}: {msg}"
                break
        raise ValueError(msg) from None
    if compiled.search("") and compiled.search("qzx vbn"):
        raise ValueError("pattern matches any input (even an empty one), so the rule would fire on every turn")
    return pattern


def check_keyword(keyword: str) -> str:
    """A keyword must contain at least one word once punctuation is ignored."""
    if len(keyword) > MAX_KEYWORD_CHARS:
        raise ValueError(f"keyword is {len(keyword)} characters; at most {MAX_KEYWORD_CHARS} allowed")
    if not normalize(keyword):
        raise ValueError("keyword has no letters or digits")
    return keyword


def check_hhmm(value: str) -> str:
    """Times are "HH:MM" on a 24-hour clock."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59 or (int(m.group(1)) == 24 and m.group(2) != "00"):
        raise ValueError(f"{value!r} is not a time of day as HH:MM (00:00 to 24:00)")
    return f"{int(m.group(1)):02d}:{m.group(2)}"


Text = Annotated[str, StringConstraints(strip_whitespace=True)]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(check_keyword)]
Regex = Annotated[str, StringConstraints(min_length=1), AfterValidator(check_regex)]
HHMM = Annotated[str, AfterValidator(check_hhmm)]
RuleId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class TimeWindow(_Model):
    """A weekly window in the company's timezone; ``end`` before ``start`` spans midnight."""

    daysOfWeek: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=list)
    start: HHMM
    end: HHMM


class EdgeCaseMatch(_Model):
    """Match conditions: every condition given must hold."""

    keywordsAny: list[Keyword] = Field(default_factory=list, max_length=MAX_KEYWORDS_PER_RULE)
    keywordsAll: list[Keyword] = Field(default_factory=list, max_length=MAX_KEYWORDS_PER_RULE)
    regexPatterns: list[Regex] = Field(default_factory=list, max_length=MAX_PATTERNS_PER_RULE)
    callerType: list[Literal[CALLER_TYPES]] = Field(default_factory=list)  # type: ignore[valid-type]
    timeWindows: list[TimeWindow] = Field(default_factory=list, max_length=20)
    spamFlagsRequired: list[Tag] = Field(default_factory=list, max_length=20)
    tradeRequired: list[Tag] = Field(default_factory=list, max_length=20)

    def is_empty(self) -> bool:
        """True when no condition is given (the rule would fire on every turn)."""
        return not any((self.keywordsAny, self.keywordsAll, self.regexPatterns, self.callerType,
                        self.timeWindows, self.spamFlagsRequired, self.tradeRequired))


class EdgeCaseAction(_Model):
    """What a matched edge case does."""

    type: Literal[EDGE_ACTION_TYPES] = "override_response"  # type: ignore[valid-type]
    inlineResponse: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    transferTarget: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)] | None = None
    transferMessage: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    hangupMessage: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None

    @model_validator(mode="after")
    def _needs(self) -> "EdgeCaseAction":
        if self.type == "override_response" and not self.inlineResponse:
            raise ValueError("override_response needs inlineResponse (the text the caller hears)")
        if self.type == "force_transfer" and not self.transferTarget:
            raise ValueError("force_transfer needs transferTarget (a transfer rule id, intent, contact or phone number)")
        return self


class SideEffects(_Model):
    """Side effects the caller of the engine performs when the edge case matches."""

    autoBlacklist: bool = False
    autoTag: list[Tag] = Field(default_factory=list, max_length=20)
    notifyContacts: list[Name] = Field(default_factory=list, max_length=20)
    logSeverity: Literal["info", "warning", "critical"] = "info"


class AuditMeta(_Model):
    """Who created and last changed a rule (not part of the policy's meaning)."""

    createdBy: Text | None = None
    createdAt: datetime | None = None
    updatedBy: Text | None = None
    updatedAt: datetime | None = None


class EdgeCase(_Model):
    """An enterprise edge case; the legacy shape (triggerPatterns + responseText) is normalized into it."""

    id: RuleId
    name: Name
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""
    enabled: bool = True
    priority: Annotated[int, Field(ge=1, le=100)] = 10
    match: EdgeCaseMatch
    action: EdgeCaseAction
    sideEffects: SideEffects = Field(default_factory=SideEffects)
    auditMeta: AuditMeta = Field(default_factory=AuditMeta)

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not ("triggerPatterns" in data or "responseText" in data):
            return data
        return legacy_to_enterprise(data)

    @model_validator(mode="after")
    def _has_condition(self) -> "EdgeCase":
        if self.match.is_empty():
            raise ValueError("match needs at least one condition, or the edge case would fire on every turn")
        return self


class CollectEntity(_Model):
    """One piece of information a transfer collects before connecting."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")]
    type: Literal[ENTITY_TYPES] = "TEXT"  # type: ignore[valid-type]
    required: bool = True
    prompt: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    validationPattern: Regex | None = None
    validationPrompt: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    maxRetries: Annotated[int, Field(ge=0, le=5)] = 2
    escalateOnFail: bool = True


class TransferRule(_Model):
    """Connect the caller to a person when their words show an intent."""

    id: RuleId
    name: Name | None = None
    intentTag: Literal[INTENT_TAGS]  # type: ignore[valid-type]
    contactNameOrQueue: Name
    phoneNumber: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ().-]{7,20}$")] | None = None
    script: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    collectEntities: list[CollectEntity] = Field(default_factory=list, max_length=10)
    afterHoursOnly: bool = False
    priority: Annotated[int, Field(ge=1, le=100)] = 10
    enabled: bool = True
    keywords: list[Keyword] = Field(default_factory=list, max_length=MAX_KEYWORDS_PER_RULE)
    inheritIntentWords: bool = True
    auditMeta: AuditMeta = Field(default_factory=AuditMeta)

    @field_validator("collectEntities")
    @classmethod
    def _unique_entities(cls, v: list[CollectEntity]) -> list[CollectEntity]:
        names = [e.name for e in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"entity names must be unique; repeated: {', '.join(dupes)}")
        return v


class GoldenContext(_Model):
    """The turn context of a golden test (all optional)."""

    callerType: Literal[CALLER_TYPES] | None = None  # type: ignore[valid-type]
    spamFlags: list[Tag] = Field(default_factory=list)
    isFirstTurn: bool = False
    now: datetime | None = None
    collectedEntities: dict[str, str] = Field(default_factory=dict)
    baseResponse: Annotated[str, StringConstraints(max_length=1000)] | None = None
    baseAction: Literal[ALLOWED_ACTIONS] | None = None  # type: ignore[valid-type]


class GoldenExpect(_Model):
    """What a golden test expects of the decision."""

    action: Literal["RESPOND", "TRANSFER", "HANGUP"] | None = None
    responseContains: list[str] | str | None = None
    blocks: list[str] = Field(default_factory=list)


class GoldenTest(_Model):
    """A cheat sheet's own test case, run by the harness before deploy."""

    name: Name | None = None
    utterance: Annotated[str, StringConstraints(max_length=2000)]
    context: GoldenContext = Field(default_factory=GoldenContext)
    expect: GoldenExpect
    critical: bool | None = None  # a failing critical test refuses a deploy whatever the pass rate


class CheatSheet(_Model):
    """A company's cheat sheet as staff write it.

    The design's stored metadata (``version``, ``status``, ``updatedBy``, ``updatedAt``,
    ``lastCompiledAt``, ``checksum``, ``compileLock``) is accepted so an exported sheet imports,
    and is not part of the policy's meaning (the checksum ignores it).
    """

    version: Annotated[int, Field(ge=1)] = 1
    status: Annotated[str, StringConstraints(max_length=40)] | None = None
    updatedBy: Text | None = None
    updatedAt: datetime | None = None
    lastCompiledAt: datetime | None = None
    checksum: Annotated[str, StringConstraints(max_length=200)] | None = None
    compileLock: dict[str, Any] | None = None
    behaviorRules: list[BehaviorRule] = Field(default_factory=list)
    edgeCases: list[EdgeCase] = Field(default_factory=list, max_length=MAX_EDGE_CASES)
    transferRules: list[TransferRule] = Field(default_factory=list, max_length=MAX_TRANSFER_RULES)
    guardrails: list[Guardrail] = Field(default_factory=lambda: list(GUARDRAILS))
    guardrailTerms: dict[Literal[TERM_GUARDRAILS], list[Keyword]] = Field(default_factory=dict)  # type: ignore[valid-type]
    allowedActions: list[AllowedAction] = Field(default_factory=list)
    tests: list[GoldenTest] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _within_limits(self) -> "CheatSheet":
        keywords = sum(len(e.match.keywordsAny) + len(e.match.keywordsAll) for e in self.edgeCases)
        keywords += sum(len(t.keywords) for t in self.transferRules)
        patterns = sum(len(e.match.regexPatterns) for e in self.edgeCases)
        if keywords > MAX_KEYWORDS_PER_SHEET:
            raise ValueError(f"{keywords} keywords in all; a sheet takes at most {MAX_KEYWORDS_PER_SHEET}")
        if patterns > MAX_PATTERNS_PER_SHEET:
            raise ValueError(f"{patterns} regexPatterns in all; a sheet takes at most {MAX_PATTERNS_PER_SHEET}")
        return self


def _unique_ids(sheet: dict[str, Any]) -> list[dict[str, str]]:
    errors = []
    for kind in ("edgeCases", "transferRules"):
        seen: dict[str, int] = {}
        rules = sheet.get(kind)
        for i, rule in enumerate(rules if isinstance(rules, list) else []):
            rid = rule.get("id") if isinstance(rule, dict) else None
            if not isinstance(rid, str):
                continue
            if rid in seen:
                errors.append({"path": f"{kind}[{i}].id",
                               "message": f"duplicate id {rid!r} (also {kind}[{seen[rid]}].id); ids must be unique"})
            else:
                seen[rid] = i
    return errors


def _name_rules(errors: list[dict[str, str]], source: dict[str, Any]) -> None:
    """Add the rule's id to errors inside a rule, so staff find it without counting list items."""
    kinds = {"edgeCases": "edge case", "transferRules": "transfer rule"}
    for err in errors:
        m = re.match(r"(edgeCases|transferRules)\[(\d+)\]", err["path"])
        if not m or "duplicate id" in err["message"]:
            continue
        rules = source.get(m.group(1))
        rule = rules[int(m.group(2))] if isinstance(rules, list) and int(m.group(2)) < len(rules) else None
        rid = rule.get("id") if isinstance(rule, dict) else None
        if isinstance(rid, str) and rid:
            err["message"] += f" (in {kinds[m.group(1)]} {rid!r})"


def _message(err: dict[str, Any]) -> str:
    msg = err.get("msg", "invalid value")
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if err.get("type") == "extra_forbidden":
        msg = "unknown field (check the spelling)"
    return msg


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """pydantic's errors as ``{"path": "edgeCases[3].match", "message": ...}`` (validator tags dropped)."""
    out = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
        out.append({"path": format_path(loc), "message": _message(err)})
    return out


def validate(source: Any) -> CheatSheet:
    """Validate a cheat sheet document, refusing it whole with every error listed by field path."""
    if not isinstance(source, dict):
        raise PolicyError([{"path": "", "message": "a cheat sheet must be a mapping of fields"}])
    errors: list[dict[str, str]] = []
    sheet: CheatSheet | None = None
    try:
        sheet = CheatSheet.model_validate(source)
    except ValidationError as exc:
        errors.extend(field_errors(exc))
    # Legacy edge cases get derived ids, so check uniqueness on what will be compiled.
    errors.extend(_unique_ids(sheet.model_dump(include={"edgeCases", "transferRules"}) if sheet else source))
    _name_rules(errors, source)
    if errors:
        raise PolicyError(errors)
    if sheet is None:  # unreachable: a failed validation always lists errors
        raise PolicyError([{"path": "", "message": "invalid cheat sheet"}])
    return sheet
