"""The reference meaning of a Mongo-style filter (``matches``) and of a sort, in Python: the rows a SQL
prefilter lets through are checked, sorted, skipped and limited here (``filter_rows``)."""

# Semantics kept here and in the SQL of ``sql`` (Mongo's, for the types the app stores):
# - equality on a field holding an array matches any element; ``{"f": None}`` matches a
#   missing field, a null, or an array holding a null;
# - numbers compare with numbers, strings with strings, booleans only with booleans;
# - dotted paths go through subdocuments, not through arrays (``"a.b"`` on ``a: [{b: 1}]``
#   is missing; Mongo would look inside the array);
# - sorting orders values as SQLite orders ``json_extract``: missing and null first, then
#   numbers (booleans as 0 and 1 among them), then strings, arrays, objects and dates by
#   their JSON text; ties in insertion order, reversed when the last sort key is descending.

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pymongo.errors import OperationFailure

from .documents import MISSING, Row, dumps, get_path, loads

#: The range operators, and their SQL forms.
RANGE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_SCALARS = (str, int, float, type(None))

SortSpec = list[tuple[str, int]]


# --- matching in Python (the reference) -------------------------------------------------------

def is_operators(cond: Any) -> bool:
    """Whether a filter value is a document of query operators (``{"$gt": 1}``)."""
    if isinstance(cond, _SCALARS) or not isinstance(cond, Mapping):
        return False
    return bool(cond) and all(str(k).startswith("$") for k in cond)


def _same(value: Any, arg: Any) -> bool:
    if isinstance(value, bool) != isinstance(arg, bool):
        return False
    return value == arg


def _eq(value: Any, arg: Any) -> bool:
    if value is MISSING:
        return arg is None
    return _same(value, arg) or (isinstance(value, list) and any(_same(v, arg) for v in value))


def _comparable(a: Any, b: Any) -> bool:
    """Whether two values are of comparable kinds (Mongo compares within a type bracket)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    num = (int, float)
    return (isinstance(a, num) and isinstance(b, num)) or type(a) is type(b)


def _in_range(value: Any, op: str, arg: Any) -> bool:
    for v in value if isinstance(value, list) else [value]:
        if v is MISSING or v is None or not _comparable(v, arg):
            continue
        if ((op == "$gt" and v > arg) or (op == "$gte" and v >= arg)
                or (op == "$lt" and v < arg) or (op == "$lte" and v <= arg)):
            return True
    return False


def _op_match(value: Any, op: str, arg: Any) -> bool:
    if op == "$eq":
        return _eq(value, arg)
    if op == "$ne":
        return not _eq(value, arg)
    if op == "$in":
        return any(_eq(value, a) for a in arg)
    if op == "$exists":
        return (value is not MISSING) == bool(arg)
    if op in RANGE:
        return _in_range(value, op, arg)
    raise OperationFailure(f"unknown query operator {op}")


def matches(doc: Mapping[str, Any], flt: Mapping[str, Any] | None) -> bool:
    """Whether a document matches a Mongo-style filter (the subset the app uses)."""
    for key, cond in (flt or {}).items():
        if key == "$and":
            if not all(matches(doc, c) for c in cond):
                return False
        elif key == "$or":
            if not any(matches(doc, c) for c in cond):
                return False
        elif is_operators(cond):
            value = get_path(doc, key)
            if not all(_op_match(value, op, arg) for op, arg in cond.items()):
                return False
        elif not _eq(get_path(doc, key), cond):
            return False
    return True


# --- sorting --------------------------------------------------------------------------------

def sort_spec(key_or_list: Any, direction: Any = None) -> SortSpec:
    """pymongo's sort arguments (``"k"``, ``("k", -1)``, ``[("k", 1), ...]``) as a list of pairs."""
    if not key_or_list:
        return []
    if isinstance(key_or_list, str):
        pairs = [(key_or_list, 1 if direction is None else direction)]
    elif isinstance(key_or_list, Mapping):
        pairs = list(key_or_list.items())
    else:
        pairs = [(k, d) for k, d in key_or_list]
    for field, d in pairs:
        if not isinstance(field, str) or d not in (1, -1) or isinstance(d, bool):
            raise ValueError(f"bad sort specification {field!r}: {d!r}")
    return pairs


def sort_value(value: Any) -> tuple:
    """A value's place in the sort order, the order SQLite gives ``json_extract`` results."""
    if value is MISSING or value is None:
        return (0, 0)
    if isinstance(value, (bool, int, float)):
        return (1, int(value) if isinstance(value, bool) else value)
    return (2, value if isinstance(value, str) else dumps(value))


def sort_rows(rows: list[Row], spec: SortSpec) -> None:
    """Sort (rowid, text, doc) rows in place as ``order_sql`` sorts them in SQLite."""
    rows.sort(key=lambda r: r[0], reverse=bool(spec) and spec[-1][1] < 0)
    for field, direction in reversed(spec):  # stable sorts, last key first
        rows.sort(key=lambda r: sort_value(get_path(r[2], field)), reverse=direction < 0)


def filter_rows(rows: Iterable[tuple[int, str]], flt: Mapping[str, Any], spec: SortSpec,
                 skip: int, limit: int) -> list[Row]:
    """Rows past a SQL prefilter, checked, sorted, skipped and limited in Python."""
    out: list[Row] = []
    stop = skip + limit if limit and not spec else 0
    for rowid, text in rows:
        doc = loads(text)
        if matches(doc, flt):
            out.append((rowid, text, doc))
            if stop and len(out) >= stop:
                break
    if spec:
        sort_rows(out, spec)
    return out[skip:skip + limit] if limit else out[skip:]
