"""A call's session: a plain JSON-shaped dict, the same in every tier.

``seq`` is the last turn the call has processed (the greeting is turn 0); the Gather
action URL carries the next one, so a worker can tell a stale copy (another worker moved
the call on) from a fresh one.
"""

from __future__ import annotations

from typing import Any, Mapping

SESSION_TTL_S = 3600
#: How many past replies a session keeps for replayed deliveries (older ones come from the call log).
KEEP_REPLIES = 2
KEEP_TOKENS = 4  # a retried delivery comes within seconds of the first


def new_session(call_sid: str, *, company_id: str | None, caller: str, called: str,
                policy: Mapping[str, Any] | None, now: float) -> dict[str, Any]:
    """A fresh session for a call that has not been seen before."""
    return {
        "call_sid": call_sid, "company_id": company_id, "from": caller, "to": called,
        "policy": dict(policy) if policy else None,
        "seq": -1,            # last processed turn; the greeting is turn 0
        "turn_count": 0,      # caller turns answered
        "silence": 0,         # consecutive silent turns
        "state": "active",    # active | transfer | ended
        "caller_type": "unknown", "spam_flags": [], "tags": [],
        "collected": {}, "transfer": None,
        "replies": {}, "tokens": {},
        "created_at": now, "updated_at": now,
    }


def remember(mapping: Mapping[str, Any], key: str, value: Any, keep: int) -> dict[str, Any]:
    """A copy of a small bounded mapping with one more entry (oldest dropped)."""
    out = {k: v for k, v in mapping.items() if k != key}
    out[key] = value
    while len(out) > keep:
        out.pop(next(iter(out)))
    return out


def last_reply(session: Mapping[str, Any]) -> str:
    """What the caller heard last (the reply to the session's newest turn), "" when nothing yet."""
    return str(((session.get("replies") or {}).get(str(session.get("seq", -1))) or {}).get("text") or "")


__all__ = ["new_session", "remember", "last_reply", "KEEP_REPLIES", "KEEP_TOKENS", "SESSION_TTL_S"]
