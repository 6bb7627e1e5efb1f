"""The cheat-sheet policy: schema, compiler and the deterministic engine (pure, no I/O)."""

from .company import Company, CompanyProfile, validate_company
from .compiler import CompiledPolicy, checksum_of, compile_cheatsheet, detect_conflicts, load_artifact
from .decision import BaseResponse, Decision, TurnContext
from .engine import BUDGET_MS, Routing, apply, finish, route, speak
from .errors import PolicyError, PolicyIntegrityError
from .schema import validate

__all__ = [
    "apply", "route", "finish", "Routing", "speak", "compile_cheatsheet", "load_artifact", "checksum_of", "detect_conflicts", "validate",
    "CompiledPolicy", "Decision", "TurnContext", "BaseResponse", "PolicyError", "PolicyIntegrityError",
    "Company", "CompanyProfile", "validate_company", "BUDGET_MS",
]
