"""One settings object, read from the environment once, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

_FALSE = {"0", "false", "no", "off"}


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() not in _FALSE


@dataclass(frozen=True)
class Settings:
    """Everything configurable about the app; ``create_app(config)`` overrides fields for tests."""

    TWILIO_ACCOUNT_SID: str = ""
    TWILIO_AUTH_TOKEN: str = ""
    REDIS_URL: str = ""
    MONGODB_URI: str = ""
    DATA_DIR: str = "var/data"
    TRUSTED_PROXY_HOPS: int = 0
    PUBLIC_BASE_URL: str = ""
    ADMIN_TOKEN: str = ""
    VALIDATE_TWILIO_SIGNATURE: bool = True
    LLM_URL: str = ""
    LLM_API_KEY: str = ""
    LLM_MODEL: str = "gpt-4o-mini"
    LLM_TIMEOUT_S: float = 2.0
    TIER_COSTS: str = "1=0,2=0.0001,3=0.002,fallback=0"
    ALERT_WEBHOOK_URL: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read the settings from environment variables (unset ones keep their defaults)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra" or f.name not in env:
                continue
            raw = env[f.name]
            if f.type in ("bool", bool):
                values[f.name] = _flag(raw, f.default)  # type: ignore[arg-type]
            elif f.type in ("int", int):
                values[f.name] = int(raw or 0)
            elif f.type in ("float", float):
                values[f.name] = float(raw or 0)
            else:
                values[f.name] = raw
        return cls(**values)

    def override(self, config: Mapping[str, Any] | None) -> "Settings":
        """A copy with the given fields replaced (unknown keys go to ``extra``)."""
        if not config:
            return self
        known = {f.name for f in fields(self)}
        direct = {k: v for k, v in config.items() if k in known and k != "extra"}
        extra = {**self.extra, **{k: v for k, v in config.items() if k not in known}}
        return replace(self, **direct, extra=extra)
