"""One settings object, read from the environment once, in one place; every setting a typed field."""

from __future__ import annotations

import os
import time
import typing
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Mapping, Optional

_FALSE = {"0", "false", "no", "off"}


def _flag(value: str) -> bool:
    return value.strip().lower() not in _FALSE


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the app; ``create_app(config)`` overrides fields (tests, tools)."""

    # Backends and Twilio
    TWILIO_ACCOUNT_SID: str = ""
    TWILIO_AUTH_TOKEN: str = ""
    REDIS_URL: str = ""
    MONGODB_URI: str = ""
    DATA_DIR: str = "var/data"
    TRUSTED_PROXY_HOPS: int = 0
    PUBLIC_BASE_URL: str = ""
    ADMIN_TOKEN: str = ""
    VALIDATE_TWILIO_SIGNATURE: bool = True
    # Tier 3 and costs
    LLM_URL: str = ""
    LLM_API_KEY: str = ""
    LLM_MODEL: str = "gpt-4o-mini"
    LLM_TIMEOUT_S: float = 2.0
    TIER_COSTS: str = "1=0,2=0.0001,3=0.002,fallback=0"
    # Monitoring
    ALERT_WEBHOOK_URL: str = ""
    ALERT_EVAL_S: float = 15.0
    # Rollouts: a request that sees a running rollout ticks it in the background at most this often (0: never;
    # ``flask rollout tick`` on a schedule does it too)
    ROLLOUT_TICK_S: float = 15.0
    PROMETHEUS_MULTIPROC_DIR: str = ""
    # Console sign-in: failed tokens allowed per client address and window, per process (0: no limit)
    SIGNIN_FAILURES: int = 10
    SIGNIN_WINDOW_S: float = 300.0
    # Resilience
    BREAKER_COOLDOWN: float = 2.0
    OUTBOX_FLUSH_S: float = 1.0
    # A turn's record (and snapshot) made durable by one append to this process's journal and written to the
    # document store just after the caller is answered (off: written before the answer)
    TURN_JOURNAL: bool = True
    # Learning: on/off, how often the background batch runs (0: only when drained by hand), how
    # often a company's queues are clustered into suggestions (0: only on request), and whether the
    # background batches run in a process of their own (one per worker) rather than in the worker
    LEARNING_ENABLED: bool = True
    LEARNING_BATCH_S: float = 2.0
    LEARNING_RUN_S: float = 900.0
    LEARNING_PROCESS: bool = True
    # Start-up: load the demo company (None: when the embedded store is used)
    SEED_DEMO: Optional[bool] = None
    # Tests and tools only: TESTING and CRASH_AT ("after_record:3": kill the process at a step of a
    # turn; "before_landing": once a turn is answered, before its journalled writes land; honoured only with TESTING); CLOCK and SLEEP never come from the environment
    TESTING: bool = False
    CRASH_AT: str = ""
    CLOCK: Callable[[], float] = time.time
    SLEEP: Callable[[float], None] = time.sleep

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read the settings from environment variables (unset or empty ones keep their defaults)."""
        env = os.environ if env is None else env
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.name)
            kind = hints[f.name]
            if raw is None or raw.strip() == "" or f.name in ("CLOCK", "SLEEP"):
                continue
            try:
                if kind in (bool, Optional[bool]):
                    values[f.name] = _flag(raw)
                elif kind is int:
                    values[f.name] = int(raw)
                elif kind is float:
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError:
                raise ValueError(f"{f.name}={raw!r} is not a valid {kind.__name__}") from None
        return cls(**values)

    def override(self, config: Mapping[str, Any] | None) -> "Settings":
        """A copy with the given fields replaced; an unknown name is an error (a typo, never ignored)."""
        if not config:
            return self
        known = {f.name for f in fields(self)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise KeyError(f"unknown setting(s): {', '.join(unknown)}")
        return replace(self, **config)

    @property
    def seed_demo(self) -> bool:
        """Whether to load the demo company at start."""
        return (not self.MONGODB_URI) if self.SEED_DEMO is None else self.SEED_DEMO
