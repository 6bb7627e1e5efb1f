"""The upgrade plan's migration: legacy-shape edge cases rewritten in the enterprise shape (pure).

Each edge case written as ``triggerPatterns`` + ``responseText`` becomes ``match`` + ``action``
(``override_response``) with the stable id it has always been logged under (``ec-<name>``, made
unique if two names collide) and audit metadata saying who migrated it and when. Everything else
in the sheet is kept as it was; enterprise-shape edge cases are not touched. The migrated sheet
compiles to the same checksum: it means the same, only its shape and audit data change.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Mapping

from .legacy import legacy_id, legacy_to_enterprise


def is_legacy(edge_case: Any) -> bool:
    """Whether an edge case is written in the legacy shape."""
    return isinstance(edge_case, Mapping) and ("triggerPatterns" in edge_case or "responseText" in edge_case)


def migrate_sheet(sheet: Mapping[str, Any], *, by: str, now: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The sheet with every legacy edge case in the enterprise shape, and what changed (one entry each)."""
    out = copy.deepcopy(dict(sheet))
    edges = list(out.get("edgeCases") or [])
    taken = {e.get("id") for e in edges if isinstance(e, Mapping) and not is_legacy(e) and e.get("id")}
    changes = []
    stamp = now.isoformat()
    for i, ec in enumerate(edges):
        if not is_legacy(ec):
            continue
        new = legacy_to_enterprise(dict(ec))
        rid = new.get("id") or legacy_id(new.get("name"))
        base, n = rid, 2
        while rid in taken:
            rid = f"{base}-{n}"[:80]
            n += 1
        taken.add(rid)
        new["id"] = rid
        audit = dict(new.get("auditMeta") or {})
        audit.setdefault("createdBy", by)
        audit.setdefault("createdAt", stamp)
        audit.update(updatedBy=by, updatedAt=stamp)
        new["auditMeta"] = audit
        edges[i] = new
        changes.append({"index": i, "id": rid, "name": new.get("name"), "match": new["match"],
                        "action": new["action"]["type"]})
    out["edgeCases"] = edges
    return out, changes


__all__ = ["migrate_sheet", "is_legacy"]
