"""SAFE_DEFAULT: the hardcoded policy served when a company has no usable compiled policy.

All guardrails on, polite behavior, no edge cases, and emergencies transferred to the
company's fallback number when it has one. Needs no backend; compiled once per number.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .compiler import CompiledPolicy, compile_cheatsheet
from .schema import GUARDRAILS


def safe_default_sheet(fallback_number: str | None) -> dict[str, Any]:
    """The SAFE_DEFAULT cheat sheet for a company whose fallback number is given (or None)."""
    sheet: dict[str, Any] = {
        "behaviorRules": ["POLITE_PROFESSIONAL"],
        "guardrails": list(GUARDRAILS),
        "allowedActions": ["TAKE_MESSAGE", "PROVIDE_HOURS", "COLLECT_INFO"],
        "edgeCases": [],
        "transferRules": [],
    }
    if fallback_number:
        sheet["allowedActions"].append("TRANSFER_EMERGENCY")
        sheet["transferRules"].append({
            "id": "safe-emergency", "name": "Emergency to the main number", "intentTag": "emergency",
            "contactNameOrQueue": "main", "phoneNumber": fallback_number, "priority": 1,
            "script": "This sounds urgent, so I'm connecting you to our team now.",
            "keywords": ["emergency", "gas leak", "smell gas", "carbon monoxide", "fire", "flooding"],
        })
    return sheet


@lru_cache(maxsize=1024)
def safe_default(fallback_number: str | None = None) -> CompiledPolicy:
    """The compiled SAFE_DEFAULT policy (version 0) for a fallback number."""
    return compile_cheatsheet(safe_default_sheet(fallback_number))


__all__ = ["safe_default", "safe_default_sheet"]
