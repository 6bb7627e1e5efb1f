"""Tier 3: an OpenAI-compatible chat-completions endpoint, asked only when Tiers 1 and 2 found nothing.

The prompt carries the company's variables, its scenario names and the actions it allows;
the answer must be JSON ``{"reply": ..., "action": ...}``. A slow, failed or malformed
answer returns None and the caller hears the safe fallback. The proposed action is not
trusted: the engine checks it against the allowlist like any other.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import requests

from infra.breaker import Breaker

log = logging.getLogger(__name__)

MAX_REPLY_CHARS = 500
SYSTEM = (
    "You answer the phone for {company}, a {trade} company. Answer the caller in one or two short, friendly "
    "spoken sentences. Never quote prices, diagnose problems, give medical or legal advice, read out phone "
    "numbers or web addresses. If you cannot help, offer to take a message.\n"
    "Company facts (use only these): {facts}\n"
    "Topics the company handles: {scenarios}\n"
    "Allowed actions: {actions}\n"
    'Reply with JSON only: {{"reply": "<what to say>", "action": "<one allowed action or null>"}}'
)


@dataclass(frozen=True, slots=True)
class LLMAnswer:
    """A Tier 3 answer: what to say and the action it proposes (unchecked)."""

    reply: str
    action: str | None
    latency_ms: float


class LLMTier:
    """Calls the chat-completions endpoint with a short timeout and a breaker."""

    def __init__(self, url: str, *, api_key: str = "", model: str = "gpt-4o-mini", timeout: float = 2.0,
                 session: requests.Session | None = None) -> None:
        self.url = url
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        self.http = session or requests.Session()
        self.breaker = Breaker("Tier 3 LLM", threshold=3, cooldown=10.0)

    def prompt(self, *, company: str, trade: str, variables: Mapping[str, str], scenarios: Sequence[str],
               actions: Sequence[str]) -> str:
        """The system prompt for a company."""
        facts = "; ".join(f"{k}: {v}" for k, v in sorted(variables.items()))
        return SYSTEM.format(company=company or "the company", trade=trade or "service", facts=facts or "none",
                             scenarios=", ".join(scenarios) or "none", actions=", ".join(actions) or "none")

    def answer(self, utterance: str, *, company: str, trade: str, variables: Mapping[str, str],
               scenarios: Sequence[str], actions: Sequence[str]) -> LLMAnswer | None:
        """Ask the model; None on any timeout, error or answer that is not the JSON we asked for."""
        if not self.breaker.allow():
            return None
        body = {"model": self.model, "temperature": 0, "max_tokens": 200,
                "response_format": {"type": "json_object"},
                "messages": [{"role": "system", "content": self.prompt(company=company, trade=trade,
                                                                       variables=variables, scenarios=scenarios,
                                                                       actions=actions)},
                             {"role": "user", "content": utterance[:1000]}]}
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        started = time.perf_counter()
        try:
            resp = self.http.post(self.url, json=body, headers=headers, timeout=self.timeout)
            resp.raise_for_status()
            payload = resp.json()
        except (requests.RequestException, ValueError) as exc:
            self.breaker.failure(exc)
            log.warning("Tier 3 failed (%s): falling back", exc.__class__.__name__)
            return None
        self.breaker.success()
        latency = (time.perf_counter() - started) * 1000
        parsed = parse_answer(payload)
        if parsed is None:
            log.warning("Tier 3 answered something other than {reply, action} JSON: falling back")
            return None
        return LLMAnswer(parsed[0], parsed[1], round(latency, 1))


def parse_answer(payload: Any) -> tuple[str, str | None] | None:
    """(reply, action) from a chat-completions response whose message content is our JSON, else None."""
    try:
        content = payload["choices"][0]["message"]["content"]
        data = json.loads(content) if isinstance(content, str) else None
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    reply, action = data.get("reply"), data.get("action")
    if not isinstance(reply, str) or not reply.strip():
        return None
    if action is not None and not isinstance(action, str):
        return None
    action = action.strip().upper() if action and action.strip().lower() not in ("null", "none", "") else None
    return " ".join(reply.split())[:MAX_REPLY_CHARS], action


__all__ = ["LLMTier", "LLMAnswer", "parse_answer"]
