"""Documents, queries and updates of the embedded store: pure functions over plain values, no I/O.

``matches`` is the reference meaning of a Mongo-style filter. ``compile_filter`` turns the
same filter into a SQLite ``WHERE`` over ``json_extract(doc, '$.field')`` that selects
exactly the documents ``matches`` accepts when it says ``exact``, and a superset of them
(a prefilter, each row then checked with ``matches``) when some part has no SQL form.

Semantics kept on both sides (Mongo's, for the types the app stores):

- equality on a field holding an array matches any element; ``{"f": None}`` matches a
  missing field, a null, or an array holding a null;
- numbers compare with numbers, strings with strings, booleans only with booleans;
- dotted paths go through subdocuments, not through arrays (``"a.b"`` on ``a: [{b: 1}]``
  is missing; Mongo would look inside the array);
- sorting orders values as SQLite orders ``json_extract``: missing and null first, then
  numbers (booleans as 0 and 1 among them), then strings, arrays, objects and dates by
  their JSON text; ties in insertion order, reversed when the last sort key is descending.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pymongo.errors import OperationFailure

MISSING = object()

#: A field SQL can address with a JSON path: identifiers joined by dots (no array indexes).
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
#: json_type() names of each kind of value a filter compares with.
_TYPES = {"bool": "('true', 'false')", "number": "('integer', 'real')", "text": "('text')"}
_RANGE = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_INT64 = 2 ** 63
_SCALARS = (str, int, float, type(None))

SortSpec = list[tuple[str, int]]
#: A selected row: rowid, the stored JSON text, the decoded document.
Row = tuple[int, str, dict[str, Any]]


# --- documents as JSON --------------------------------------------------------------------

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


def dumps(doc: Any) -> str:
    """A document as the store keeps it (compact JSON, dates as ``{"$date": iso}``)."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=_default)


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
    if op in _RANGE:
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


# --- updates --------------------------------------------------------------------------------

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


def apply_update(doc: dict[str, Any], update: Mapping[str, Any], *, inserting: bool = False) -> None:
    """Apply a Mongo-style update in place ($set $setOnInsert $unset $inc $max $push $addToSet)."""
    if not update or not all(str(k).startswith("$") for k in update):
        raise OperationFailure("update only works with $ operators")
    for op, fields in update.items():
        handler = _UPDATES.get(op)
        if handler is None:
            raise OperationFailure(f"unknown update operator {op}")
        if op == "$setOnInsert" and not inserting:
            continue
        for path, arg in fields.items():
            if path == "_id" and op != "$setOnInsert":
                raise OperationFailure("the _id field cannot be changed")
            handler(doc, path, arg)


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


# --- SQL ------------------------------------------------------------------------------------

class Sql(NamedTuple):
    """A piece of WHERE clause: exact, or a superset of the documents the filter selects."""

    sql: str
    params: tuple
    exact: bool


_UNKNOWN = Sql("1", (), False)  # no SQL form: every row, to be checked in Python


@functools.lru_cache(maxsize=1024)
def sql_path(field: str) -> str | None:
    """The SQL literal of a field's JSON path (``'$.a.b'``), or None when SQL cannot address it."""
    return f"'$.{field}'" if _FIELD.match(field) else None


def holds_array(path: str) -> str:
    """SQL true when the value at path may be an array: its json_extract text starts with '['.

    A range on the field's value, so an index on the field finds such rows without a scan
    (a string starting with '[' gets through too: json_each yields it as itself, harmlessly).
    """
    return f"json_extract(doc, {path}) >= '[' AND json_extract(doc, {path}) < '\\'"


def sql_value(field: str) -> str:
    """The SQL expression of a field's value, the same text in indexes and queries."""
    return f"json_extract(doc, {sql_path(field)})"


def order_sql(spec: SortSpec) -> str | None:
    """ORDER BY for a sort (ties by rowid, in the last key's direction), or None without a SQL form."""
    terms = []
    for field, direction in spec:
        if sql_path(field) is None:
            return None
        terms.append(f"{sql_value(field)} {'DESC' if direction < 0 else 'ASC'}")
    terms.append("rowid DESC" if spec and spec[-1][1] < 0 else "rowid")
    return "ORDER BY " + ", ".join(terms)


def filter_fields(flt: Mapping[str, Any]) -> set[str]:
    """The fields a filter tests, through ``$and`` and ``$or``."""
    out: set[str] = set()
    for key, cond in flt.items():
        if key in ("$and", "$or") and isinstance(cond, (list, tuple)):
            for sub in cond:
                out |= filter_fields(sub) if isinstance(sub, Mapping) else set()
        elif not key.startswith("$"):
            out.add(key)
    return out


def compile_filter(flt: Mapping[str, Any] | None, scalar_fields: frozenset[str] = frozenset()) -> Sql:
    """A filter as SQL; ``scalar_fields`` hold no array in any document (so plain SQL, which an index
    serves with its order); other fields also look inside arrays."""
    return _document(flt or {}, scalar_fields)


def _document(flt: Any, scalar: frozenset[str]) -> Sql:
    if not isinstance(flt, Mapping):
        raise OperationFailure("a filter must be a document")
    return _all([_item(key, cond, scalar) for key, cond in flt.items()])


def _item(key: str, cond: Any, scalar: frozenset[str]) -> Sql:
    if key in ("$and", "$or"):
        if not isinstance(cond, (list, tuple)) or not cond:
            raise OperationFailure(f"{key} needs a non-empty array")
        parts = [_document(c, scalar) for c in cond]
        return _all(parts) if key == "$and" else _any(parts)
    if key.startswith("$"):
        raise OperationFailure(f"unknown top-level query operator {key}")
    if not is_operators(cond):
        return _equal(key, cond, scalar)
    # One number range that keeps true/false (1/0) out makes json_type needless for its siblings.
    bools_out = any(op in _RANGE and _kind(arg) == "number" and not _admits_bools(_RANGE[op], arg)
                    for op, arg in cond.items())
    return _all([_operator(key, op, arg, scalar, bools_out) for op, arg in cond.items()])


def _operator(field: str, op: str, arg: Any, scalar: frozenset[str], bools_out: bool = False) -> Sql:
    if op == "$eq":
        return _equal(field, arg, scalar, bools_out)
    if op == "$ne":
        return _negate(_equal(field, arg, scalar, bools_out))
    if op == "$in":
        if not isinstance(arg, (list, tuple)):
            raise OperationFailure("$in needs an array")
        return _one_of(field, list(arg), scalar, bools_out)
    if op in _RANGE:
        path, kind = sql_path(field), _kind(arg)
        return _compare(path, _RANGE[op], kind, arg, field in scalar, bools_out) if path and kind else _UNKNOWN
    if op == "$exists":
        return _exists(field, bool(arg))
    raise OperationFailure(f"unknown query operator {op}")


def _all(parts: Sequence[Sql]) -> Sql:
    if len(parts) == 1:
        return parts[0]
    exact = all(p.exact for p in parts)
    kept = [p for p in parts if p.sql != "1"]
    if not kept:
        return Sql("1", (), exact)
    return Sql(" AND ".join(f"({p.sql})" for p in kept), tuple(x for p in kept for x in p.params), exact)


def _any(parts: Sequence[Sql]) -> Sql:
    exact = all(p.exact for p in parts)
    if any(p.sql == "1" for p in parts):
        return Sql("1", (), exact)
    if not parts:
        return Sql("0", (), True)
    return Sql(" OR ".join(f"({p.sql})" for p in parts), tuple(x for p in parts for x in p.params), exact)


def _negate(part: Sql) -> Sql:
    if not part.exact:
        return _UNKNOWN  # the negation of a superset is no superset
    return Sql(f"NOT IFNULL(({part.sql}), 0)", part.params, True)


def _kind(value: Any) -> str | None:
    """Which kind of JSON scalar SQL can compare a filter value with, or None."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "number" if -_INT64 <= value < _INT64 else None
    if isinstance(value, float):
        return "number" if math.isfinite(value) else None
    return "text" if isinstance(value, str) else None


def _compare(path: str, op: str, kind: str, arg: Any, scalar: bool, bools_out: bool = False) -> Sql:
    """``value <op> arg`` within arg's type bracket, on the field or (arrays) any element."""
    param = int(arg) if isinstance(arg, bool) else arg
    top = f"json_extract(doc, {path}) {op} ?{_kind_guard(path, op, kind, [param], bools_out)}"
    return _or_element(path, top, f"type IN {_TYPES[kind]} AND value {op} ?", param, scalar)


def _kind_guard(path: str, op: str, kind: str, params: list[Any], bools_out: bool = False) -> str:
    """SQL keeping values of other JSON types out of ``json_extract(...) <op> param``, if they can get in.

    json_extract gives true/false as 1/0, and objects and arrays as their JSON text ('{...', '[...');
    SQLite orders every number before every text. So a comparison needs json_type (a JSON parse
    of the row) only when such a value could pass it; a number compared from below only needs
    an upper bound below all text, which the index serves. ``bools_out``: a sibling condition on
    the same value already refuses true and false.
    """
    exact = f" AND json_type(doc, {path}) IN {_TYPES[kind]}"
    if kind == "bool":
        return exact
    if kind == "text":
        return "" if op == "=" and not any(p[:1] in ("[", "{") for p in params) else exact
    if not bools_out and any(_admits_bools(op, p) for p in params):
        return exact  # true or false would pass as 1 or 0
    return f" AND json_extract(doc, {path}) < ''" if op in (">", ">=") else ""


def _admits_bools(op: str, param: Any) -> bool:
    """Whether 1 or 0 (true or false to json_extract) satisfies ``<op> param``."""
    if op == "=":
        return param in (0, 1)
    if op in (">", ">="):
        return param < 1 or (op == ">=" and param == 1)
    return param > 0 or (op == "<=" and param == 0)


def _or_element(path: str, top: str, element: str, param: Any, scalar: bool) -> Sql:
    """``top``, or an element of an array at ``path`` meets ``element`` (skipped for scalar fields)."""
    params = () if param is None else (param,)
    if scalar:
        return Sql(top, params, True)
    sql = f"{top} OR ({holds_array(path)} AND EXISTS (SELECT 1 FROM json_each(doc, {path}) WHERE {element}))"
    return Sql(sql, params * 2, True)


def _equal(field: str, arg: Any, scalar: frozenset[str], bools_out: bool = False) -> Sql:
    if field == "_id":
        return _id_in([arg])
    path = sql_path(field)
    if path is None:
        return _UNKNOWN
    if arg is None:
        return _or_element(path, f"json_extract(doc, {path}) IS NULL", "type = 'null'", None, field in scalar)
    kind = _kind(arg)
    return _compare(path, "=", kind, arg, field in scalar, bools_out) if kind else _UNKNOWN


def _one_of(field: str, args: list[Any], scalar: frozenset[str], bools_out: bool = False) -> Sql:
    if field == "_id":
        return _id_in(args)
    kinds = {_kind(a) if a is not None else None for a in args}
    path = sql_path(field)
    if field not in scalar or path is None or len(kinds) != 1 or None in kinds:
        return _any([_equal(field, a, scalar, bools_out) for a in args])
    kind = kinds.pop()
    params = tuple(int(a) if isinstance(a, bool) else a for a in args)
    marks = ", ".join("?" * len(args))
    guard = _kind_guard(path, "=", kind, list(params), bools_out)
    return Sql(f"json_extract(doc, {path}) IN ({marks}){guard}", params, True)


def _id_keys(value: Any) -> list[str] | None:
    """The primary-key texts an ``_id`` equal to value can have (1 and 1.0 are equal), or None."""
    if isinstance(value, str):
        return [id_key(value)]
    if isinstance(value, list):
        return None
    keys = {id_key(value)}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 53:
        keys.add(id_key(float(value)))
    elif isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        keys.add(id_key(int(value)))
    return sorted(keys)


def _id_in(values: list[Any]) -> Sql:
    keys: list[str] = []
    for value in values:
        found = _id_keys(value)
        if found is None:
            return _UNKNOWN
        keys.extend(found)
    if not keys:
        return Sql("0", (), True)
    return Sql(f"id IN ({', '.join('?' * len(keys))})", tuple(keys), True)


def _exists(field: str, wanted: bool) -> Sql:
    if field == "_id":
        return Sql("1" if wanted else "0", (), True)
    path = sql_path(field)
    if path is None:
        return _UNKNOWN
    return Sql(f"json_type(doc, {path}) IS {'NOT ' if wanted else ''}NULL", (), True)


# --- index names ------------------------------------------------------------------------------
# Indexes live in SQLite under names that say what they are, so every process learns them from
# sqlite_master: "ix|<table>|<field>:<direction>|..." is the index on json_extract of each field.

def index_spec(keys: Any) -> SortSpec:
    """pymongo's index keys (``"k"`` or ``[("a", 1), ("b", -1)]``) checked for the embedded store."""
    spec = sort_spec(keys)
    if not spec:
        raise OperationFailure("an index needs at least one key")
    for field, _ in spec:
        if field == "_id" or sql_path(field) is None:
            raise OperationFailure(f"the embedded store cannot index {field!r}")
    return spec


def mongo_index_name(spec: SortSpec) -> str:
    """pymongo's default name of an index (``company_id_1_started_at_-1``)."""
    return "_".join(f"{field}_{direction}" for field, direction in spec)


def index_name(table: str, spec: SortSpec) -> str:
    """The SQLite name of a table's index on these keys."""
    return "|".join(["ix", table] + [f"{field}:{direction}" for field, direction in spec])


def parse_index_name(name: str) -> tuple[str, SortSpec] | None:
    """(table, keys) from a SQLite index name this store made, else None."""
    parts = name.split("|")
    if len(parts) < 3 or parts[0] != "ix":
        return None
    try:
        return parts[1], [(f, int(d)) for f, _, d in (p.rpartition(":") for p in parts[2:])]
    except ValueError:
        return None
