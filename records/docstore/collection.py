"""A pymongo-``Collection``-like view of one table: its reads, writes and indexes, each run as one SQLite
transaction; the whole query in SQL when the filter translates (sort, skip, limit and counts included),
else a SQL prefilter and the Python matcher; an update that only sets top-level fields is rewritten by
SQLite (``json_set``), other updates are applied to the decoded document in Python."""

# Safe with several gunicorn workers: every write is one transaction taken with ``BEGIN IMMEDIATE``, so a
# read-modify-write such as ``$inc`` or ``$push`` never loses another process's update (montydb's SQLite
# engine lost 887 of 1200 ``$inc`` updates from 4 processes when we measured it; this store loses none,
# see ``tests/test_docstore.py``).

from __future__ import annotations

import functools
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure

from .cursor import Cursor, DeleteResult, InsertOneResult, UpdateResult
from .documents import Row, clone, dumps, id_key, loads, project
from .errors import StoreUnavailable
from .matching import SortSpec, filter_rows, sort_spec
from .sql import (Sql, compile_filter, filter_fields, holds_array, index_name, index_spec, mongo_index_name, order_sql,
                  parse_index_name, sql_path, sql_value)
from .updates import apply_update

T = TypeVar("T")


@functools.lru_cache(maxsize=256)
def _probe_sql(table: str, fields: tuple[str, ...]) -> str:
    """One statement telling, for each field, whether any document holds an array there (index-served)."""
    checks = [f"EXISTS (SELECT 1 FROM \"{table}\" WHERE {holds_array(sql_path(f))} "
              f"AND json_type(doc, {sql_path(f)}) = 'array')" for f in fields]
    return "SELECT " + ", ".join(checks)


#: A top-level field SQLite's ``json_set`` can name with a plain path (``$.field``).
_TOP_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: SQLite reads a JSON value out of bound text with ``->`` from 3.38 on (older: every update in Python).
_SQL_SET = sqlite3.sqlite_version_info >= (3, 38, 0)


@functools.lru_cache(maxsize=256)
def _json_set_sql(names: tuple[str, ...]) -> str:
    """``json_set`` of the document with each named top-level field taken from the JSON object bound first."""
    return "json_set(doc, " + ", ".join(f"'$.{name}', ?1 -> '$.{name}'" for name in names) + ")"


def _sql_set(update: Mapping[str, Any]) -> tuple[str, str] | None:
    """An update that only ``$set``s top-level fields (``$setOnInsert`` aside) as SQL rewriting the document with
    ``json_set`` and the JSON object of the values it binds, so the document is never decoded here; None for
    any other update."""
    if not _SQL_SET or not update or any(op not in ("$set", "$setOnInsert") for op in update):
        return None
    fields = update.get("$set")
    if not isinstance(fields, Mapping) or not fields:
        return None
    for name in fields:
        if not isinstance(name, str) or name == "_id" or not _TOP_FIELD.match(name):
            return None
    try:
        values = dumps(fields, allow_nan=False)
    except ValueError:  # NaN or an infinity: not JSON SQLite reads; written as Python writes them, in Python
        return None
    return _json_set_sql(tuple(fields)), values


class _Updated(NamedTuple):
    matched: int
    modified: int
    upserted_id: Any
    doc: dict[str, Any] | None  # the document asked back by find_one_and_update


def _replaced(old: dict[str, Any], replacement: Mapping[str, Any]) -> dict[str, Any]:
    new = clone(dict(replacement))
    new["_id"] = old["_id"]
    return new


def _upserted(flt: Mapping[str, Any], update: Mapping[str, Any], replace: bool, *, copy: bool = True
              ) -> dict[str, Any]:
    """The document an upsert inserts: the filter's plain equalities, then the update."""
    new = {k: clone(v) for k, v in flt.items()
           if not k.startswith("$") and not isinstance(v, Mapping) and "." not in k}
    if replace:
        new.update(clone(dict(update)))
    else:
        apply_update(new, update, inserting=True, copy=copy)
    if "_id" not in new:
        new["_id"] = uuid.uuid4().hex
    return new


class EmbeddedCollection:
    """A pymongo-``Collection``-like view of one table."""

    def __init__(self, db: Any, name: str) -> None:
        if not name.replace("_", "").isalnum():
            raise OperationFailure(f"invalid collection name {name!r}")
        self.database = db
        self.name = name
        self.table = f"c_{name}"

    # -- plumbing

    def _conn(self) -> sqlite3.Connection:
        self.database.ensure_table(self.table)
        return self.database.connection()

    def _run(self, fn: Callable[[sqlite3.Connection], T], begin: str | None = None) -> T:
        """fn(connection) in a transaction opened by ``begin`` (none: autocommit); errors as pymongo's.

        A failed COMMIT is rolled back; when SQLite already rolled it back itself, the failing
        ROLLBACK is ignored, so the caller always gets StoreUnavailable, never a sqlite3 error.
        """
        conn = self._conn()
        own = begin is not None and not conn.in_transaction
        try:
            if own:
                conn.execute(begin)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"embedded store {self.database.path} busy: {exc}") from exc
        try:
            result = fn(conn)
            if own:
                conn.execute("COMMIT")
            return result
        except BaseException as exc:
            if own:
                self.database.rollback(conn)
            if isinstance(exc, sqlite3.Error):
                raise StoreUnavailable(f"embedded store {self.database.path}: {exc}") from exc
            raise

    def _read(self, fn: Callable[[sqlite3.Connection], T], *, snapshot: bool = False) -> T:
        """fn(connection) for a read: one read transaction when ``snapshot`` (several statements)."""
        return self._run(fn, "BEGIN" if snapshot else None)

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """fn(connection) as one write transaction, taken at once so no other process interleaves."""
        return self._run(fn, "BEGIN IMMEDIATE")

    def _probed(self, flt: Mapping[str, Any]) -> list[str]:
        """The filter's fields that lead an index, to check for arrays (one index look each, in the
        query's snapshot): a field that holds none gets plain SQL, so its index serves ranges,
        order and limits."""
        leading = self.database.leading_fields(self.table)
        if not leading or not isinstance(flt, Mapping):
            return []
        return sorted(filter_fields(flt) & leading)

    def _where(self, conn: sqlite3.Connection, flt: Mapping[str, Any], probed: list[str]) -> Sql:
        """The filter as SQL; plain SQL on the probed fields that hold no array (in this snapshot)."""
        if not probed:
            return compile_filter(flt)
        has_array = conn.execute(_probe_sql(self.table, tuple(probed))).fetchone()
        return compile_filter(flt, frozenset(f for f, arrays in zip(probed, has_array) if not arrays))

    def _find_sql(self, conn: sqlite3.Connection, flt: Mapping[str, Any], spec: SortSpec, skip: int,
                  limit: int, probed: list[str]) -> tuple[str, tuple, bool]:
        """The SELECT for a query: the whole query when it all translates (exact), else a prefilter."""
        where = self._where(conn, flt, probed)
        order = order_sql(spec)
        base = f'SELECT rowid, doc FROM "{self.table}" WHERE {where.sql}'
        if where.exact and order is not None:
            return f"{base} {order} LIMIT ? OFFSET ?", where.params + (limit or -1, skip), True
        return f"{base} ORDER BY rowid", where.params, False

    def _select(self, conn: sqlite3.Connection, flt: Mapping[str, Any], spec: SortSpec,
                skip: int, limit: int, probed: list[str]) -> list[Row]:
        """The matching rows, sorted, skipped and limited (in SQL, or in Python past a prefilter)."""
        sql, params, exact = self._find_sql(conn, flt, spec, skip, limit, probed)
        rows = conn.execute(sql, params)
        if exact:
            return [(rowid, text, loads(text)) for rowid, text in rows]
        return filter_rows(rows, flt, spec, skip, limit)

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
        index = mongo_index_name(parsed[1]) if parsed else "_id_"
        return DuplicateKeyError(f"E11000 duplicate key error collection: {self.database.name}.{self.name} "
                                 f"index: {index} (document _id {_id!r})", 11000)

    def explain(self, filter: Mapping[str, Any] | None = None, *, sort: Any = None, skip: int = 0,
                limit: int = 0, count: bool = False) -> dict[str, Any]:
        """Embedded store only: the SQL a query runs, whether SQL alone answers it, SQLite's plan."""
        def plan(conn: sqlite3.Connection) -> dict[str, Any]:
            flt, spec = filter or {}, sort_spec(sort)
            probed = self._probed(flt)
            if count:
                where = self._where(conn, flt, probed)
                sql, params, exact = self._count_sql(where), where.params, where.exact
            else:
                sql, params, exact = self._find_sql(conn, flt, spec, skip, limit, probed)
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
            _, spec = parse_index_name(name)
            info[mongo_index_name(spec)] = {"v": 2, "key": spec}
            if sql.startswith("CREATE UNIQUE"):
                info[mongo_index_name(spec)]["unique"] = True
        return info

    def insert_one(self, document: Mapping[str, Any]) -> InsertOneResult:
        """Insert one document (``_id`` generated when absent); DuplicateKeyError on a taken ``_id``."""
        doc = dict(document)  # serialized at once, so the caller's objects are never aliased
        if "_id" not in doc:
            doc["_id"] = uuid.uuid4().hex
        # one statement is its own transaction in autocommit mode: no BEGIN/COMMIT round
        self._run(lambda conn: self._put(conn, doc, dumps(doc)))
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
        probed = self._probed(flt)  # the probe and the query read one snapshot
        rows = self._read(lambda conn: self._select(conn, flt, spec, skip, limit, probed), snapshot=bool(probed))
        return (doc for _, _, doc in rows)

    def count_documents(self, filter: Mapping[str, Any] | None = None) -> int:
        """How many documents match (one ``SELECT COUNT(*)`` when the filter translates)."""
        flt = filter or {}
        probed = self._probed(flt)
        return self._read(lambda conn: self._count(conn, flt, probed), snapshot=bool(probed))

    def _count_sql(self, where: Sql) -> str:
        return f'SELECT COUNT(*) FROM "{self.table}" WHERE {where.sql}'

    def _count(self, conn: sqlite3.Connection, flt: Mapping[str, Any], probed: list[str]) -> int:
        where = self._where(conn, flt, probed)
        if where.exact:
            return conn.execute(self._count_sql(where), where.params).fetchone()[0]
        rows = conn.execute(f'SELECT rowid, doc FROM "{self.table}" WHERE {where.sql}', where.params)
        return len(filter_rows(rows, flt, [], 0, 0))

    def _update(self, conn: sqlite3.Connection, flt: Mapping[str, Any], update: Mapping[str, Any], *,
                upsert: bool, many: bool, replace: bool = False, sort: Any = None,
                returning: str | None = None) -> _Updated:
        """Read, modify and write the matching documents (each decoded once) inside the caller's transaction.

        ``returning`` ("before" or "after") asks for one document back: "before" is a copy taken
        before the update changes the decoded document in place; "after" is that document itself,
        which shares nothing (update values are copied in).
        """
        if not many and not replace and sort is None and returning is None:
            done = self._update_in_sql(conn, flt, update, upsert)
            if done is not None:
                return done
        spec = sort_spec(sort)
        rows = self._select(conn, flt, spec, 0, 0 if many else 1, self._probed(flt))
        modified, doc = 0, None
        for rowid, text, old in rows:
            before = clone(old) if returning == "before" else None
            new = _replaced(old, update) if replace else old
            if not replace:
                apply_update(new, update, copy=returning == "after")  # else only serialized, then dropped
            new_text = dumps(new)
            if new_text != text:
                self._put(conn, new, new_text, rowid=rowid)
                modified += 1
            doc = before if returning == "before" else new
        if rows or not upsert:
            return _Updated(len(rows), modified, None, doc)
        new = _upserted(flt, update, replace, copy=returning == "after")
        self._put(conn, new, dumps(new))
        return _Updated(0, 0, new["_id"], new if returning == "after" else None)

    def _update_in_sql(self, conn: sqlite3.Connection, flt: Mapping[str, Any], update: Mapping[str, Any],
                       upsert: bool) -> _Updated | None:
        """``update_one`` of top-level ``$set`` fields with a filter SQL answers exactly: SQLite finds the first
        matching document and rewrites it with ``json_set`` (the text Python would write: compact, fields in
        place, new ones last), so the document is never decoded here. None when the update or filter has no
        such form."""
        setter = _sql_set(update)
        if setter is None:
            return None
        where = self._where(conn, flt, self._probed(flt))
        if not where.exact:
            return None
        sql, values = setter
        # ?1 is the values' object; the filter's parameters follow it, numbered after it
        try:
            row = conn.execute(f'SELECT rowid, doc, {sql}, id FROM "{self.table}" WHERE {where.sql} ORDER BY rowid '
                               f'LIMIT 1', (values, *where.params)).fetchone()
        except sqlite3.OperationalError as exc:
            if "JSON" not in str(exc):
                raise
            return None  # a stored document SQLite cannot read as JSON (a NaN in it): updated in Python
        if row is None:
            if not upsert:
                return _Updated(0, 0, None, None)
            new = _upserted(flt, update, False, copy=False)
            self._put(conn, new, dumps(new))
            return _Updated(0, 0, new["_id"], None)
        rowid, text, new_text, key = row
        if new_text == text:
            return _Updated(1, 0, None, None)
        try:
            conn.execute(f'UPDATE "{self.table}" SET doc = ? WHERE rowid = ?', (new_text, rowid))
        except sqlite3.IntegrityError as exc:  # a unique index refuses the new value
            raise self._duplicate(exc, loads(key)) from None
        return _Updated(1, 1, None, None)

    def update_one(self, filter: Mapping[str, Any], update: Mapping[str, Any], upsert: bool = False) -> UpdateResult:
        """Update the first matching document atomically (insert one when ``upsert``)."""
        done = self._write(lambda c: self._update(c, filter, update, upsert=upsert, many=False))
        return UpdateResult(done.matched, done.modified, done.upserted_id)

    def update_many(self, filter: Mapping[str, Any], update: Mapping[str, Any], upsert: bool = False) -> UpdateResult:
        """Update every matching document in one transaction."""
        done = self._write(lambda c: self._update(c, filter, update, upsert=upsert, many=True))
        return UpdateResult(done.matched, done.modified, done.upserted_id)

    def replace_one(self, filter: Mapping[str, Any], replacement: Mapping[str, Any], upsert: bool = False) -> UpdateResult:
        """Replace the first matching document whole."""
        if any(str(k).startswith("$") for k in replacement):
            raise OperationFailure("a replacement document cannot contain $ operators")
        done = self._write(lambda c: self._update(c, filter, replacement, upsert=upsert, many=False, replace=True))
        return UpdateResult(done.matched, done.modified, done.upserted_id)

    def find_one_and_update(self, filter: Mapping[str, Any], update: Mapping[str, Any], projection: Any = None,
                            sort: Any = None, upsert: bool = False,
                            return_document: bool = ReturnDocument.BEFORE) -> dict[str, Any] | None:
        """Atomically update one document and return it (before or after the update)."""
        returning = "after" if return_document == ReturnDocument.AFTER else "before"
        done = self._write(lambda c: self._update(c, filter, update, upsert=upsert, many=False, sort=sort,
                                                  returning=returning))
        return project(done.doc, projection) if done.doc is not None else None

    def delete_one(self, filter: Mapping[str, Any]) -> DeleteResult:
        """Delete the first matching document."""
        return DeleteResult(self._write(lambda c: self._delete(c, filter, False)))

    def delete_many(self, filter: Mapping[str, Any]) -> DeleteResult:
        """Delete every matching document."""
        return DeleteResult(self._write(lambda c: self._delete(c, filter, True)))

    def _delete(self, conn: sqlite3.Connection, flt: Mapping[str, Any], many: bool) -> int:
        probed = self._probed(flt)
        if many:
            where = self._where(conn, flt, probed)
            if where.exact:
                return conn.execute(f'DELETE FROM "{self.table}" WHERE {where.sql}', where.params).rowcount
        rows = self._select(conn, flt, [], 0, 0 if many else 1, probed)
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
