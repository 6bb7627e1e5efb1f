"""One service function per webhook: load the session, pin the policy, answer, record, save.

Routes (``voice/routes.py``) parse the form and call these; everything here works on plain
values, the catalog and the session store, and returns TwiML text.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from pymongo.errors import PyMongoError

import policy
from policy.company import fallback_number
from policy.decision import BaseResponse, Decision, TurnContext
from policy.safe_default import safe_default
from policy.text import clean_utterance
from records.catalog import Catalog
from session.store import KEEP_REPLIES, KEEP_TOKENS, SessionStore, new_session, remember

from monitoring import metrics
from voice import twiml
from policy.scenarios import EMPTY_TEMPLATE, FALLBACK_REPLY, CompiledTemplate, ScenarioAnswer
from .effects import ANONYMOUS, SideEffectsMixin, _plain
from .dialogue import CollectingMixin
from voice.twiml import Speech

log = logging.getLogger(__name__)

UNKNOWN_NUMBER_LINE = "Sorry, the number you have called is not in service. Goodbye."
BLACKLISTED_LINE = "We're sorry, but we're unable to take your call. Goodbye."
UNAVAILABLE_LINE = "We're sorry, this line is not available right now. Please try again later. Goodbye."
SILENCE_LINES = ("Sorry, I didn't catch that. How can I help you today?",
                 "Are you still there? Tell me how I can help, or I can take a message for our team.")
SILENCE_GOODBYE = ("I haven't heard anything, so I'll end the call now. Please call us back any time. "
                   "Goodbye.")
DIAL_DONE_LINE = "Thank you for calling {companyname}. Goodbye."
DIAL_FAILED_LINE = ("I'm sorry, no one was able to take your call just now. I can take a message and have "
                    "someone call you back.")
#: Typed reasons for a transfer that did not connect (call log ``transfer_outcome.reason``).
DIAL_REASONS = {"busy": "CONTACT_BUSY", "no-answer": "CONTACT_NO_ANSWER", "failed": "DIAL_FAILED",
                "canceled": "CALLER_CANCELED", "leave": "QUEUE_LEFT", "queue-full": "QUEUE_FULL",
                "error": "QUEUE_ERROR", "system-error": "QUEUE_ERROR", "unknown": "UNKNOWN"}
FALLBACK_LINE = "We're sorry, we're having a problem on our end. Let me connect you to our team."
FALLBACK_GOODBYE = "We're sorry, we're having a problem on our end. Please call back in a few minutes. Goodbye."
MAX_HINTS = 250
DIAL_OK = {"completed", "answered", "bridged", "hangup"}


class BadRequest(ValueError):
    """A webhook missing what every Twilio request carries (answered with 400)."""


class VoiceService(CollectingMixin, SideEffectsMixin):
    """The call flow, shared by the webhook routes and the simulator."""

    def __init__(self, catalog: Catalog, store: SessionStore, *, clock: Callable[[], float] = time.time,
                 url_for: Callable[..., str], notifier: Any, llm: Any = None,
                 costs: Mapping[str, float] | None = None) -> None:
        self.llm = llm
        self.costs = dict(costs or {})
        self.alerts: Any = None
        self.catalog = catalog
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.url_for = url_for
        self._hints: dict[tuple[str, str], str] = {}

    # -- helpers

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=timezone.utc)

    @staticmethod
    def _required(form: Mapping[str, str], *names: str) -> None:
        missing = [n for n in names if not (form.get(n) or "").strip()]
        if missing:
            raise BadRequest(f"missing {', '.join(missing)}: not a Twilio voice webhook")

    def _speech(self, record: Mapping[str, Any] | None, pol: policy.CompiledPolicy | None,
                template: CompiledTemplate | None) -> Speech:
        doc = (record or {}).get("doc") or {}
        voice = doc.get("voice") or {}
        key = (pol.checksum if pol else "", template.id if template else "")
        hints = self._hints.get(key)
        if hints is None:
            words: list[str] = []
            seen: set[str] = set()
            for w in (*(pol.runtime.hints if pol else ()), *(template.hints if template else ())):
                if w not in seen and "," not in w:
                    seen.add(w)
                    words.append(w)
            # Twilio takes a few hundred phrases; keep the shorter (more distinctive) ones first.
            hints = ", ".join(sorted(words, key=lambda p: (len(p), p))[:MAX_HINTS])
            self._hints[key] = hints
        return Speech(language=voice.get("language", "en-US"), voice=voice.get("voice", "Polly.Joanna"),
                      hints=hints)

    def _policy(self, session: Mapping[str, Any], record: Mapping[str, Any]) -> policy.CompiledPolicy:
        """The call's pinned policy; if it cannot be loaded, the last good one, else SAFE_DEFAULT."""
        pin = session.get("policy") or {}
        if not pin.get("safe_default"):
            compiled = self.catalog.policy(record["_id"], pin["version"], pin["checksum"])
            if compiled is not None:
                return compiled
            good = self.catalog.last_good.get(record["_id"])
            if good and good != {"version": pin["version"], "checksum": pin["checksum"]}:
                compiled = self.catalog.policy(record["_id"], good["version"], good["checksum"])
                if compiled is not None:
                    log.error("call %s: pinned policy %s unavailable; serving the last good version %s",
                              session["call_sid"], pin, good["version"])
                    return compiled
            log.error("call %s: pinned policy %s unavailable; serving SAFE_DEFAULT", session["call_sid"], pin)
        return safe_default(fallback_number(record["doc"]))

    def _pin(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The policy a new call keeps to its end: the active one if it verifies, else the last good one."""
        active = record.get("active") or {}
        if active.get("version") and self.catalog.policy(record["_id"], active["version"], active["checksum"]):
            return {"version": active["version"], "checksum": active["checksum"]}
        good = self.catalog.last_good.get(record["_id"])
        if good and self.catalog.policy(record["_id"], good["version"], good["checksum"]):
            log.error("company %s: active policy %s unavailable; new calls get the last good version %s",
                      record["_id"], active.get("version"), good["version"])
            return {"version": good["version"], "checksum": good["checksum"]}
        return {"version": 0, "checksum": safe_default(fallback_number(record["doc"])).checksum,
                "safe_default": True}

    def _tier3(self, text: str, fallback: Any, record: Mapping[str, Any], pol: policy.CompiledPolicy,
               template: CompiledTemplate) -> Any:
        """Ask the LLM when Tiers 1 and 2 found nothing; its failure keeps the safe fallback."""
        profile = self.catalog.profile(record)
        got = self.llm.answer(text, company=profile.variables.get("companyname", profile.name), trade=profile.trade,
                              variables=profile.variables, scenarios=[sc.name for sc in template.scenarios],
                              actions=sorted(pol.runtime.allowed))
        if got is None:
            return replace(fallback, matched="tier3-failed")
        return ScenarioAnswer(got.reply, got.action, "3", None, None, None)

    def _company_for(self, called: str, company_id: str | None = None) -> dict[str, Any] | None:
        """The company record by id or number; with every backend down and no copy seen, a stand-in
        so the caller is still answered (SAFE_DEFAULT, no transfer number)."""
        try:
            if company_id:
                return self.catalog.get_company(company_id)
            return self.catalog.company_for_number(called)
        except PyMongoError as exc:
            log.error("company for %s unavailable (%s): answering with SAFE_DEFAULT", company_id or called, exc)
            cid = company_id or f"unknown:{called}"
            return {"_id": cid, "doc": {"id": cid, "name": "", "numbers": [called] if called else []},
                    "numbers": [called] if called else [], "active": None, "standin": True}

    def _turn_url(self, seq: int) -> str:
        return self.url_for("voice.turn", seq=seq)

    def _dial_url(self, seq: int) -> str:
        return self.url_for("voice.dial_result", seq=seq)

    def _replay(self, session: Mapping[str, Any], seq: int) -> str:
        reply = (session.get("replies") or {}).get(str(seq)) or self.store.recorded_reply(session["call_sid"], seq)
        if reply is not None:
            return reply
        # Neither the session nor the call log kept it: answer like a fresh turn would, recording nothing.
        return twiml.respond(SILENCE_LINES[0], action_url=self._turn_url(session["seq"] + 1), speech=Speech())

    def _caller(self, record: Mapping[str, Any], form: Mapping[str, str], call_sid: str) -> tuple[str, list[str]]:
        doc = record["doc"]
        caller = (form.get("From") or "").strip()
        flags: list[str] = []
        if caller.lower() in ANONYMOUS:
            flags.append("anonymous")
        stir = (form.get("StirVerstat") or "").lower()
        if "failed" in stir:
            flags += ["stir_failed", "suspected_spam"]
        if caller in (doc.get("vendors") or []):
            return "vendor", flags
        if "anonymous" in flags:
            return "unknown", flags
        try:
            seen = self.store.calls.find_one({"from": caller, "company_id": record["_id"],
                                              "_id": {"$ne": call_sid}}, {"_id": 1})
        except PyMongoError:
            return "unknown", flags
        return ("existing" if seen else "new"), flags

    def _render(self, decision: Decision, record: Mapping[str, Any], seq: int, speech: Speech,
                called: str) -> str:
        if decision.action == "HANGUP":
            return twiml.hangup(decision.response, speech=speech)
        if decision.action == "TRANSFER" and (decision.transfer_phone or decision.transfer_sip
                                              or decision.transfer_queue):
            return twiml.transfer(decision.response, phone=decision.transfer_phone, sip=decision.transfer_sip,
                                  queue=decision.transfer_queue, caller_id=called or None,
                                  action_url=self._dial_url(seq + 1), speech=speech)
        return twiml.respond(decision.response, action_url=self._turn_url(seq + 1), speech=speech,
                             barge_in=decision.barge_in)

    # -- webhooks

    def incoming(self, form: Mapping[str, str], token: str | None = None) -> str:
        """POST /voice: a new call. Greets, or ends calls to unknown numbers and from blacklisted callers."""
        self._required(form, "CallSid", "To")
        started = time.perf_counter()
        call_sid, called = form["CallSid"].strip(), form["To"].strip()
        caller = (form.get("From") or "").strip()
        session, tier = self.store.load(call_sid, 0)
        if session is not None and session["seq"] >= 0:
            return self._replay(session, 0)
        record = self._company_for(called)
        if record is None:
            log.info("call %s to unknown number %s ended", call_sid, called)
            self.store.start_call(new_session(call_sid, company_id=None, caller=caller, called=called,
                                              policy=None, now=self.clock()),
                                  status="rejected", outcome="unknown-number")
            return twiml.hangup(UNKNOWN_NUMBER_LINE, speech=Speech())
        doc = record["doc"]
        speech0 = Speech(language=(doc.get("voice") or {}).get("language", "en-US"),
                         voice=(doc.get("voice") or {}).get("voice", "Polly.Joanna"))
        if caller and caller in (doc.get("blacklist") or []):
            log.info("call %s from blacklisted %s ended", call_sid, caller)
            self.store.start_call(new_session(call_sid, company_id=record["_id"], caller=caller, called=called,
                                              policy=None, now=self.clock()),
                                  status="rejected", outcome="blacklisted")
            return twiml.hangup(BLACKLISTED_LINE, speech=speech0)
        t_session = time.perf_counter()
        pin = self._pin(record)
        session = new_session(call_sid, company_id=record["_id"], caller=caller, called=called, policy=pin,
                              now=self.clock())
        caller_type, flags = self._caller(record, form, call_sid)
        session.update(caller_type=caller_type, spam_flags=flags)
        pol = self._policy(session, record)
        t_policy = time.perf_counter()
        template = self.catalog.template(doc.get("scenarioTemplate")) or EMPTY_TEMPLATE
        greeting = template.greeting
        ctx = TurnContext(company=self.catalog.profile(record), now=self._now(), caller_type=caller_type,
                          spam_flags=flags, is_first_turn=True)
        decision = policy.apply(pol, "", BaseResponse(greeting, None, "greeting"), ctx)
        decision = self.maybe_collect(pol, decision, session, ctx)
        speech = self._speech(record, pol, template)
        reply = self._render(decision, record, 0, speech, called)
        done = self._side_effects(decision, session, record, 0)
        session.update(seq=0, replies={"0": reply}, tags=_merge_tags([], decision.tags), tokens=remember({}, token, 0, KEEP_TOKENS) if token else {},
                       state=self._state(decision))
        _note_transfer(session, decision)
        created = self.store.start_call(session, snapshot=True, policy=pin, caller_type=caller_type,
                                        spam_flags=flags)
        self.store.save(session, persist=not created)  # the new call log already holds the snapshot
        self._log_turn(self._record(session, 0, "greeting", "", None, None, decision, pin, reply,
                                            started, t_session, t_policy, t_policy, tier, done))
        return reply

    def _ctx(self, record: Mapping[str, Any], session: Mapping[str, Any], *,
             collected: Mapping[str, Any] | None = None) -> TurnContext:
        """The engine's context for this turn (entities only when they are to be read back)."""
        return TurnContext(company=self.catalog.profile(record), now=self._now(),
                           caller_type=session.get("caller_type"), spam_flags=session.get("spam_flags") or (),
                           is_first_turn=False, collected_entities=collected or {})

    def _log_turn(self, record: dict[str, Any]) -> None:
        """Record a turn on the call log, then count it (metrics and alert windows never break a turn)."""
        self.store.record_turn(record)
        metrics.observe_turn(record)
        if self.alerts is not None:
            self.alerts.observe_turn(record)

    def _cost(self, answer: Any) -> float:
        """Estimated cost of a turn: its tier's cost, plus a Tier 3 call that failed."""
        if answer is None:
            return 0.0
        cost = self.costs.get(answer.tier, 0.0)
        if answer.matched == "tier3-failed":
            cost += self.costs.get("3", 0.0)
        return round(cost, 6)

    @staticmethod
    def _state(decision: Decision) -> str:
        return {"HANGUP": "ended", "TRANSFER": "transfer"}.get(decision.action, "active")

    def _begin(self, form: Mapping[str, str], seq: int, token: str | None
               ) -> tuple[str | None, dict[str, Any] | None, str, dict[str, Any] | None]:
        """Load a turn's session and company: (replayed TwiML or None, session, tier, company record)."""
        self._required(form, "CallSid", "To")
        call_sid, called = form["CallSid"].strip(), form["To"].strip()
        session, tier = self.store.load(call_sid, seq - 1)
        if session is not None and session["seq"] >= seq:
            return self._replay(session, seq), session, tier, None
        if session is not None and token and token in (session.get("tokens") or {}):
            return self._replay(session, session["tokens"][token]), session, tier, None
        record = self._company_for(called, session.get("company_id") if session else None)
        return None, session, tier, record

    def turn(self, form: Mapping[str, str], seq: int, token: str | None = None) -> str:
        """POST /voice/turn?seq=N: the caller said something (or nothing) on turn N."""
        started = time.perf_counter()
        replay, session, tier, record = self._begin(form, seq, token)
        if replay is not None:
            return replay
        call_sid, called = form["CallSid"].strip(), form["To"].strip()
        if record is None:
            return twiml.hangup(UNAVAILABLE_LINE if session else UNKNOWN_NUMBER_LINE, speech=Speech())
        if session is None:
            # The call's session is gone from every tier (or this is a turn of a call we never saw):
            # go on with a new one rather than drop the caller.
            log.warning("call %s: no session for turn %d; continuing with a new one", call_sid, seq)
            session = new_session(call_sid, company_id=record["_id"], caller=(form.get("From") or "").strip(),
                                  called=called, policy=self._pin(record), now=self.clock())
            self.store.start_call(session, policy=session["policy"], recovered=True)
        t_session = time.perf_counter()
        pol = self._policy(session, record)
        t_policy = time.perf_counter()
        doc = record["doc"]
        template = self.catalog.template(doc.get("scenarioTemplate")) or EMPTY_TEMPLATE
        speech = self._speech(record, pol, template)
        text = clean_utterance(form.get("SpeechResult"))
        confidence = _float(form.get("Confidence"))
        session = dict(session)
        answer = None
        done: list[str] = []
        collecting = session.get("collect")
        entity_saved = False
        note: dict[str, Any] | None = None
        if not text.strip():
            silence = int(session.get("silence", 0)) + 1
            if silence > 2:
                decision = Decision(action="HANGUP", response=SILENCE_GOODBYE)
            elif collecting:
                line = "Sorry, I didn't catch that." if silence == 1 else "Are you still there?"
                decision = self.ask(pol, self._ctx(record, session), collecting, line)
            else:
                decision = Decision(action="RESPOND", response=SILENCE_LINES[silence - 1])
            session["silence"] = silence
            kind = "silence"
            t_scenario = time.perf_counter()
        else:
            ctx = self._ctx(record, session)
            flow = self.collect_turn(pol, record, session, text, ctx, seq, template) if collecting else None
            if flow is not None:
                decision, entity_saved, note = flow
                t_scenario = time.perf_counter()
            else:
                t0 = time.perf_counter()
                answer = template.answer(text, call_sid=call_sid, seq=seq)
                scenario_s = time.perf_counter() - t0
                decision = policy.apply(pol, text, BaseResponse(answer.text, answer.action,
                                                                f"scenario:{answer.scenario or 'fallback'}"), ctx)
                if answer.tier == "fallback" and self.llm is not None and _base_used(decision):
                    # Only when no edge case or transfer rule decided the turn: Tier 3 costs money and time.
                    t0 = time.perf_counter()
                    answer = self._tier3(text, answer, record, pol, template)
                    scenario_s += time.perf_counter() - t0
                    if answer.tier == "3":
                        decision = policy.apply(pol, text, BaseResponse(answer.text, answer.action, "tier3"), ctx)
                t_scenario = t_policy + scenario_s  # the scenario tiers' own time (the engine is timed apart)
                decision = self.maybe_collect(pol, decision, session, ctx)
            done = self._side_effects(decision, session, record, seq)
            session["silence"] = 0
            session["turn_count"] = int(session.get("turn_count", 0)) + 1
            kind = "turn"
        reply = self._render(decision, record, seq, speech, called)
        session["seq"] = seq
        session["replies"] = remember(session.get("replies") or {}, str(seq), reply, KEEP_REPLIES)
        if token:
            session["tokens"] = remember(session.get("tokens") or {}, token, seq, KEEP_TOKENS)
        session["state"] = self._state(decision)
        tags = _merge_tags(session.get("tags"), decision.tags)
        new_tag = tags != (session.get("tags") or [])
        session["tags"] = tags
        _note_transfer(session, decision)
        persist = new_tag or entity_saved or (session["turn_count"] == 1 or session["turn_count"] % 3 == 0
                                              or decision.action in ("TRANSFER", "HANGUP"))
        self.store.save(session, persist=persist)
        record_doc = self._record(session, seq, kind, text, confidence, answer, decision,
                                  session.get("policy") or {}, reply, started, t_session, t_policy, t_scenario,
                                  tier, done)
        if note:
            record_doc["collect"] = note
        self._log_turn(record_doc)
        return reply

    def dial_result(self, form: Mapping[str, str], seq: int, token: str | None = None) -> str:
        """POST /voice/dial-result?seq=N: how the transfer went (Dial or Enqueue action)."""
        started = time.perf_counter()
        replay, session, tier, record = self._begin(form, seq, token)
        if replay is not None:
            return replay
        called = form["To"].strip()
        if record is None or session is None:
            return twiml.hangup(FALLBACK_GOODBYE, speech=Speech())
        status = (form.get("DialCallStatus") or form.get("QueueResult") or "").strip().lower()
        pol = self._policy(session, record)
        speech = self._speech(record, pol, None)
        if status in DIAL_OK:
            line = policy.speak(pol, DIAL_DONE_LINE, self._ctx(record, session), caller_spoke=False)
            decision = Decision(action="HANGUP", response=line, tags=("transfer_completed",))
        session = dict(session)
        if status not in DIAL_OK:
            # Busy, no answer, failed, canceled: tell the caller and take a message for the contact.
            reason = status or "unknown"
            transfer = dict(session.get("transfer") or {})
            decision = self.start_message(pol, self._ctx(record, session), session, DIAL_FAILED_LINE, reason=reason,
                                          transfer=transfer)
            decision = replace(decision, tags=(*decision.tags, f"transfer_{reason}"))
            self.store.update_call(session["call_sid"], {"$set": {"transfer_outcome": {
                "status": reason, "target": transfer.get("target"), "reason": DIAL_REASONS.get(reason, reason)}}})
        reply = self._render(decision, record, seq, speech, called)
        session.update(seq=seq, state=self._state(decision), tags=_merge_tags(session.get("tags"), decision.tags),
                       replies=remember(session.get("replies") or {}, str(seq), reply, KEEP_REPLIES),
                       transfer_outcome=status or "unknown")
        if token:
            session["tokens"] = remember(session.get("tokens") or {}, token, seq, KEEP_TOKENS)
        self.store.save(session, persist=True)
        now = time.perf_counter()
        self._log_turn({**self._record(session, seq, "dial-result", "", None, None, decision,
                                               session.get("policy") or {}, reply, started, now, now, now, tier, []),
                                "dial_status": status or "unknown"})
        return reply

    def status(self, form: Mapping[str, str]) -> None:
        """POST /voice/status: the call ended (or changed state); finalize its session and call log."""
        self._required(form, "CallSid")
        status = (form.get("CallStatus") or "").strip().lower()
        if status not in {"completed", "busy", "failed", "no-answer", "canceled"}:
            return
        duration = form.get("CallDuration")
        self.store.finalize(form["CallSid"].strip(), status=status,
                            duration=int(duration) if (duration or "").isdigit() else None, ended_at=self.clock())

    def fallback(self, form: Mapping[str, str]) -> str:
        """POST /voice/fallback: Twilio could not use our answer; apologize and connect to a person."""
        called = (form.get("To") or "").strip()
        log.error("Twilio fallback for call %s: error %s at %s", form.get("CallSid"), form.get("ErrorCode"),
                  form.get("ErrorUrl"))
        record = None
        try:
            record = self.catalog.company_for_number(called) if called else None
        except Exception as exc:  # noqa: BLE001 - the fallback must answer whatever is broken
            log.error("fallback: company lookup failed: %s", exc)
        number = fallback_number(record["doc"]) if record else None
        if number:
            return twiml.transfer(FALLBACK_LINE, phone=number, sip=None, queue=None, caller_id=called or None,
                                  action_url=self._dial_url(9000), speech=Speech())
        return twiml.hangup(FALLBACK_GOODBYE, speech=Speech())

    # -- the call log

    def _record(self, session: Mapping[str, Any], seq: int, kind: str, text: str, confidence: float | None,
                answer: Any, decision: Decision, pin: Mapping[str, Any], reply: str, started: float,
                t_session: float, t_policy: float, t_scenario: float, tier: str, done: list[str]) -> dict[str, Any]:
        end = time.perf_counter()
        return {
            "call_sid": session["call_sid"], "company_id": session.get("company_id"), "seq": seq, "kind": kind,
            "at": self.clock(), "caller": {"text": text, "confidence": confidence},
            "tier": answer.tier if answer else None, "base_used": _base_used(decision) if answer else False, "confidence": answer.confidence if answer else None,
            "scenario": answer.scenario if answer else None, "base": answer.text if answer else None,
            "final": decision.response, "action": decision.action,
            "blocks": [dict(b) for b in decision.applied_blocks], "matched": decision.matched_pattern,
            "guardrails": list(decision.guardrails_fired), "tags": list(decision.tags),
            "side_effects": [_plain(e) for e in decision.side_effects], "side_effects_done": done,
            "transfer": {"target": decision.transfer_target, "phone": decision.transfer_phone,
                         "queue": decision.transfer_queue, "sip": decision.transfer_sip}
            if decision.action == "TRANSFER" else None,
            "policy": dict(pin), "arm": pin.get("arm", "full"), "session_tier": tier,
            "perf_fault": decision.perf_fault, "cost": self._cost(answer),
            "tier3": ("failed" if answer.matched == "tier3-failed" else "used" if answer.tier == "3" else None)
            if answer else None,
            "latency_ms": {"session": _ms(started, t_session), "policy": _ms(t_session, t_policy),
                           "scenario": _ms(t_policy, t_scenario), "engine": round(decision.elapsed_ms, 3),
                           "total": _ms(started, end)},
            "twiml": reply,
        }


def _note_transfer(session: dict[str, Any], decision: Decision) -> None:
    """Remember where a transfer goes (a failed dial takes a message for that contact)."""
    if decision.action == "TRANSFER":
        session["transfer"] = {"target": decision.transfer_target, "phone": decision.transfer_phone,
                               "queue": decision.transfer_queue, "sip": decision.transfer_sip}


def _base_used(decision: Decision) -> bool:
    """Whether the scenario's base answer decided the turn (no edge case or transfer rule took over)."""
    return not decision.short_circuit and not any(b.get("type") == "TRANSFER_RULE" for b in decision.applied_blocks)


def _merge_tags(old: Any, new: Any) -> list[str]:
    out = list(old or [])
    out.extend(t for t in new or () if t not in out)
    return out[:100]


def _ms(a: float, b: float) -> float:
    return round(max(0.0, b - a) * 1000.0, 3)


def _float(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw not in (None, "") else None
    except ValueError:
        return None
    return value if value is None or 0.0 <= value <= 1.0 else None


__all__ = ["VoiceService", "BadRequest", "FALLBACK_REPLY"]
