"""The legacy edge-case shape of the upgrade plan (``triggerPatterns`` + ``responseText``) in the
enterprise shape: used when a sheet is validated (normalized on the fly) and by the migration
(``policy.migrate``, rewritten for good)."""

from __future__ import annotations

import re
from typing import Any

_REGEX_CHARS = re.compile(r"[\\^$.*+?()\[\]{}]")


def legacy_id(name: Any) -> str:
    """The stable id a legacy edge case gets from its name ("Hold music" -> "ec-hold-music")."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")[:60] if isinstance(name, str) else ""
    return f"ec-{slug or 'unnamed'}"


def legacy_to_enterprise(data: dict[str, Any]) -> dict[str, Any]:
    """A legacy edge case (``triggerPatterns`` + ``responseText``) in the enterprise shape: ``match``
    (keywords, or regexes when any pattern is one) and an ``override_response`` action."""
    data = dict(data)
    if "match" in data or "action" in data:
        raise ValueError("use either the legacy triggerPatterns/responseText or match/action, not both")
    patterns = data.pop("triggerPatterns", []) or []
    if not isinstance(patterns, list):
        raise ValueError("triggerPatterns must be a list of keywords")
    if any(isinstance(p, str) and _REGEX_CHARS.search(p) for p in patterns):
        # Any pattern is a real regex: keep "any pattern matches" by making all of them regexes.
        regexes = [p if _REGEX_CHARS.search(p) else rf"\b(?:{p})\b" for p in patterns if isinstance(p, str)]
        data["match"] = {"regexPatterns": regexes}
    else:
        data["match"] = {"keywordsAny": [part.strip() if isinstance(part, str) else part
                                         for p in patterns
                                         for part in (p.split("|") if isinstance(p, str) else [p])
                                         if not isinstance(part, str) or part.strip()]}
    data["action"] = {"type": "override_response", "inlineResponse": data.pop("responseText", None)}
    if "id" not in data and isinstance(data.get("name"), str):
        data["id"] = legacy_id(data["name"])
    return data


__all__ = ["legacy_id", "legacy_to_enterprise"]
