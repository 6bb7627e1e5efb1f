"""What a cheat sheet refers to that only its company can resolve: contacts, transfer targets, variables.

Pure: the sheet (validated) and the company document in, errors and warnings out. Saving a
draft through the admin API refuses a sheet whose references do not resolve (422 with the
field path), since at run time the caller would be sent nowhere; a variable the company
lacks is a warning (the sentence using it is dropped when spoken).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from .frozen import thaw
from .schema import CheatSheet


def _is_number(target: str) -> bool:
    return len(re.sub(r"\D", "", target)) >= 7


def reference_errors(sheet: CheatSheet, company: Mapping[str, Any]) -> list[dict[str, str]]:
    """Transfer targets, contacts and notified contacts that the company cannot resolve."""
    contacts = company.get("contacts") or {}
    rule_ids = {tr.id for tr in sheet.transferRules}
    intents = {tr.intentTag for tr in sheet.transferRules if tr.enabled}
    errors = []
    for i, tr in enumerate(sheet.transferRules):
        if not tr.phoneNumber and tr.contactNameOrQueue not in contacts:
            errors.append({"path": f"transferRules[{i}].contactNameOrQueue",
                           "message": f"{tr.contactNameOrQueue!r} is not one of the company's contacts "
                                      f"({', '.join(sorted(contacts)) or 'it has none'}) and the rule has no "
                                      f"phoneNumber: callers would be put in a queue nobody answers"})
    for i, ec in enumerate(sheet.edgeCases):
        target = ec.action.transferTarget
        if ec.action.type == "force_transfer" and target and not (
                target in rule_ids or target in intents or target in contacts or _is_number(target)):
            errors.append({"path": f"edgeCases[{i}].action.transferTarget",
                           "message": f"{target!r} is not a transfer rule id, an intent with a rule, a contact of "
                                      f"the company or a phone number"})
        for j, name in enumerate(ec.sideEffects.notifyContacts):
            if name not in contacts:
                errors.append({"path": f"edgeCases[{i}].sideEffects.notifyContacts[{j}]",
                               "message": f"{name!r} is not one of the company's contacts"})
    return errors


def company_warnings(report: Mapping[str, Any], company: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The compile warnings that still hold for a company, plus variables it does not define (plain data)."""
    company = company or {}
    contacts = set(company.get("contacts") or {})
    out = [thaw(w) for w in report.get("warnings", ()) if w.get("contact") not in contacts]
    known = set(company.get("variables") or {}) | {"companyname"}
    for name in report.get("variables", ()):
        if company and name not in known:
            out.append({"path": "variables", "variable": name,
                        "message": f"{{{name}}} is not among the company's variables: sentences using it are "
                                   f"dropped when spoken"})
    return out


__all__ = ["reference_errors", "company_warnings"]
