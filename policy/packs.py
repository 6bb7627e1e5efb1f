"""Default edge-case packs staff add to a cheat sheet in one step (pure: the time comes in).

The enterprise pack (``policy/data/enterprise_pack.yaml``): abuse and profanity (said, or masked by
the recognizer), legal threats, high-risk data (named, or a card number said aloud), pricing
negotiation and out-of-scope trades, adapted to the company: legal
threats go to its manager (or owner, or office) and abuse is reported to them; the pricing line
names its approved prices; out-of-scope words are the other trades'.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Mapping

from .compiler import builtin_data

PACKS = ("enterprise",)
#: Who hears about legal threats and abuse, by contact name, first found.
MANAGER_CONTACTS = ("manager", "owner", "office", "dispatch", "main")
_PRICE_VARIABLES = (("diagnosticFee", "Our diagnostic visit is {%s}"), ("serviceCallFee", "Our service call is {%s}"),
                    ("tripCharge", "Our trip charge is {%s}"))


def _trade_key(trade: str | None) -> str | None:
    t = (trade or "").casefold()
    if "plumb" in t:
        return "plumbing"
    if "electric" in t:
        return "electrical"
    if t in ("hvac", "heating", "cooling") or "hvac" in t or "heating" in t:
        return "hvac"
    return None


def _manager(company: Mapping[str, Any]) -> str | None:
    contacts = company.get("contacts") or {}
    return next((name for name in MANAGER_CONTACTS if name in contacts), next(iter(contacts), None))


def _audit(by: str, now: datetime) -> dict[str, Any]:
    stamp = now.isoformat()
    return {"createdBy": by, "createdAt": stamp, "updatedBy": by, "updatedAt": stamp}


def enterprise_pack(company: Mapping[str, Any], *, by: str, now: datetime) -> list[dict[str, Any]]:
    """The enterprise pack's edge cases for one company."""
    data = builtin_data("enterprise_pack")
    manager = _manager(company)
    variables = company.get("variables") or {}
    notify = [manager] if manager else []
    out = []
    abuse = data["abuse"]
    hangup = {"type": "polite_hangup", "hangupMessage": abuse["hangupMessage"]}
    abuse_effects = {"autoBlacklist": True, "autoTag": ["abuse"], "notifyContacts": notify, "logSeverity": "critical"}
    out.append(_edge(abuse, {"keywordsAny": list(abuse["keywordsAny"])}, hangup, abuse_effects))
    masked = data["abuse_masked"]
    out.append(_edge(masked, {"regexPatterns": list(masked["regexPatterns"])}, dict(hangup), dict(abuse_effects)))
    legal = data["legal"]
    if manager:
        label = {"manager": "our manager", "owner": "the owner"}.get(manager, f"our {manager}")
        action = {"type": "force_transfer", "transferTarget": manager,
                  "transferMessage": legal["transferMessage"].replace("{contactLabel}", label)}
    else:
        action = {"type": "override_response", "inlineResponse": legal["callbackMessage"]}
    out.append(_edge(legal, {"regexPatterns": list(legal["regexPatterns"])}, action,
                     {"autoTag": ["legal"], "notifyContacts": notify, "logSeverity": "critical"}))
    sensitive = data["sensitive"]
    refuse = {"type": "override_response", "inlineResponse": sensitive["inlineResponse"]}
    sensitive_effects = {"autoTag": ["sensitive_data"], "notifyContacts": notify, "logSeverity": "critical"}
    out.append(_edge(sensitive, {"keywordsAny": list(sensitive["keywordsAny"])}, refuse, sensitive_effects))
    digits = data["card_digits"]
    out.append(_edge(digits, {"regexPatterns": list(digits["regexPatterns"])}, dict(refuse), dict(sensitive_effects)))
    pricing = data["pricing"]
    prices = [line % name for name, line in _PRICE_VARIABLES if variables.get(name)]
    text = pricing["inlineResponse"] + (f" {prices[0]}, and you get a firm quote before any work starts."
                                        if prices else " Our team can go over pricing with you.")
    out.append(_edge(pricing, {"keywordsAny": list(pricing["keywordsAny"])},
                     {"type": "override_response", "inlineResponse": text},
                     {"autoTag": ["pricing_inquiry"], "logSeverity": "info"}))
    trade = _trade_key(company.get("trade"))
    if trade:
        info = data["trades"][trade]
        scope = data["out_of_scope"]
        reply = scope["inlineResponse"].replace("{tradeWork}", info["work"]).replace("{tradeShort}", info["short"])
        out.append(_edge(scope, {"keywordsAny": list(info["others"]), "tradeRequired": [company.get("trade")]},
                         {"type": "override_response", "inlineResponse": reply},
                         {"autoTag": ["out_of_scope"], "logSeverity": "info"}))
    audit = _audit(by, now)
    for ec in out:
        ec["auditMeta"] = dict(audit)
    return out


def _edge(spec: Mapping[str, Any], match: dict[str, Any], action: dict[str, Any],
          effects: dict[str, Any]) -> dict[str, Any]:
    return {"id": spec["id"], "name": spec["name"], "description": spec["description"], "enabled": True,
            "priority": spec["priority"], "match": match, "action": action, "sideEffects": effects}


def add_pack(sheet: Mapping[str, Any], company: Mapping[str, Any], *, pack: str = "enterprise", by: str,
             now: datetime) -> tuple[dict[str, Any], list[str], list[str]]:
    """A copy of the sheet with the pack's edge cases added; returns (sheet, added ids, skipped ids).

    An edge case whose id the sheet already has is left as the sheet has it (staff may have tuned it).
    """
    if pack not in PACKS:
        raise KeyError(f"unknown pack {pack!r} (known: {', '.join(PACKS)})")
    out = copy.deepcopy(dict(sheet))
    edges = list(out.get("edgeCases") or [])
    have = {e.get("id") for e in edges if isinstance(e, Mapping)}
    added, skipped = [], []
    for ec in enterprise_pack(company, by=by, now=now):
        if ec["id"] in have:
            skipped.append(ec["id"])
            continue
        edges.append(ec)
        added.append(ec["id"])
    out["edgeCases"] = edges
    return out, added, skipped


__all__ = ["enterprise_pack", "add_pack", "PACKS"]
