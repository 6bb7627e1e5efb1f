"""The hybrid session store: L0 in-process cache -> L1 Redis -> L2 durable snapshots -> fresh."""

from __future__ import annotations

from typing import Any

from .model import KEEP_REPLIES, KEEP_TOKENS, SESSION_TTL_S, last_reply, new_session, remember
from .store import SessionStore, Superseded
from .tiers import FAILED, STALE, STORED, MemoryTier, RedisTier, Tier

__all__ = ["init_app", "SessionStore", "Superseded", "Tier", "MemoryTier", "RedisTier", "new_session", "remember", "last_reply", "KEEP_REPLIES",
           "KEEP_TOKENS", "SESSION_TTL_S", "STORED", "STALE", "FAILED"]


def init_app(app: Any, settings: Any, *, l2: Any, redis: Any | None, observer: Any) -> SessionStore:
    """Build the session store over L0, Redis (when configured) and the given L2 tier."""
    store = SessionStore(l2, RedisTier(redis) if redis is not None else None, clock=settings.CLOCK,
                         on_redis=observer.redis_call, on_fallback=observer.fallback)
    app.extensions["sessions"] = store
    app.extensions["health"].add("backends", store.backends)
    app.extensions["health"].add("session_hits", lambda: store.hits)
    return store
