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
import os
import sqlite3
import threading
import uuid
from typing import Any, Iterable, Iterator, Mapping

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, InvalidOperation, OperationFailure, PyMongoError

from .docstore_query import (MISSING, SortSpec, Sql, compile_filter, dumps, filter_fields, get_path, id_key,
                             index_name, index_spec, loads, marker_name, matches, mongo_index_name, order_sql,
                             parse_index_name, project, sort_rows, sort_spec, sql_path, sql_value)

#: A selected row: rowid, the stored JSON text, the decoded document.
Row = tuple[int, str, dict[str, Any]]


class StoreUnavailable(PyMongoError):
    """The embedded store could not be opened or written (disk, permissions, lock timeout)."""


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
            current = get_path(doc, path)
            if op == "$set":
                _set(doc, path, arg)
            elif op == "$unset":
                parent, last = _parent(doc, path, False)
                if isinstance(parent, dict):
                    parent.pop(last, None)
            elif op == "$inc":
                base = 0 if current is MISSING else current
                if not isinstance(base, (int, float)) or isinstance(base, bool):
                    raise OperationFailure(f"cannot $inc non-numeric field {path}")
                _set(doc, path, base + arg)
            elif op == "$max":
                if current is MISSING or arg > current:
                    _set(doc, path, copy.deepcopy(arg))
            elif op in ("$push", "$addToSet"):
                items = arg["$each"] if isinstance(arg, Mapping) and "$each" in arg else [arg]
                lst = [] if current is MISSING else current
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


def _filter_rows(rows: Iterable[tuple[int, str]], flt: Mapping[str, Any], spec: SortSpec,
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


# --- cursors ---------------------------------------------------------------------------

def _count_arg(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer")
    if name == "skip" and value < 0:
        raise ValueError("skip must be >= 0")
    return abs(value)  # pymongo's negative limit means "one batch": the same documents here


class Cursor:
    """As pymongo's: chain ``sort``/``skip``/``limit``, then iterate; the query runs at the first ``next``."""

    def __init__(self, collection: "EmbeddedCollection", filter: Mapping[str, Any] | None = None,
                 projection: Any = None, *, sort: Any = None, skip: int = 0, limit: int = 0) -> None:
        self.collection = collection
        self._filter = filter or {}
        self._projection = projection
        self._sort = sort_spec(sort)
        self._skip = _count_arg("skip", skip)
        self._limit = _count_arg("limit", limit)
        self._docs: Iterator[dict[str, Any]] | None = None

    def _chainable(self) -> None:
        if self._docs is not None:
            raise InvalidOperation("cannot set options after executing query")

    def sort(self, key_or_list: Any, direction: Any = None) -> "Cursor":
        """Sort by one key (``sort("k", -1)``) or by several (``sort([("a", 1), ("b", -1)])``)."""
        self._chainable()
        self._sort = sort_spec(key_or_list, direction)
        return self

    def skip(self, skip: int) -> "Cursor":
        """Skip the first ``skip`` matching documents."""
        self._chainable()
        self._skip = _count_arg("skip", skip)
        return self

    def limit(self, limit: int) -> "Cursor":
        """Return at most ``limit`` documents (0: no limit)."""
        self._chainable()
        self._limit = _count_arg("limit", limit)
        return self

    def clone(self) -> "Cursor":
        """An unevaluated copy of this cursor."""
        return Cursor(self.collection, self._filter, self._projection, sort=self._sort, skip=self._skip,
                      limit=self._limit)

    def rewind(self) -> "Cursor":
        """Forget the results so the next iteration runs the query again."""
        self._docs = None
        return self

    def close(self) -> None:
        """Stop iterating (nothing is held open between calls)."""
        self._docs = iter(())

    def __iter__(self) -> "Cursor":
        return self

    def __next__(self) -> dict[str, Any]:
        if self._docs is None:
            self._docs = iter(self.collection._query(self._filter, self._sort, self._skip, self._limit))
        return project(next(self._docs), self._projection)

    def __getitem__(self, index: int | slice) -> Any:
        """``cursor[i]`` runs the query for that one document; ``cursor[a:b]`` sets skip and limit."""
        if isinstance(index, slice):
            return self._slice(index)
        if index < 0:
            raise IndexError("Cursor instances do not support negative indices")
        for doc in self.clone().skip(self._skip + index).limit(1):
            return doc
        raise IndexError("no such item for Cursor instance")

    def _slice(self, index: slice) -> "Cursor":
        start = index.start or 0
        if index.step is not None or start < 0 or (index.stop is not None and index.stop < start):
            raise IndexError("Cursor instances do not support slice steps or negative ranges")
        self._chainable()
        self._skip, self._limit = start, 0 if index.stop is None else index.stop - start
        if index.stop == start:
            self._docs = iter(())  # an empty slice, as pymongo's
        return self

    def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        """The remaining documents (at most ``length``) as a list."""
        return [doc for doc, _ in zip(self, range(length))] if length else list(self)

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


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
        self._marked: dict[str, frozenset[str]] = {}
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
        """Create a collection's table once per process, and learn the indexes already on disk."""
        if table in self._tables:
            return
        with self._lock:
            try:
                conn = self.connection()
                conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (id TEXT PRIMARY KEY, doc TEXT NOT NULL)')
                self.load_indexes(conn)
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"embedded store {self.path}: {exc}") from exc
            self._tables.add(table)

    def load_indexes(self, conn: sqlite3.Connection) -> None:
        """Read which fields are indexed from sqlite_master (at first use, and after index changes)."""
        marked: dict[str, set[str]] = {}
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'"):
            parsed = parse_index_name(name)
            if parsed and parsed[0] == "arr":
                marked.setdefault(parsed[1], set()).add(parsed[2][0][0])
        self._marked = {table: frozenset(fields) for table, fields in marked.items()}

    def indexed_fields(self, table: str) -> frozenset[str]:
        """The fields of a table's indexes (each with an array marker)."""
        return self._marked.get(table, frozenset())


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

    def _read(self, fn, *, snapshot: bool = False):
        """fn(connection) for a read, in one read transaction when ``snapshot``; errors as StoreUnavailable."""
        conn = self._conn()
        own = snapshot and not conn.in_transaction
        try:
            if own:
                conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                if own:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"embedded store {self.database.path}: {exc}") from exc

    def _probed(self, flt: Mapping[str, Any]) -> list[str]:
        """The indexed fields a filter tests: whether they hold arrays decides its SQL."""
        indexed = self.database.indexed_fields(self.table)
        return sorted(filter_fields(flt) & indexed) if indexed and isinstance(flt, Mapping) else []

    def _where(self, conn: sqlite3.Connection, flt: Mapping[str, Any]) -> Sql:
        """The filter as SQL; plain (index-served) SQL on indexed fields that hold no array."""
        probed = self._probed(flt)
        if not probed:
            return compile_filter(flt)
        checks = ", ".join(f'EXISTS (SELECT 1 FROM "{self.table}" WHERE json_type(doc, {sql_path(f)}) = \'array\')'
                           for f in probed)
        has_array = conn.execute(f"SELECT {checks}").fetchone()
        return compile_filter(flt, frozenset(f for f, arrays in zip(probed, has_array) if not arrays))

    def _find_sql(self, conn: sqlite3.Connection, flt: Mapping[str, Any], spec: SortSpec, skip: int,
                  limit: int) -> tuple[str, tuple, bool]:
        """The SELECT for a query: the whole query when it all translates (exact), else a prefilter."""
        where = self._where(conn, flt)
        order = order_sql(spec)
        base = f'SELECT rowid, doc FROM "{self.table}" WHERE {where.sql}'
        if where.exact and order is not None:
            return f"{base} {order} LIMIT ? OFFSET ?", where.params + (limit or -1, skip), True
        return f"{base} ORDER BY rowid", where.params, False

    def _select(self, conn: sqlite3.Connection, flt: Mapping[str, Any], spec: SortSpec,
                skip: int, limit: int) -> list[Row]:
        """The matching rows, sorted, skipped and limited (in SQL, or in Python past a prefilter)."""
        sql, params, exact = self._find_sql(conn, flt, spec, skip, limit)
        rows = conn.execute(sql, params)
        if exact:
            return [(rowid, text, loads(text)) for rowid, text in rows]
        return _filter_rows(rows, flt, spec, skip, limit)

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

    def _put(self, conn: sqlite3.Connection, doc: dict[str, Any], text: str, *, rowid: int | None = None) -> None:
        """Insert a document (rowid None) or overwrite the row; a taken unique key is DuplicateKeyError."""
        try:
            if rowid is not None:
                conn.execute(f'UPDATE "{self.table}" SET doc = ? WHERE rowid = ?', (text, rowid))
            elif isinstance(doc["_id"], list):
                raise OperationFailure("the _id field cannot be an array", 2)
            else:
                conn.execute(f'INSERT INTO "{self.table}" (id, doc) VALUES (?, ?)', (id_key(doc["_id"]), text))
        except sqlite3.IntegrityError as exc:
            raise self._duplicate(exc, doc.get("_id")) from None

    def _duplicate(self, exc: sqlite3.IntegrityError, _id: Any = None) -> DuplicateKeyError:
        """pymongo's error for a unique-key violation SQLite reported (naming the index, as Mongo does)."""
        message = str(exc)
        parsed = parse_index_name(message.split("'")[1]) if "index '" in message else None
        index = mongo_index_name(parsed[2]) if parsed else "_id_"
        return DuplicateKeyError(f"E11000 duplicate key error collection: {self.database.name}.{self.name} "
                                 f"index: {index} (document _id {_id!r})", 11000)

    def explain(self, filter: Mapping[str, Any] | None = None, *, sort: Any = None, skip: int = 0,
                limit: int = 0, count: bool = False) -> dict[str, Any]:
        """Embedded store only: the SQL a query runs, whether SQL alone answers it, SQLite's plan."""
        def plan(conn: sqlite3.Connection) -> dict[str, Any]:
            if count:
                where = self._where(conn, filter or {})
                sql, params, exact = self._count_sql(where), where.params, where.exact
            else:
                sql, params, exact = self._find_sql(conn, filter or {}, sort_spec(sort), skip, limit)
            steps = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            return {"sql": sql, "exact": exact, "plan": steps}
        return self._read(plan, snapshot=True)

    # -- pymongo API

    def create_index(self, keys: Any, unique: bool = False, **kw: Any) -> str:
        """Index one field or several (compound), optionally unique; kept in SQLite, idempotent."""
        spec = index_spec(keys)
        name = mongo_index_name(spec)
        if set(kw) - {"name", "background"} or kw.get("name", name) != name:
            raise OperationFailure(f"index options {sorted(kw)} are not supported by the embedded store")
        self._write(lambda conn: self._create_index(conn, spec, bool(unique)))
        self._read(self.database.load_indexes)
        return name

    def _create_index(self, conn: sqlite3.Connection, spec: SortSpec, unique: bool) -> None:
        name = index_name(self.table, spec)
        row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone()
        if row is not None:
            if row[0].startswith("CREATE UNIQUE") != unique:
                raise OperationFailure(f"index {mongo_index_name(spec)} exists with other options", 86)
            return
        columns = ", ".join(sql_value(field) for field, _ in spec)  # ascending: SQLite reads indexes both ways
        try:
            conn.execute(f'CREATE {"UNIQUE " if unique else ""}INDEX "{name}" ON "{self.table}" ({columns})')
        except sqlite3.IntegrityError as exc:
            raise self._duplicate(exc) from None
        for field, _ in spec:
            path = sql_path(field)
            conn.execute(f'CREATE INDEX IF NOT EXISTS "{marker_name(self.table, field)}" ON "{self.table}" '
                         f"(json_type(doc, {path})) WHERE json_type(doc, {path}) = 'array'")
        legacy = f'{self.table}_{spec[0][0].replace(".", "_")}'  # this store's name before indexes persisted
        if len(spec) == 1 and conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ? "
                                           "AND tbl_name = ?", (legacy, self.table)).fetchone():
            conn.execute(f'DROP INDEX "{legacy}"')

    def _own_indexes(self, conn: sqlite3.Connection) -> list[tuple[str, str]]:
        """(name, sql) of the indexes this store made on this collection's table."""
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                            (self.table,)).fetchall()
        return [(name, sql) for name, sql in rows if parse_index_name(name)]

    def index_information(self) -> dict[str, dict[str, Any]]:
        """As pymongo's: each index's name, ``key`` pairs and ``unique`` flag, read from SQLite."""
        info: dict[str, dict[str, Any]] = {"_id_": {"v": 2, "key": [("_id", 1)]}}
        for name, sql in self._read(self._own_indexes):
            kind, _, spec = parse_index_name(name)
            if kind == "ix":
                info[mongo_index_name(spec)] = {"v": 2, "key": spec}
                if sql.startswith("CREATE UNIQUE"):
                    info[mongo_index_name(spec)]["unique"] = True
        return info

    def insert_one(self, document: Mapping[str, Any]) -> InsertOneResult:
        """Insert one document (``_id`` generated when absent); DuplicateKeyError on a taken ``_id``."""
        doc = dict(document)  # serialized at once, so the caller's objects are never aliased
        doc.setdefault("_id", uuid.uuid4().hex)
        # one statement is its own transaction in autocommit mode: no BEGIN/COMMIT round
        self._read(lambda conn: self._put(conn, doc, dumps(doc)))
        return InsertOneResult(doc["_id"])

    def find_one(self, filter: Mapping[str, Any] | None = None, projection: Any = None,
                 sort: Any = None) -> dict[str, Any] | None:
        """The first matching document, or None."""
        if filter is not None and not isinstance(filter, Mapping):
            filter = {"_id": filter}  # as pymongo: find_one(some_id)
        return next(self.find(filter, projection, sort=sort, limit=1), None)

    def find(self, filter: Mapping[str, Any] | None = None, projection: Any = None, *, sort: Any = None,
             skip: int = 0, limit: int = 0) -> Cursor:
        """A lazy cursor over the matching documents (chain ``.sort``, ``.skip``, ``.limit``)."""
        return Cursor(self, filter, projection, sort=sort, skip=skip, limit=limit)

    def _query(self, flt: Mapping[str, Any], spec: SortSpec, skip: int, limit: int) -> Iterator[dict[str, Any]]:
        """A cursor's documents, read at once (no transaction stays open while the caller iterates)."""
        rows = self._read(lambda conn: self._select(conn, flt, spec, skip, limit), snapshot=bool(self._probed(flt)))
        return (doc for _, _, doc in rows)

    def count_documents(self, filter: Mapping[str, Any] | None = None) -> int:
        """How many documents match (one ``SELECT COUNT(*)`` when the filter translates)."""
        flt = filter or {}
        return self._read(lambda conn: self._count(conn, flt), snapshot=bool(self._probed(flt)))

    def _count_sql(self, where: Sql) -> str:
        return f'SELECT COUNT(*) FROM "{self.table}" WHERE {where.sql}'

    def _count(self, conn: sqlite3.Connection, flt: Mapping[str, Any]) -> int:
        where = self._where(conn, flt)
        if where.exact:
            return conn.execute(self._count_sql(where), where.params).fetchone()[0]
        rows = conn.execute(f'SELECT rowid, doc FROM "{self.table}" WHERE {where.sql}', where.params)
        return len(_filter_rows(rows, flt, [], 0, 0))

    def _update(self, conn: sqlite3.Connection, flt: Mapping[str, Any], update: Mapping[str, Any],
                upsert: bool, many: bool, replace: bool = False,
                sort: Any = None) -> tuple[int, int, Any, dict | None, dict | None]:
        found = self._select(conn, flt, sort_spec(sort), 0, 0 if many else 1)
        modified = 0
        for rowid, old_text, doc in found:
            if replace:
                new = dict(update)
                new["_id"] = doc["_id"]
            else:
                new = doc
                apply_update(new, update)
            new_text = dumps(new)
            if new_text != old_text:
                self._put(conn, new, new_text, rowid=rowid)
                modified += 1
            if not many:
                return 1, modified, None, loads(old_text), loads(new_text)
        if found or not upsert:
            return len(found), modified, None, None, None
        new = {k: v for k, v in flt.items()
               if not k.startswith("$") and not isinstance(v, Mapping) and "." not in k}
        if replace:
            new.update(dict(update))
        else:
            apply_update(new, update, inserting=True)
        new.setdefault("_id", uuid.uuid4().hex)
        text = dumps(new)
        self._put(conn, new, text)
        return 0, 0, new["_id"], None, loads(text)

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
        return project(doc, projection) if doc is not None else None

    def delete_one(self, filter: Mapping[str, Any]) -> DeleteResult:
        """Delete the first matching document."""
        return DeleteResult(self._write(lambda c: self._delete(c, filter, False)))

    def delete_many(self, filter: Mapping[str, Any]) -> DeleteResult:
        """Delete every matching document."""
        return DeleteResult(self._write(lambda c: self._delete(c, filter, True)))

    def _delete(self, conn: sqlite3.Connection, flt: Mapping[str, Any], many: bool) -> int:
        where = self._where(conn, flt)
        if where.exact and many:
            return conn.execute(f'DELETE FROM "{self.table}" WHERE {where.sql}', where.params).rowcount
        rows = self._select(conn, flt, [], 0, 0 if many else 1)
        conn.executemany(f'DELETE FROM "{self.table}" WHERE rowid = ?', [(rowid,) for rowid, _, _ in rows])
        return len(rows)

    def drop(self) -> None:
        """Remove every document and the collection's indexes, as pymongo's ``drop``."""
        self._write(self._drop)
        self._read(self.database.load_indexes)

    def _drop(self, conn: sqlite3.Connection) -> None:
        conn.execute(f'DELETE FROM "{self.table}"')
        for name, _ in self._own_indexes(conn):
            conn.execute(f'DROP INDEX "{name}"')


__all__ = ["EmbeddedClient", "EmbeddedDatabase", "EmbeddedCollection", "StoreUnavailable", "matches",
           "apply_update"]
