"""The embedded document store, used when ``MONGODB_URI`` is unset: a pymongo-style interface over SQLite on
local disk whose errors are pymongo's own classes (``DuplicateKeyError``, ``OperationFailure`` ...), so callers
catch ``PyMongoError`` the same way for either backend; this package hands on its public names."""

from .collection import EmbeddedCollection
from .cursor import Cursor, DeleteResult, InsertOneResult, UpdateResult
from .database import EmbeddedClient, EmbeddedDatabase
from .errors import StoreUnavailable
from .matching import matches
from .updates import apply_update

__all__ = ["Cursor", "EmbeddedClient", "EmbeddedCollection", "EmbeddedDatabase", "StoreUnavailable", "apply_update",
           "matches", "InsertOneResult", "UpdateResult", "DeleteResult"]
