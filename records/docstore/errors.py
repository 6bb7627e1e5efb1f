"""The embedded store's own error, a ``PyMongoError`` so callers catch it as they catch pymongo's."""

from __future__ import annotations

from pymongo.errors import PyMongoError


class StoreUnavailable(PyMongoError):
    """The embedded store could not be opened or written (disk, permissions, lock timeout)."""
