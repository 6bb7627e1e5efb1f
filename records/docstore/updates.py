"""Mongo-style update operators applied in place to a decoded document (``$set $setOnInsert $unset $inc $max
$push $addToSet``); values are copied in, so a document never shares objects with the caller's update."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.errors import OperationFailure

from .documents import MISSING, clone, get_path


def _parent(doc: dict[str, Any], path: str, create: bool) -> tuple[Any, str]:
    parts = path.split(".")
    cur: Any = doc
    for part in parts[:-1]:
        if isinstance(cur, list) and part.isdigit():
            cur = cur[int(part)]
            continue
        nxt = cur.get(part) if isinstance(cur, dict) else None
        if not isinstance(nxt, (dict, list)):
            if not create:
                return None, parts[-1]
            nxt = {}
            cur[part] = nxt
        cur = nxt
    return cur, parts[-1]


def _place(doc: dict[str, Any], path: str, value: Any) -> None:
    parent, last = _parent(doc, path, True)
    if isinstance(parent, list) and last.isdigit():
        parent[int(last)] = value
    else:
        parent[last] = value


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set a copy of value (the document never shares objects with the caller's update)."""
    _place(doc, path, clone(value))


def _unset(doc: dict[str, Any], path: str, _: Any) -> None:
    parent, last = _parent(doc, path, False)
    if isinstance(parent, dict):
        parent.pop(last, None)


def _inc(doc: dict[str, Any], path: str, by: Any) -> None:
    current = get_path(doc, path)
    base = 0 if current is MISSING else current
    if not isinstance(base, (int, float)) or isinstance(base, bool):
        raise OperationFailure(f"cannot $inc non-numeric field {path}")
    _place(doc, path, base + by)


def _max(doc: dict[str, Any], path: str, value: Any) -> None:
    current = get_path(doc, path)
    if current is MISSING or value > current:
        _set(doc, path, value)


def _append(doc: dict[str, Any], path: str, arg: Any, unique: bool) -> None:
    """$push (``unique`` False) or $addToSet: one item, or ``$each`` of them; $push takes ``$slice``."""
    items = arg["$each"] if isinstance(arg, Mapping) and "$each" in arg else [arg]
    current = get_path(doc, path)
    if current is not MISSING and not isinstance(current, list):
        raise OperationFailure(f"{'$addToSet' if unique else '$push'} needs an array at {path}")
    lst = [] if current is MISSING else list(current)
    for item in items:
        if not unique or item not in lst:
            lst.append(clone(item))
    if isinstance(arg, Mapping) and "$slice" in arg:
        n = int(arg["$slice"])
        lst = lst[n:] if n < 0 else lst[:n]
    _place(doc, path, lst)


_UPDATES = {
    "$set": _set, "$setOnInsert": _set, "$unset": _unset, "$inc": _inc, "$max": _max,
    "$push": lambda doc, path, arg: _append(doc, path, arg, False),
    "$addToSet": lambda doc, path, arg: _append(doc, path, arg, True),
}


#: For a document that is only serialized afterwards, values need not be copied in.
_UNCOPIED = {**_UPDATES, "$set": _place, "$setOnInsert": _place}


def apply_update(doc: dict[str, Any], update: Mapping[str, Any], *, inserting: bool = False,
                 copy: bool = True) -> None:
    """Apply a Mongo-style update in place ($set $setOnInsert $unset $inc $max $push $addToSet).

    ``copy=False`` when the document is serialized and dropped right after: ``$set`` values are then
    placed as they are (shared with the caller's update for that moment only)."""
    if not update or not all(str(k).startswith("$") for k in update):
        raise OperationFailure("update only works with $ operators")
    for op, fields in update.items():
        handler = (_UPDATES if copy else _UNCOPIED).get(op)
        if handler is None:
            raise OperationFailure(f"unknown update operator {op}")
        if op == "$setOnInsert" and not inserting:
            continue
        for path, arg in fields.items():
            if path == "_id" and op != "$setOnInsert":
                raise OperationFailure("the _id field cannot be changed")
            handler(doc, path, arg)
