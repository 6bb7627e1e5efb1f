"""Open the backends named by the settings: the document store (MongoDB or embedded) and Redis."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

#: Short timeouts everywhere: Twilio waits at most 15 s for a whole webhook.
REDIS_TIMEOUT_S = 0.25
MONGO_TIMEOUT_MS = 500
DB_NAME = "voiceagent"
#: How long a write waits for another process's SQLite lock before it counts as a failure.
EMBEDDED_BUSY_TIMEOUT_S = 0.5


def open_docstore(mongodb_uri: str, data_dir: str) -> Any:
    """The app's database: pymongo's for ``MONGODB_URI``, else the embedded store in ``data_dir``."""
    if mongodb_uri:
        from pymongo import MongoClient

        client = MongoClient(mongodb_uri, serverSelectionTimeoutMS=MONGO_TIMEOUT_MS,
                             connectTimeoutMS=MONGO_TIMEOUT_MS, socketTimeoutMS=2 * MONGO_TIMEOUT_MS,
                             connect=False, tz_aware=False)
        try:
            db = client.get_default_database()
        except Exception:  # a URI without a database name
            db = client[DB_NAME]
        return db
    from .docstore import EmbeddedClient

    return EmbeddedClient(data_dir, timeout_s=EMBEDDED_BUSY_TIMEOUT_S)[DB_NAME]


def open_redis(redis_url: str) -> Any | None:
    """A redis-py client with short timeouts, or None when ``REDIS_URL`` is unset (L1 skipped)."""
    if not redis_url:
        return None
    import redis

    return redis.Redis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT_S,
                                socket_connect_timeout=REDIS_TIMEOUT_S, retry_on_timeout=False,
                                health_check_interval=0)


def ensure_indexes(db: Any) -> None:
    """Indexes the app queries by (idempotent; failures are logged, never fatal)."""
    try:
        db["calls"].create_index("company_id")
        db["calls"].create_index("started_at")
        db["turns"].create_index("company_id")
        db["turns"].create_index("at")
        db["calls"].create_index("from")
        db["turns"].create_index("call_sid")
        db["cheatsheets"].create_index("company_id")
    except Exception as exc:  # noqa: BLE001 - an index is an optimisation
        log.warning("could not create indexes: %s", exc)
