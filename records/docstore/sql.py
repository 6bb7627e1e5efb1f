"""A Mongo-style filter and sort as SQLite over ``json_extract(doc, '$.field')``, and the names of the store's
indexes: ``compile_filter`` selects exactly the documents ``matches`` accepts when it says ``exact``, else a
superset of them (a prefilter, each row then checked in Python)."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from pymongo.errors import OperationFailure

from .documents import id_key
from .matching import RANGE, SortSpec, is_operators, sort_spec

#: A field SQL can address with a JSON path: identifiers joined by dots (no array indexes).
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
#: json_type() names of each kind of value a filter compares with.
_TYPES = {"bool": "('true', 'false')", "number": "('integer', 'real')", "text": "('text')"}
_INT64 = 2 ** 63


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
    serves with its order); other fields also look inside arrays.

    Compiled once per shape: filters that differ only in their ordinary strings and whole numbers
    (a call's id, a turn number) share their SQL, and only the parameters are taken again."""
    flt = flt or {}
    leaves: list[Any] = []
    try:
        key = (_shape(flt, leaves), scalar_fields)
        plan = _PLANS.get(key)
    except TypeError:  # an unhashable value where a filter has none that SQL reads: compiled as it is
        return _document(flt, scalar_fields)
    if plan is None:
        plan = _plan(flt, leaves, scalar_fields)
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        _PLANS[key] = plan
    if plan is False:
        return _document(flt, scalar_fields)
    sql, params, exact = plan
    return Sql(sql, tuple(_param(p, leaves) for p in params), exact)


# --- compiled shapes ---------------------------------------------------------------------------
# A filter's shape is the filter with each *variable* leaf (a non-empty string not starting with "[" or
# "{", a whole number from 2 to 2**53) replaced by its kind: the SQL text never depends on which such value
# it is, only the parameters do (itself, or its ``_id`` key text). A shape's plan is found by compiling
# the filter again with a distinct probe value in each variable leaf and seeing which parameter each
# probe became; it is kept only if it rebuilds the real filter's parameters exactly.

_PLANS: dict[tuple[Any, frozenset[str]], Any] = {}
_MAX_PLANS = 512
_VARIABLE_INT = (2, 2 ** 53)


def _variable(value: Any) -> str | None:
    """The kind of a leaf whose value the SQL text does not depend on ("s", "i"), else None."""
    if isinstance(value, str):
        return "s" if value and value[0] not in "[{" else None
    if isinstance(value, int) and not isinstance(value, bool) and _VARIABLE_INT[0] <= value < _VARIABLE_INT[1]:
        return "i"
    return None


def _shape(value: Any, leaves: list[Any]) -> Any:
    """A hashable shape of a filter; its variable leaves appended to ``leaves`` in order."""
    if isinstance(value, Mapping):
        return ("d",) + tuple((k, _shape(v, leaves)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ("l",) + tuple(_shape(v, leaves) for v in value)
    kind = _variable(value)
    if kind is not None:
        leaves.append(value)
        return kind
    return ("v", type(value).__name__, repr(value) if isinstance(value, float) else value)  # -0.0 is not 0.0


def _probed(value: Any, probes: list[Any]) -> Any:
    """The filter with each variable leaf replaced by the next probe."""
    if isinstance(value, Mapping):
        return {k: _probed(v, probes) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_probed(v, probes) for v in value]
    if _variable(value) is not None:
        return probes.pop(0)
    return value


#: How a parameter is made from its leaf: the value itself, or an ``_id``'s key text (of it, or of it as a float).
_MAKE = {"same": lambda v: v, "id": id_key, "id_float": lambda v: id_key(float(v))}


def _param(spec: tuple[str, Any], leaves: list[Any]) -> Any:
    how, arg = spec
    return arg if how == "const" else _MAKE[how](leaves[arg])


def _plan(flt: Mapping[str, Any], leaves: list[Any], scalar: frozenset[str]) -> Any:
    """(sql, parameter specs, exact) for the filter's shape, or False when the probes cannot explain it."""
    real = _document(flt, scalar)
    probes = [f"\x00probe{i}" if _variable(v) == "s" else 2 ** 40 + i for i, v in enumerate(leaves)]
    probe = _document(_probed(flt, list(probes)), scalar)
    if probe.sql != real.sql or len(probe.params) != len(real.params) or probe.exact != real.exact:
        return False
    made: dict[Any, tuple[str, int]] = {}
    for i, p in enumerate(probes):
        for how, fn in _MAKE.items():
            if how != "id_float" or isinstance(p, int):
                made.setdefault((type(fn(p)).__name__, fn(p)), (how, i))
    specs = [made.get((type(p).__name__, p), ("const", r)) for p, r in zip(probe.params, real.params)]
    if tuple(_param(spec, leaves) for spec in specs) != real.params:
        return False
    return real.sql, tuple(specs), real.exact


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
    bools_out = any(op in RANGE and _kind(arg) == "number" and not _admits_bools(RANGE[op], arg)
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
    if op in RANGE:
        path, kind = sql_path(field), _kind(arg)
        return _compare(path, RANGE[op], kind, arg, field in scalar, bools_out) if path and kind else _UNKNOWN
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
