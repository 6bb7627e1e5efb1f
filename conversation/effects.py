"""Side effects the engine asks for, performed after the decision: blacklist, log level and alerts, SMS.

Each is keyed by call and turn (alerts and SMS by ``_id``), so a replayed turn repeats none.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from pymongo.errors import PyMongoError

from policy.decision import Decision

log = logging.getLogger(__name__)

#: Numbers Twilio sends for callers who withhold theirs (never blacklisted).
ANONYMOUS = {"", "anonymous", "restricted", "unknown", "private", "+266696687", "+7378742833", "+2562533",
             "+8656696", "+86282452253"}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [_plain(v) for v in value]
    return value


class SideEffectsMixin:
    """Performs a decision's side effects for the voice service."""

    catalog: Any
    store: Any
    notifier: Any
    clock: Any

    def _side_effects(self, decision: Decision, session: Mapping[str, Any], record: Mapping[str, Any],
                      seq: int = 0) -> list[str]:
        """Perform what the engine asked for; each is keyed by call and turn, so a replay repeats none."""
        done = []
        sid = session["call_sid"]
        for effect in decision.side_effects:
            kind = effect.get("type")
            source = dict(effect.get("source") or {})
            if kind == "SECURITY_EVENT":
                log.warning("call %s: security event %s", sid, _plain(effect))
                done.append("security_event")
            elif kind == "AUTO_BLACKLIST":
                caller = session.get("from") or ""
                if caller and caller.lower() not in ANONYMOUS:
                    try:
                        self.catalog.add_to_blacklist(record["_id"], caller)
                        done.append("blacklisted")
                    except PyMongoError as exc:
                        log.error("call %s: could not blacklist the caller: %s", sid, exc)
            elif kind == "LOG":
                severity = str(effect.get("severity"))
                level = {"info": logging.INFO, "warning": logging.WARNING,
                         "critical": logging.CRITICAL}.get(severity, logging.INFO)
                log.log(level, "call %s: %s", sid, effect.get("message"))
                done.append(f"log_{severity}")
                if severity == "critical":
                    self._alert(sid, seq, session, source, str(effect.get("message") or ""))
                    done.append("alert")
            elif kind == "NOTIFY_CONTACTS":
                done.extend(self._notify(effect, session, record, seq, decision))
        return done

    def _alert(self, sid: str, seq: int, session: Mapping[str, Any], source: Mapping[str, Any], message: str) -> None:
        self.store.insert("alerts", {
            "_id": f"{sid}:{seq}:{source.get('id', '')}", "type": "CRITICAL_EDGE_CASE",
            "company_id": session.get("company_id"), "call_sid": sid, "seq": seq, "rule": source,
            "message": message, "started_at": self.clock()}, call_sid=sid)

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
