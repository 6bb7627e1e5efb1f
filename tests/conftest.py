"""Shared fixtures: a company, turn contexts at fixed times, the app and its CLI runner."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import policy

ROOT = Path(__file__).resolve().parents[1]
CHICAGO = ZoneInfo("America/Chicago")

COMPANY: dict[str, Any] = {
    "id": "acme-hvac",
    "name": "Acme Heating",
    "numbers": ["+15125550100"],
    "timezone": "America/Chicago",
    "businessHours": {"mon": ["08:00", "17:00"], "tue": ["08:00", "17:00"], "wed": ["08:00", "17:00"],
                      "thu": ["08:00", "17:00"], "fri": ["08:00", "17:00"], "sat": None},
    "trade": "HVAC",
    "variables": {"companyname": "Acme Heating", "phone": "+1 512 555 0100",
                  "emergencyPhone": "+1 512 555 0199", "diagnosticFee": "$89"},
    "urlWhitelist": ["acme.example"],
    "contacts": {"dispatch": {"phone": "+15125550101"}, "billing": {"queue": "billing"},
                 "manager": {"sip": "sip:manager@acme.example"}},
}

#: Monday 2026-01-05 10:00 in Chicago: open.
OPEN = datetime(2026, 1, 5, 10, 0, tzinfo=CHICAGO)
#: Monday 2026-01-05 21:30 in Chicago: closed.
CLOSED = datetime(2026, 1, 5, 21, 30, tzinfo=CHICAGO)


@pytest.fixture
def company() -> dict[str, Any]:
    """A fresh copy of the test company document."""
    return copy.deepcopy(COMPANY)


def ctx(**kw: Any) -> policy.TurnContext:
    """A turn context for the test company; override any keyword."""
    kw.setdefault("company", COMPANY)
    kw.setdefault("now", OPEN)
    return policy.TurnContext(**kw)


def compile_(**sheet: Any) -> policy.CompiledPolicy:
    """Compile a cheat sheet given as keyword arguments (guardrails default to none for focus)."""
    sheet.setdefault("guardrails", [])
    return policy.compile_cheatsheet(sheet)


def edge(id: str, match: dict[str, Any], action: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    """An edge case document."""
    return {"id": id, "name": id.replace("-", " "), "match": match,
            "action": action or {"type": "override_response", "inlineResponse": f"override {id}"}, **kw}


@pytest.fixture
def app():
    """The Flask app in testing mode."""
    from app import create_app

    return create_app({"TESTING": True})


@pytest.fixture
def runner(app):
    """The app's CLI runner (``flask ...`` commands)."""
    return app.test_cli_runner()
