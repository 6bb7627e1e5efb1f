"""What the embedded store's calls return, as pymongo's: the insert, update and delete results, and the lazy
``Cursor`` of a ``find``, whose query its collection runs at the first ``next``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pymongo.errors import InvalidOperation

from .documents import project
from .matching import sort_spec


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


# --- cursors ---------------------------------------------------------------------------

def _count_arg(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer")
    if name == "skip" and value < 0:
        raise ValueError("skip must be >= 0")
    return abs(value)  # pymongo's negative limit means "one batch": the same documents here


class Cursor:
    """As pymongo's: chain ``sort``/``skip``/``limit``, then iterate; the query runs at the first ``next``."""

    def __init__(self, collection: Any, filter: Mapping[str, Any] | None = None,
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

    def sort(self, key_or_list: Any, direction: Any = None) -> Cursor:
        """Sort by one key (``sort("k", -1)``) or by several (``sort([("a", 1), ("b", -1)])``)."""
        self._chainable()
        self._sort = sort_spec(key_or_list, direction)
        return self

    def skip(self, skip: int) -> Cursor:
        """Skip the first ``skip`` matching documents."""
        self._chainable()
        self._skip = _count_arg("skip", skip)
        return self

    def limit(self, limit: int) -> Cursor:
        """Return at most ``limit`` documents (0: no limit)."""
        self._chainable()
        self._limit = _count_arg("limit", limit)
        return self

    def clone(self) -> Cursor:
        """An unevaluated copy of this cursor."""
        return Cursor(self.collection, self._filter, self._projection, sort=self._sort, skip=self._skip,
                      limit=self._limit)

    def rewind(self) -> Cursor:
        """Forget the results so the next iteration runs the query again."""
        self._docs = None
        return self

    def close(self) -> None:
        """Stop iterating (nothing is held open between calls)."""
        self._docs = iter(())

    def __iter__(self) -> Cursor:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._docs is None:
            self._docs = iter(self.collection._query(self._filter, self._sort, self._skip, self._limit))
        return project(next(self._docs), self._projection)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``cursor[i]``: the query run again for that one document."""
        if not isinstance(index, int):
            raise TypeError("Cursor indices must be integers (slices are not supported here)")
        if index < 0:
            raise IndexError("Cursor instances do not support negative indices")
        for doc in self.clone().skip(self._skip + index).limit(1):
            return doc
        raise IndexError("no such item for Cursor instance")

    def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        """The remaining documents (at most ``length``) as a list."""
        return [doc for doc, _ in zip(self, range(length))] if length else list(self)

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
