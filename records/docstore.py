"""The embedded document store: a pymongo-style interface over SQLite on local disk.

Used when ``MONGODB_URI`` is unset, so a newcomer runs the app with no servers at all.
It implements the part of pymongo's ``Collection`` API the app uses (documents are
JSON-shaped dicts keyed by ``_id``), and it is safe with several gunicorn workers:
every write is one SQLite transaction taken with ``BEGIN IMMEDIATE``, so a
read-modify-write such as ``$inc`` or ``$push`` never loses another process's update
(montydb's SQLite engine lost 887 of 1200 ``$inc`` updates from 4 processes when we
measured it; this store loses none, see ``tests/test_docstore.py``).

Errors are pymongo's own classes (``DuplicateKeyError``, ``OperationFailure`` ...), so
callers catch ``PyMongoError`` the same way for either backend.
"""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping, Sequence

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

_MISSING = object()


class StoreUnavailable(PyMongoError):
    """The embedded store could not be opened or written (disk, permissions, lock timeout)."""


# --- documents ------------------------------------------------------------------------

def _default(value: Any) -> Any:
    """JSON for the few types json does not know: datetimes (as pymongo stores them) and mappings."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
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


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=_default)


def _loads(text: str) -> Any:
    return json.loads(text, object_hook=_decode_hook)


def _key(_id: Any) -> str:
    if isinstance(_id, str):
        return json.dumps(_id)
    return json.dumps(_id, sort_keys=True, separators=(",", ":"), default=_default)


def _get(doc: Any, path: str) -> Any:
    """The value at a dotted path, or _MISSING (lists are searched element-wise by the matcher)."""
    cur = doc
    for part in path.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


# --- queries --------------------------------------------------------------------------

def _cmp_ok(a: Any, b: Any) -> bool:
    """Whether two values are of comparable kinds (Mongo compares within a type bracket)."""
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return (isinstance(a, num) and isinstance(b, num)) or type(a) is type(b)


def _op_match(value: Any, op: str, arg: Any) -> bool:
    if op == "$eq":
        return _eq(value, arg)
    if op == "$ne":
        return not _eq(value, arg)
    if op == "$in":
        return any(_eq(value, a) for a in arg)
    if op == "$exists":
        return (value is not _MISSING) == bool(arg)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        candidates = value if isinstance(value, list) else [value]
        for v in candidates:
            if v is _MISSING or v is None or not _cmp_ok(v, arg):
                continue
            if ((op == "$gt" and v > arg) or (op == "$gte" and v >= arg)
                    or (op == "$lt" and v < arg) or (op == "$lte" and v <= arg)):
                return True
        return False
    raise OperationFailure(f"unknown query operator {op}")


def _eq(value: Any, arg: Any) -> bool:
    if value is _MISSING:
        return arg is None
    if isinstance(value, list) and not isinstance(arg, list):
        return any(_eq(v, arg) for v in value)
    if isinstance(value, bool) != isinstance(arg, bool):
        return False
    return value == arg


def matches(doc: Mapping[str, Any], flt: Mapping[str, Any] | None) -> bool:
    """Whether a document matches a Mongo-style filter (the subset the app uses)."""
    for key, cond in (flt or {}).items():
        if key == "$and":
            if not all(matches(doc, c) for c in cond):
                return False
        elif key == "$or":
            if not any(matches(doc, c) for c in cond):
                return False
        elif isinstance(cond, Mapping) and cond and all(str(k).startswith("$") for k in cond):
            value = _get(doc, key)
            if not all(_op_match(value, op, arg) for op, arg in cond.items()):
                return False
        elif not _eq(_get(doc, key), cond):
            return False
    return True


def _sort_key(spec: Sequence[tuple[str, int]]):
    def key(doc: Mapping[str, Any]) -> tuple:
        out = []
        for field, _ in spec:
            v = _get(doc, field)
            if v is _MISSING or v is None:
                out.append((0, 0))
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append((1, v))
            else:
                out.append((2, str(v)))
        return tuple(out)
    return key


def _apply_sort(docs: list[dict[str, Any]], sort: Any) -> list[dict[str, Any]]:
    if not sort:
        return docs
    spec = [(sort, 1)] if isinstance(sort, str) else list(sort)
    for field, direction in reversed(spec):  # stable multi-key sort
        docs.sort(key=_sort_key([(field, direction)]), reverse=direction < 0)
    return docs


def _project(doc: dict[str, Any], projection: Any) -> dict[str, Any]:
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


# --- updates --------------------------------------------------------------------------

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


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    parent, last = _parent(doc, path, True)
    if isinstance(parent, list) and last.isdigit():
        parent[int(last)] = value
    else:
        parent[last] = value


def apply_update(doc: dict[str, Any], update: Mapping[str, Any], *, inserting: bool = False) -> None:
    """Apply a Mongo-style update document in place ($set, $unset, $inc, $push, $addToSet ...)."""
    if not update or not all(str(k).startswith("$") for k in update):
        raise OperationFailure("update only works with $ operators")
    for op, fields in update.items():
        if op == "$setOnInsert":
            if inserting:
                for path, value in fields.items():
                    _set(doc, path, value)
            continue
        for path, arg in fields.items():
            if path == "_id" and op != "$setOnInsert":
                raise OperationFailure("the _id field cannot be changed")
            current = _get(doc, path)
            if op == "$set":
                _set(doc, path, arg)
            elif op == "$unset":
                parent, last = _parent(doc, path, False)
                if isinstance(parent, dict):
                    parent.pop(last, None)
            elif op == "$inc":
                base = 0 if current is _MISSING else current
                if not isinstance(base, (int, float)) or isinstance(base, bool):
                    raise OperationFailure(f"cannot $inc non-numeric field {path}")
                _set(doc, path, base + arg)
            elif op == "$max":
                if current is _MISSING or arg > current:
                    _set(doc, path, copy.deepcopy(arg))
            elif op in ("$push", "$addToSet"):
                items = arg["$each"] if isinstance(arg, Mapping) and "$each" in arg else [arg]
                lst = [] if current is _MISSING else current
                if not isinstance(lst, list):
                    raise OperationFailure(f"{op} needs an array at {path}")
                lst = list(lst)
                for item in items:
                    if op == "$push" or item not in lst:
                        lst.append(copy.deepcopy(item))
                if isinstance(arg, Mapping) and "$slice" in arg:
                    n = int(arg["$slice"])
                    lst = lst[n:] if n < 0 else lst[:n]
                _set(doc, path, lst)
            else:
                raise OperationFailure(f"unknown update operator {op}")


# --- results ---------------------------------------------------------------------------

class InsertOneResult:
    """As pymongo's: the new document's ``inserted_id``."""

    def __init__(self, inserted_id: Any) -> None:
        self.inserted_id = inserted_id
        self.acknowledged = True


class UpdateResult:
    """As pymongo's: matched, modified and upserted counts."""

    def __init__(self, matched: int, modified: int, upserted_id: Any = None) -> None:
        self.matched_count = matched
        self.modified_count = modified
        self.upserted_id = upserted_id
        self.acknowledged = True


class DeleteResult:
    """As pymongo's: ``deleted_count``."""

    def __init__(self, deleted: int) -> None:
        self.deleted_count = deleted
        self.acknowledged = True


# --- the store ------------------------------------------------------------------------

class EmbeddedClient:
    """A pymongo-``MongoClient``-like object whose databases live in one directory."""

    def __init__(self, directory: str, *, timeout_s: float = 2.0) -> None:
        self.directory = directory
        self.timeout_s = timeout_s
        self._dbs: dict[str, EmbeddedDatabase] = {}

    def __getitem__(self, name: str) -> "EmbeddedDatabase":
        if name not in self._dbs:
            self._dbs[name] = EmbeddedDatabase(self, name)
        return self._dbs[name]

    get_database = __getitem__

    def close(self) -> None:
        """Close this process's connections."""
        for db in self._dbs.values():
            db.close()


class EmbeddedDatabase:
    """One SQLite file; collections are tables of (id, doc) created on first use."""

    def __init__(self, client: EmbeddedClient, name: str) -> None:
        self.client = client
        self.name = name
        self.path = os.path.join(client.directory, f"{name}.sqlite3")
        self._local = threading.local()
        self._tables: set[str] = set()
        self._indexes: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (a new one after a fork: SQLite handles must not cross it)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            os.makedirs(self.client.directory, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.client.timeout_s, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"embedded store {self.path}: {exc}") from exc
        self._local.conn, self._local.pid = conn, os.getpid()
        if self._local.__dict__.get("tables_pid") != os.getpid():
            self._tables = set()
            self._local.tables_pid = os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __getitem__(self, name: str) -> "EmbeddedCollection":
        return EmbeddedCollection(self, name)

    get_collection = __getitem__

    def command(self, name: str, *args: Any, **kw: Any) -> dict[str, Any]:
        """Only ``ping`` (used by readiness checks)."""
        if name != "ping":
            raise OperationFailure(f"command {name} is not supported by the embedded store")
        try:
            self.connection().execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc
        return {"ok": 1.0}

    def ensure_table(self, table: str) -> None:
        """Create a collection's table once per process."""
        if table in self._tables:
            return
        with self._lock:
            self.connection().execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" (id TEXT PRIMARY KEY, doc TEXT NOT NULL)')
            self._tables.add(table)


class EmbeddedCollection:
    """A pymongo-``Collection``-like view of one table."""

    def __init__(self, db: EmbeddedDatabase, name: str) -> None:
        if not name.replace("_", "").isalnum():
            raise OperationFailure(f"invalid collection name {name!r}")
        self.database = db
        self.name = name
        self.table = f"c_{name}"

    # -- plumbing

    def _conn(self) -> sqlite3.Connection:
        self.database.ensure_table(self.table)
        return self.database.connection()

    def _rows(self, conn: sqlite3.Connection, flt: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
        for doc, _ in self._rows_text(conn, flt):
            yield doc

    def _rows_text(self, conn: sqlite3.Connection,
                   flt: Mapping[str, Any] | None) -> Iterator[tuple[dict[str, Any], str]]:
        if flt and "_id" in flt and not isinstance(flt["_id"], Mapping):
            # The primary key narrows to one row; the rest of the filter is checked below.
            row = conn.execute(f'SELECT doc FROM "{self.table}" WHERE id = ?', (_key(flt["_id"]),)).fetchone()
            rows: Iterable[tuple[str]] = [row] if row else []
        else:
            sql, params = self._prefilter(flt)
            rows = conn.execute(f'SELECT doc FROM "{self.table}"{sql}', params)
        for (text,) in rows:
            doc = _loads(text)
            if matches(doc, flt):
                yield doc, text

    def _prefilter(self, flt: Mapping[str, Any] | None) -> tuple[str, tuple]:
        """A SQL WHERE on indexed scalar fields (an accelerator; every row is re-checked in Python)."""
        indexed = self.database._indexes.get(self.table, set())
        clauses, params = [], []
        for key, cond in (flt or {}).items():
            if key not in indexed:
                continue
            expr = f"json_extract(doc, '$.{key}')"
            if isinstance(cond, (str, int, float)) and not isinstance(cond, bool):
                clauses.append(f"{expr} = ?")
                params.append(cond)
            elif isinstance(cond, Mapping):
                for op, sql_op in (("$gte", ">="), ("$gt", ">"), ("$lte", "<="), ("$lt", "<")):
                    arg = cond.get(op)
                    if isinstance(arg, (str, int, float)) and not isinstance(arg, bool):
                        clauses.append(f"{expr} {sql_op} ?")
                        params.append(arg)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)

    def _write(self, fn):
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"embedded store busy: {exc}") from exc
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreUnavailable(str(exc)) from exc
        return result

    def _put(self, conn: sqlite3.Connection, doc: dict[str, Any], *, insert: bool, text: str | None = None) -> None:
        key = _key(doc["_id"])
        text = text if text is not None else _dumps(doc)
        if insert:
            try:
                conn.execute(f'INSERT INTO "{self.table}" (id, doc) VALUES (?, ?)', (key, text))
            except sqlite3.IntegrityError:
                raise DuplicateKeyError(f"duplicate key: {self.name} _id {doc['_id']!r}", 11000) from None
        else:
            conn.execute(f'UPDATE "{self.table}" SET doc = ? WHERE id = ?', (text, key))

    # -- pymongo API

    def create_index(self, keys: Any, **kw: Any) -> str:
        """Index scalar fields so equality and range filters on them run in SQL."""
        spec = [(keys, 1)] if isinstance(keys, str) else list(keys)
        conn = self._conn()
        names = []
        for field, _ in spec:
            safe = field.replace(".", "_")
            if not safe.replace("_", "").isalnum():
                raise OperationFailure(f"invalid index field {field!r}")
            conn.execute(f'CREATE INDEX IF NOT EXISTS "{self.table}_{safe}" ON "{self.table}" '
                         f"(json_extract(doc, '$.{field}'))")
            self.database._indexes.setdefault(self.table, set()).add(field)
            names.append(f"{field}_1")
        return "_".join(names)

    def insert_one(self, document: Mapping[str, Any]) -> InsertOneResult:
        """Insert one document (``_id`` generated when absent); DuplicateKeyError on a taken ``_id``."""
        doc = dict(document)  # serialized at once, so the caller's objects are never aliased
        doc.setdefault("_id", uuid.uuid4().hex)
        conn = self._conn()
        try:  # one statement is its own transaction in autocommit mode: no BEGIN/COMMIT round
            self._put(conn, doc, insert=True)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"embedded store: {exc}") from exc
        return InsertOneResult(doc["_id"])

    def find_one(self, filter: Mapping[str, Any] | None = None, projection: Any = None,
                 sort: Any = None) -> dict[str, Any] | None:
        """The first matching document, or None."""
        docs = self.find(filter, projection, sort=sort, limit=1)
        return docs[0] if docs else None

    def find(self, filter: Mapping[str, Any] | None = None, projection: Any = None, *, sort: Any = None,
             skip: int = 0, limit: int = 0) -> list[dict[str, Any]]:
        """Matching documents as a list (sorted, skipped and limited as asked)."""
        try:
            conn = self._conn()
            if not sort and not skip and limit:
                docs = []
                for doc in self._rows(conn, filter):
                    docs.append(doc)
                    if len(docs) >= limit:
                        break
            else:
                docs = _apply_sort(list(self._rows(conn, filter)), sort)[skip:]
                if limit:
                    docs = docs[:limit]
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc
        return [_project(d, projection) for d in docs]

    def count_documents(self, filter: Mapping[str, Any] | None = None) -> int:
        """How many documents match."""
        return len(self.find(filter))

    def _update(self, conn: sqlite3.Connection, flt: Mapping[str, Any], update: Mapping[str, Any],
                upsert: bool, many: bool, replace: bool = False,
                sort: Any = None) -> tuple[int, int, Any, dict | None, dict | None]:
        found = list(self._rows_text(conn, flt))
        if sort:
            texts = {id(d): t for d, t in found}
            found = [(d, texts[id(d)]) for d in _apply_sort([d for d, _ in found], sort)]
        if not many:
            found = found[:1]
        modified = 0
        for doc, old_text in found:
            if replace:
                new = dict(update)
                new["_id"] = doc["_id"]
            else:
                new = doc
                apply_update(new, update)
            new_text = _dumps(new)
            if new_text != old_text:
                self._put(conn, new, insert=False, text=new_text)
                modified += 1
            if not many:
                return 1, modified, None, _loads(old_text), _loads(new_text)
        if found or not upsert:
            return len(found), modified, None, None, None
        new = {k: v for k, v in flt.items()
               if not k.startswith("$") and not isinstance(v, Mapping) and "." not in k}
        if replace:
            new.update(dict(update))
        else:
            apply_update(new, update, inserting=True)
        new.setdefault("_id", uuid.uuid4().hex)
        text = _dumps(new)
        self._put(conn, new, insert=True, text=text)
        return 0, 0, new["_id"], None, _loads(text)

    def update_one(self, filter: Mapping[str, Any], update: Mapping[str, Any], upsert: bool = False) -> UpdateResult:
        """Update the first matching document atomically (insert one when ``upsert``)."""
        m, n, uid, _, _ = self._write(lambda c: self._update(c, filter, update, upsert, False))
        return UpdateResult(m, n, uid)

    def update_many(self, filter: Mapping[str, Any], update: Mapping[str, Any], upsert: bool = False) -> UpdateResult:
        """Update every matching document in one transaction."""
        m, n, uid, _, _ = self._write(lambda c: self._update(c, filter, update, upsert, True))
        return UpdateResult(m, n, uid)

    def replace_one(self, filter: Mapping[str, Any], replacement: Mapping[str, Any], upsert: bool = False) -> UpdateResult:
        """Replace the first matching document whole."""
        if any(str(k).startswith("$") for k in replacement):
            raise OperationFailure("a replacement document cannot contain $ operators")
        m, n, uid, _, _ = self._write(lambda c: self._update(c, filter, replacement, upsert, False, replace=True))
        return UpdateResult(m, n, uid)

    def find_one_and_update(self, filter: Mapping[str, Any], update: Mapping[str, Any], projection: Any = None,
                            sort: Any = None, upsert: bool = False,
                            return_document: bool = ReturnDocument.BEFORE) -> dict[str, Any] | None:
        """Atomically update one document and return it (before or after the update)."""
        _, _, _, before, after = self._write(lambda c: self._update(c, filter, update, upsert, False, sort=sort))
        doc = after if return_document == ReturnDocument.AFTER else before
        return _project(doc, projection) if doc is not None else None

    def delete_one(self, filter: Mapping[str, Any]) -> DeleteResult:
        """Delete the first matching document."""
        return DeleteResult(self._write(lambda c: self._delete(c, filter, False)))

    def delete_many(self, filter: Mapping[str, Any]) -> DeleteResult:
        """Delete every matching document."""
        return DeleteResult(self._write(lambda c: self._delete(c, filter, True)))

    def _delete(self, conn: sqlite3.Connection, flt: Mapping[str, Any], many: bool) -> int:
        n = 0
        for doc in list(self._rows(conn, flt)):
            conn.execute(f'DELETE FROM "{self.table}" WHERE id = ?', (_key(doc["_id"]),))
            n += 1
            if not many:
                break
        return n

    def drop(self) -> None:
        """Remove every document."""
        self._write(lambda c: c.execute(f'DELETE FROM "{self.table}"'))


__all__ = ["EmbeddedClient", "EmbeddedDatabase", "EmbeddedCollection", "StoreUnavailable", "matches",
           "apply_update"]
