"""Documents as the embedded store keeps them: compact JSON text (dates as ``{"$date": iso}``) and back,
the primary-key text of an ``_id``, deep copies, dotted paths (``MISSING`` where nothing is) and projections."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

MISSING = object()

#: A selected row: rowid, the stored JSON text, the decoded document.
Row = tuple[int, str, dict[str, Any]]


def _default(value: Any) -> Any:
    """JSON for the few types json does not know: datetimes (as pymongo stores them) and mappings."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return {"$date": value.isoformat()}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__} in the embedded document store")


def _decode_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$date" in obj:
        return datetime.fromisoformat(obj["$date"])  # naive UTC, as pymongo returns by default
    return obj


def dumps(doc: Any, *, allow_nan: bool = True) -> str:
    """A document as the store keeps it (compact JSON, dates as ``{"$date": iso}``); ``allow_nan=False``
    refuses NaN and infinities (ValueError), which are not JSON that SQLite's functions read."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=_default, allow_nan=allow_nan)


def loads(text: str) -> Any:
    """A stored document back as Python values (the date hook only where a date is stored)."""
    return json.loads(text, object_hook=_decode_hook) if '"$date"' in text else json.loads(text)


def id_key(_id: Any) -> str:
    """The primary-key text of an ``_id``."""
    if isinstance(_id, str):
        return json.dumps(_id)
    return json.dumps(_id, sort_keys=True, separators=(",", ":"), default=_default)


def clone(value: Any) -> Any:
    """A deep copy of a JSON-shaped value (leaves are immutable, so they are shared)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def get_path(doc: Any, path: str) -> Any:
    """The value at a dotted path, or MISSING (a digit part indexes an array)."""
    cur = doc
    for part in path.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return MISSING
    return cur


def project(doc: dict[str, Any], projection: Any) -> dict[str, Any]:
    """The document with only the fields a pymongo projection asks for."""
    if not projection:
        return doc
    fields = dict.fromkeys(projection, 1) if isinstance(projection, (list, tuple)) else dict(projection)
    include = {k for k, v in fields.items() if v and k != "_id"}
    if include:
        out = {k: doc[k] for k in include if k in doc}
        if fields.get("_id", 1) and "_id" in doc:
            out["_id"] = doc["_id"]
        return out
    return {k: v for k, v in doc.items() if fields.get(k, 1)}
