"""Behavior rules: the final polish of every reply (tone, acknowledgement, greeting, read-back)."""

from __future__ import annotations

import re
from typing import Any, Mapping

from .company import CompanyProfile
from .entities import spoken
from .text import label

_OK = re.compile(r"^\s*(?:ok|okay)\b", re.I)
_KEEP_CAPITAL = re.compile(r"^(?:I\b|I'|[A-Z]{2,}\b)")


def spoken_value(value: Any) -> str:
    """A collected value as it should be read back (phone digits grouped, dates spelled)."""
    return spoken(value)


class BehaviorRules:
    """The behavior flags of a policy and the polite-word table, compiled once."""

    __slots__ = ("flags", "_polite", "_polite_map", "never_interrupt")

    def __init__(self, content: Mapping[str, Any]) -> None:
        self.flags = frozenset(content["behaviorRules"])
        self.never_interrupt = "NEVER_INTERRUPT" in self.flags
        table = {k.lower(): v for k, v in content["politeReplacements"].items()}
        self._polite_map = table
        self._polite = (re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(table, key=len, reverse=True))
                                   + r")\b", re.I) if table and "POLITE_PROFESSIONAL" in self.flags else None)

    def formal(self, text: str) -> str:
        """POLITE_PROFESSIONAL: casual words replaced by formal ones (whole words, capitals kept)."""
        def repl(m: re.Match[str]) -> str:
            word = m.group(0)
            new = self._polite_map[word.lower()]
            return new[:1].upper() + new[1:] if word[:1].isupper() else new
        return self._polite.sub(repl, text) if self._polite else text

    def apply(self, text: str, *, company: CompanyProfile, is_first_turn: bool, caller_spoke: bool,
              collected: Mapping[str, Any]) -> tuple[str, bool]:
        """Acknowledge, greet and read back (after ``formal``); returns the text and whether it changed."""
        original = text
        flags = self.flags
        greet = ("USE_COMPANY_NAME" in flags and is_first_turn and company.name
                 and company.variables.get("companyname", company.name).lower() not in text.lower())
        # Acknowledge what the caller said, not a greeting or a reprompt after silence.
        if "ACK_OK" in flags and caller_spoke and not greet and text and not _OK.match(text):
            proper = company.name and text.startswith(company.variables.get("companyname", company.name))
            first = text if proper or _KEEP_CAPITAL.match(text) else text[:1].lower() + text[1:]
            text = f"Ok, {first}"
        if greet:
            name = company.variables.get("companyname", company.name)
            text = f"Thanks for calling {name}! {text}".strip()
        if "CONFIRM_ENTITIES" in flags and collected:
            parts = [f"your {label(k)} as {spoken_value(v)}" for k, v in collected.items()]
            listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
            end = "" if listed.endswith(".") else "."
            text = f"{text} Just to confirm, I have {listed}{end}".strip()
        return text, text != original
