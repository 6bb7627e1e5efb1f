"""Side effects the engine asks for, performed after the decision: blacklist, log level and alerts, SMS.

Each is keyed by call and turn (alerts and SMS by ``_id``), so a replayed turn repeats none.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from pymongo.errors import PyMongoError

from policy.decision import Decision
from policy.frozen import thaw
from records.calllog import CallLog
from records.companies import Companies

from .notify import Notifier

log = logging.getLogger(__name__)
LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


class Effects:
    """Performs a decision's side effects."""

    def __init__(self, companies: Companies, call_log: CallLog, notifier: Notifier, *,
                 clock: Callable[[], float]) -> None:
        self.companies = companies
        self.call_log = call_log
        self.notifier = notifier
        self.clock = clock

    def perform(self, decision: Decision, session: Mapping[str, Any], record: Mapping[str, Any],
                seq: int = 0) -> list[str]:
        """Perform what the engine asked for; returns what was done (for the turn record)."""
        done: list[str] = []
        sid = session["call_sid"]
        for effect in decision.side_effects:
            kind = effect.get("type")
            if kind == "SECURITY_EVENT":
                log.warning("call %s: security event %s", sid, thaw(effect))
                done.append("security_event")
            elif kind == "AUTO_BLACKLIST":
                done.extend(self._blacklist(session, record))
            elif kind == "LOG":
                done.extend(self._log(effect, session, seq))
            elif kind == "NOTIFY_CONTACTS":
                done.extend(self._notify(effect, session, record, seq, decision))
        return done

    def _blacklist(self, session: Mapping[str, Any], record: Mapping[str, Any]) -> list[str]:
        caller = session.get("from") or ""
        if not caller or "anonymous" in (session.get("spam_flags") or ()):
            return []  # never blacklist "anonymous": every caller who withholds their number shares it
        try:
            self.companies.add_to_blacklist(record["_id"], caller)
        except PyMongoError as exc:
            log.error("call %s: could not blacklist the caller: %s", session["call_sid"], exc)
            return []
        return ["blacklisted"]

    def _log(self, effect: Mapping[str, Any], session: Mapping[str, Any], seq: int) -> list[str]:
        sid = session["call_sid"]
        severity = str(effect.get("severity"))
        log.log(LEVELS.get(severity, logging.INFO), "call %s: %s", sid, effect.get("message"))
        if severity != "critical":
            return [f"log_{severity}"]
        source = dict(effect.get("source") or {})
        self.call_log.record_alert({
            "_id": f"{sid}:{seq}:{source.get('id', '')}", "type": "CRITICAL_EDGE_CASE",
            "company_id": session.get("company_id"), "call_sid": sid, "seq": seq, "rule": source,
            "message": str(effect.get("message") or ""), "started_at": self.clock()})
        return [f"log_{severity}", "alert"]

    def _notify(self, effect: Mapping[str, Any], session: Mapping[str, Any], record: Mapping[str, Any], seq: int,
                decision: Decision) -> list[str]:
        doc = record["doc"]
        contacts = doc.get("contacts") or {}
        source = dict(effect.get("source") or {})
        company = (doc.get("variables") or {}).get("companyname") or doc.get("name", "")
        tags = ", ".join(decision.tags)
        body = (f"{company}: a call from {session.get('from') or 'an unknown number'} matched "
                f"'{source.get('name') or source.get('id')}'{' (' + tags + ')' if tags else ''}. "
                f"Action: {decision.action.lower()}. Call {session['call_sid']}.")
        out = []
        for name in effect.get("contacts") or ():
            phone = (contacts.get(name) or {}).get("phone")
            if not phone:
                log.warning("call %s: contact %r has no phone number for an SMS", session["call_sid"], name)
                out.append(f"sms_skipped:{name}")
                continue
            self.notifier.sms(f"{session['call_sid']}:{seq}:notify:{name}", to=phone, from_=session.get("to"),
                              body=body, company_id=record["_id"], call_sid=session["call_sid"], kind="notify")
            out.append(f"sms:{name}")
        return out


__all__ = ["Effects"]
