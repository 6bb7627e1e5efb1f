"""Taking a message: store it on the call log, text it to the team, thank the caller and say goodbye."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import policy
from policy.company import fallback_number
from policy.decision import Decision, TurnContext
from records.calllog import CallLog

from .notify import Notifier

MESSAGE_DONE_LINE = ("Thank you{name}. I'll make sure our team gets your message, and someone will call you back "
                     "as soon as they can.")
BOOKING_DONE_LINE = ("Thank you{name}. I've passed your visit request to our scheduling team, and they'll call you "
                     "back to confirm a time.")
MESSAGE_UNCONFIRMED_LINE = ("I haven't heard back, so I'll pass your message along as I have it, and someone will "
                            "call you back as soon as they can.")


#: What a message carries beside its details when the call gathered it, and its label in the team's text.
PASSED_ON = {"when": "When", "notes": "Also said", "questions": "Asked"}
#: The caller's language, named in the team's text.
LANGUAGES = {"es": "Spanish"}


class Messages:
    """Stores taken messages and sends their SMS."""

    def __init__(self, call_log: CallLog, notifier: Notifier, *, clock: Callable[[], float]) -> None:
        self.call_log = call_log
        self.notifier = notifier
        self.clock = clock

    def finish(self, pol: policy.CompiledPolicy, ctx: TurnContext, session: Mapping[str, Any],
               state: Mapping[str, Any], *, read_back: bool = True, confirmed: bool = True) -> Decision:
        """Store the message, text it to the team, thank the caller and end the call (reading the number
        back unless the caller has just confirmed it). ``confirmed=False``: the caller went silent at the
        read-back; the message is passed on as it stands, marked unconfirmed."""
        message = self.store(ctx, session, state, confirmed=confirmed)
        name = f", {message['name'].split()[0]}" if message.get("name") else ""
        phone = message["callback_phone"]
        values = {"callbackPhone": phone} if phone and read_back else {}
        with_values = TurnContext(company=ctx.company, now=ctx.now, caller_type=ctx.caller_type,
                                  spam_flags=ctx.spam_flags, collected_entities=values, variation=ctx.variation)
        if not confirmed:
            done = MESSAGE_UNCONFIRMED_LINE
        else:
            done = (BOOKING_DONE_LINE if message["reason"] == "booking" else MESSAGE_DONE_LINE).format(name=name)
        line = policy.speak(pol, done, with_values, caller_spoke=False)
        return Decision(action="HANGUP", response=f"{line} Goodbye.", tags=("message_taken",))

    def store(self, ctx: TurnContext, session: Mapping[str, Any], state: Mapping[str, Any], *,
              confirmed: bool = True, language: str | None = None, hung_up: bool = False) -> dict[str, Any]:
        """Store the message the call collected (``session["collected"]``) on the call log and text it to the
        team; ``language``: the caller's when it is not English ("es"), so the team calls back in it;
        ``hung_up``: the caller hung up before it was complete (what they gave is passed on, so marked)."""
        message = self._message(session, state)
        if hung_up:
            message["hung_up"] = True
        # What the call gathered for the team beside the details: questions we promised to pass on ("what's your
        # earliest appointment?"), when the caller would like the visit ("Thursday"), what they said instead of
        # a name ("I want my money back").
        message.update({k: session[k] for k in PASSED_ON if session.get(k)})
        if not confirmed:
            message["confirmed"] = False
        if language:
            message["language"] = language
        self.call_log.store_message(message)
        self.call_log.update(session["call_sid"], {"$set": {"outcome": "message_taken", "message": {
            k: message[k] for k in ("name", "callback_phone", "message", "reason", "transfer_target", "confirmed",
                                    "language", "hung_up", *PASSED_ON) if k in message}}})
        self._text_team(ctx, session, state, message)
        return message

    def _message(self, session: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
        collected = dict(session.get("collected") or {})
        caller = session.get("from") or ""
        transfer = state.get("transfer") or {}
        return {"_id": f"{session['call_sid']}:{session.get('seq', 0) + 1}", "company_id": session.get("company_id"),
                "call_sid": session["call_sid"], "caller": caller, "name": collected.get("name"),
                "callback_phone": collected.get("callbackPhone") or caller,
                "message": "; ".join(str(collected[k]) for k in ("message", "visitDetails", "address")
                                     if collected.get(k)) or None,
                "reason": state.get("reason") or "caller", "transfer_target": transfer.get("target"),
                "created_at": self.clock()}

    def _text_team(self, ctx: TurnContext, session: Mapping[str, Any], state: Mapping[str, Any],
                   message: Mapping[str, Any]) -> None:
        transfer = state.get("transfer") or {}
        to = transfer.get("phone") or fallback_number(ctx.company.raw)
        if not to:
            return
        company = ctx.company.variables.get("companyname", ctx.company.name)
        why = f" (transfer to {transfer.get('target')}: {message['reason']})" if transfer.get("target") else ""
        speaks = f", who speaks {LANGUAGES.get(message['language'], message['language'])}" \
            if message.get("language") else ""
        why += " (hung up before finishing)" if message.get("hung_up") else ""
        body = (f"{company}: message from {message['name'] or 'a caller'} ({message['callback_phone']}){speaks}{why}: "
                f"{message['message'] or '(no message)'}")
        for k, label in PASSED_ON.items():
            if message.get(k):
                value = message[k]
                body += f" {label}: {value if isinstance(value, str) else '; '.join(value)}"
        self.notifier.sms(f"{message['_id']}:message", to=to, from_=session.get("to"), body=body,
                          company_id=session.get("company_id"), call_sid=session["call_sid"], kind="message")


__all__ = ["Messages", "MESSAGE_DONE_LINE", "MESSAGE_UNCONFIRMED_LINE", "BOOKING_DONE_LINE"]
