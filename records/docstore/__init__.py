"""The embedded document store: a pymongo-style interface over SQLite on local disk (its public names)."""

from .collection import (Cursor, DeleteResult, EmbeddedClient, EmbeddedCollection, EmbeddedDatabase,
                         InsertOneResult, StoreUnavailable, UpdateResult, apply_update, matches)

__all__ = ["Cursor", "EmbeddedClient", "EmbeddedCollection", "EmbeddedDatabase", "StoreUnavailable", "apply_update",
           "matches", "InsertOneResult", "UpdateResult", "DeleteResult"]
