"""A turn's context: the call's company, its pinned policy, its scenario template, how it listens.

Each lookup has a floor that always answers: a stand-in company when every backend is down
and the company was never seen, the last good policy and then SAFE_DEFAULT when the pinned
one cannot be loaded, an almost empty template when the company's is missing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from pymongo.errors import PyMongoError

from policy.company import CompanyProfile, Voice, fallback_number
from policy.compiler import CompiledPolicy
from policy.decision import TurnContext
from policy.rollout import CANARY, in_canary
from policy.safe_default import safe_default
from policy.scenarios import EMPTY_TEMPLATE, CompiledTemplate
from records.catalog import Catalog

from .types import Listening

log = logging.getLogger(__name__)

#: Twilio takes up to 500 comma-separated hints of at most 100 characters each (warning 13330); we keep the
#: company's own first, then the shortest (most distinctive) of the policy's and template's phrases.
MAX_HINTS = 250
MAX_HINT_CHARS = 100
#: Voice settings of a company document saved before they existed: the schema's defaults.
VOICE_DEFAULTS = Voice().model_dump()


@dataclass
class Scope:
    """Everything a turn works with once its session and company are loaded."""

    session: dict[str, Any]
    record: dict[str, Any]
    policy: CompiledPolicy
    template: CompiledTemplate
    profile: CompanyProfile
    listening: Listening
    session_tier: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def company_id(self) -> str:
        """The company's id."""
        return self.record["_id"]


class Scopes:
    """Looks up companies, pins and loads policies, and builds each company's listening profile."""

    def __init__(self, catalog: Catalog, *, clock: Callable[[], float]) -> None:
        self.catalog = catalog
        self.clock = clock
        self._hints: dict[tuple[str, str], str] = {}

    def now(self) -> datetime:
        """The turn's time (aware, UTC)."""
        return datetime.fromtimestamp(self.clock(), tz=timezone.utc)

    def company(self, called: str, company_id: str | None = None) -> dict[str, Any] | None:
        """The company record by id or number; with every backend down and no copy seen, a stand-in
        so the caller is still answered (SAFE_DEFAULT, no transfer number)."""
        try:
            if company_id:
                return self.catalog.companies.get(company_id)
            return self.catalog.companies.for_number(called)
        except PyMongoError as exc:
            log.error("company for %s unavailable (%s): answering with SAFE_DEFAULT", company_id or called, exc)
            cid = company_id or f"unknown:{called}"
            return {"_id": cid, "doc": {"id": cid, "name": "", "numbers": [called] if called else []},
                    "numbers": [called] if called else [], "active": None, "standin": True}

    def pin(self, record: Mapping[str, Any], call_sid: str = "") -> dict[str, Any]:
        """The policy a new call keeps to its end, with its rollout arm while a rollout runs: the candidate
        for a canary call (by a hash of company, version and CallSid), else the active policy."""
        pin = self._active_pin(record)
        live = record.get("rollout")
        if not live:
            return pin
        tag = {"rollout": live["id"], "stage": live["stage"]}
        if (live["stage"] == CANARY and in_canary(record["_id"], live["version"], call_sid, live["share"])
                and self.catalog.policies.load(record["_id"], live["version"], live["checksum"]) is not None):
            return {"version": live["version"], "checksum": live["checksum"], "arm": "canary", **tag}
        return {**pin, "arm": "control", **tag}

    def _active_pin(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The active policy if it verifies, else the last good one, else SAFE_DEFAULT."""
        policies = self.catalog.policies
        active = record.get("active") or {}
        if active.get("version") and policies.load(record["_id"], active["version"], active["checksum"]):
            policies.serve(record["_id"], active["version"], active["checksum"])
            return {"version": active["version"], "checksum": active["checksum"]}
        good = policies.last_good.get(record["_id"])
        if good and policies.load(record["_id"], good["version"], good["checksum"]):
            log.error("company %s: active policy %s unavailable; new calls get the last good version %s",
                      record["_id"], active.get("version"), good["version"])
            return {"version": good["version"], "checksum": good["checksum"]}
        return {"version": 0, "checksum": safe_default(fallback_number(record["doc"])).checksum,
                "safe_default": True}

    def policy(self, session: Mapping[str, Any], record: Mapping[str, Any]) -> CompiledPolicy:
        """The call's pinned policy; if it cannot be loaded, the last good one, else SAFE_DEFAULT."""
        policies = self.catalog.policies
        pin = session.get("policy") or {}
        if not pin.get("safe_default") and pin.get("version"):
            compiled = policies.load(record["_id"], pin["version"], pin["checksum"])
            if compiled is not None:
                return compiled
            good = policies.last_good.get(record["_id"])
            if good and good != {"version": pin["version"], "checksum": pin["checksum"]}:
                compiled = policies.load(record["_id"], good["version"], good["checksum"])
                if compiled is not None:
                    log.error("call %s: pinned policy %s unavailable; serving the last good version %s",
                              session["call_sid"], pin, good["version"])
                    return compiled
            log.error("call %s: pinned policy %s unavailable; serving SAFE_DEFAULT", session["call_sid"], pin)
        return safe_default(fallback_number(record["doc"]))

    def template(self, record: Mapping[str, Any]) -> CompiledTemplate:
        """The company's scenario template (an almost empty one when it has none or it cannot be loaded)."""
        return self.catalog.templates.get(record["doc"].get("scenarioTemplate")) or EMPTY_TEMPLATE

    def listening(self, record: Mapping[str, Any], pol: CompiledPolicy | None,
                  template: CompiledTemplate | None) -> Listening:
        """The company's voice, language and speech-recognition settings, and hints from its own list,
        its policy and its template (within Twilio's limits)."""
        voice = {**VOICE_DEFAULTS, **((record or {}).get("doc", {}).get("voice") or {})}
        key = (pol.checksum if pol else "", template.id if template else "", tuple(voice.get("hints") or ()))
        hints = self._hints.get(key)
        if hints is None:
            words: list[str] = []
            seen: set[str] = set()
            ranked = sorted({*(pol.runtime.hints if pol else ()), *(template.hints if template else ())},
                            key=lambda p: (len(p), p))
            for w in (*(voice.get("hints") or ()), *ranked):
                w = " ".join(str(w).replace(",", " ").split())
                if w and len(w) <= MAX_HINT_CHARS and w.lower() not in seen:
                    seen.add(w.lower())
                    words.append(w)
            hints = ", ".join(words[:MAX_HINTS])
            self._hints[key] = hints
        model = voice.get("speechModel")
        return Listening(language=voice.get("language", "en-US"), voice=voice.get("voice", "Polly.Joanna"),
                         hints=hints, speech_model=model, enhanced=bool(voice.get("enhanced")) and model == "phone_call",
                         speech_timeout=str(voice.get("speechTimeout") or ("2" if model else "auto")),
                         timeout=int(voice.get("timeout") or 6), profanity_filter=voice.get("profanityFilter"))

    def listening_for(self, session: Mapping[str, Any]) -> Listening:
        """How a call's company listens now, with its pinned policy's hints (for a replayed reply)."""
        try:
            record = self.company(session.get("to") or "", session.get("company_id"))
            if record is None:
                return Listening()
            return self.load(dict(session), record, "").listening
        except Exception as exc:  # noqa: BLE001 - hints only help recognition; a replay must answer
            log.warning("call %s: no listening settings for a replayed reply: %s", session.get("call_sid"), exc)
            return Listening()

    def load(self, session: dict[str, Any], record: dict[str, Any], tier: str) -> Scope:
        """A turn's scope for a loaded session and company."""
        pol = self.policy(session, record)
        template = self.template(record)
        return Scope(session=session, record=record, policy=pol, template=template,
                     profile=self.catalog.companies.profile(record),
                     listening=self.listening(record, pol, template), session_tier=tier)

    def context(self, scope: Scope, *, first_turn: bool = False,
                collected: Mapping[str, Any] | None = None) -> TurnContext:
        """The engine's context for this turn (entities only when they are to be read back)."""
        session = scope.session
        return TurnContext(company=scope.profile, now=self.now(), caller_type=session.get("caller_type"),
                           spam_flags=session.get("spam_flags") or (), is_first_turn=first_turn,
                           collected_entities=collected or {},
                           variation=_seed(session.get("call_sid") or "") + int(session.get("turn_count", 0)))


def _seed(call_sid: str) -> int:
    """A number of the call's own, so wording variants differ from call to call (and stay put on replays)."""
    return int.from_bytes(hashlib.blake2b(call_sid.encode(), digest_size=4).digest(), "big")


def caller_flags(*, withheld: bool, attestation_failed: bool) -> list[str]:
    """Spam flags the engine's edge cases can require: anonymous callers, failed STIR/SHAKEN attestation."""
    flags: list[str] = []
    if withheld:
        flags.append("anonymous")
    if attestation_failed:
        flags += ["stir_failed", "suspected_spam"]
    return flags


__all__ = ["Scope", "Scopes", "caller_flags", "MAX_HINTS"]
