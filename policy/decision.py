"""The engine's inputs and output: TurnContext, BaseResponse and Decision (all immutable)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Mapping

from .company import CompanyProfile
from .frozen import thaw

CALLER_TYPES = frozenset({"new", "existing", "vendor", "unknown"})


class TurnContext:
    """Everything about the turn that is not the caller's words: company, time, caller facts.

    Built from keyword arguments; ``now`` must be timezone-aware (the engine reads no clock).
    """

    __slots__ = ("company", "now", "caller_type", "spam_flags", "is_first_turn",
                 "collected_entities", "local_minute", "local_day", "_open", "variation")

    def __init__(self, *, company: Mapping[str, Any] | CompanyProfile | None = None,
                 now: datetime | None = None, caller_type: str | None = None,
                 spam_flags: Any = (), is_first_turn: bool = False,
                 collected_entities: Mapping[str, Any] | None = None, variation: int = 0) -> None:
        if now is None:
            raise ValueError("TurnContext needs now= (a timezone-aware datetime); the engine reads no clock")
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("TurnContext.now must be timezone-aware")
        profile = CompanyProfile.from_dict(company)
        set_ = object.__setattr__
        set_(self, "company", profile)
        set_(self, "now", now)
        ct = (caller_type or "unknown").lower()
        set_(self, "caller_type", ct if ct in CALLER_TYPES else "unknown")
        set_(self, "spam_flags", frozenset(spam_flags or ()))
        set_(self, "is_first_turn", bool(is_first_turn))
        set_(self, "collected_entities",
             MappingProxyType({str(k): v for k, v in (collected_entities or {}).items() if v not in (None, "")}))
        local = profile.local(now)
        set_(self, "local_minute", local.hour * 60 + local.minute)
        set_(self, "local_day", (local.weekday() + 1) % 7)  # 0 = Sunday, as in timeWindows
        set_(self, "_open", None)
        set_(self, "variation", int(variation))  # picks wording variants turn by turn (0: the defaults)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("TurnContext is immutable")

    def is_open(self) -> bool:
        """Whether the company is within business hours at this turn's time (computed once)."""
        if self._open is None:
            object.__setattr__(self, "_open", self.company.is_open(self.now))
        return bool(self._open)


@dataclass(frozen=True, slots=True)
class BaseResponse:
    """The base answer from the scenarios (or Tier 3): text and an optional proposed action."""

    text: str
    action: str | None = None
    source: str = "scenario"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the caller hears and what happens next; the caller of the engine performs side effects."""

    action: str
    response: str
    short_circuit: bool = False
    applied_blocks: tuple[Mapping[str, str], ...] = ()
    transfer_target: str | None = None
    transfer_phone: str | None = None
    transfer_queue: str | None = None
    transfer_sip: str | None = None
    collect_entities: tuple[Mapping[str, Any], ...] = ()
    matched_pattern: str | None = None
    tags: tuple[str, ...] = ()
    side_effects: tuple[Mapping[str, Any], ...] = ()
    guardrails_fired: tuple[str, ...] = ()
    proposed_action: str | None = None
    barge_in: bool = True
    missing_variables: tuple[str, ...] = ()
    elapsed_ms: float = 0.0
    perf_fault: bool = False
    base_used: bool = True

    @property
    def transfer(self) -> dict[str, Any] | None:
        """Where a TRANSFER goes: ``{target, phone, queue, sip}`` (None for other actions)."""
        if self.action != "TRANSFER":
            return None
        return {"target": self.transfer_target, "phone": self.transfer_phone, "queue": self.transfer_queue,
                "sip": self.transfer_sip}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (for forensics, the CLI and tests)."""
        return {k: thaw(getattr(self, k)) for k in self.__dataclass_fields__}


__all__ = ["TurnContext", "BaseResponse", "Decision"]
