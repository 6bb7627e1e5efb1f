"""The call simulator: plays a caller against the app, with correctly signed Twilio webhooks.

It posts what Twilio would (the incoming call, each Gather result, Dial results, the
status callback), signs every request with the helper library, follows the TwiML it
gets back and reports what the caller hears. Transport is pluggable: in-process through
Flask's test client, or over HTTP to a running app.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import urljoin, urlsplit

from twilio.request_validator import RequestValidator

#: (url, form, headers) -> (HTTP status, body text)
Transport = Callable[[str, dict[str, str], dict[str, str]], tuple[int, str]]
SILENCE = {"", "<silence>", "(silence)", "..."}
MAX_STEPS = 60


@dataclass
class Event:
    """One thing that happened on the simulated call."""

    kind: str        # say | listen | caller | dial | enqueue | hangup | http-error | end
    text: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """A readable transcript line."""
        who = {"say": "AGENT ", "caller": "CALLER", "listen": "  ...  ", "dial": "DIAL  ", "enqueue": "QUEUE ",
               "hangup": "HANGUP", "http-error": "ERROR ", "end": "END   "}.get(self.kind, self.kind)
        extra = " ".join(f"{k}={v}" for k, v in self.detail.items() if v not in (None, ""))
        return f"{who} {self.text}{'  [' + extra + ']' if extra else ''}".rstrip()


@dataclass
class CallResult:
    """Everything the simulated caller saw, with the raw exchanges for assertions."""

    call_sid: str
    events: list[Event] = field(default_factory=list)
    exchanges: list[tuple[str, dict[str, str], int, str]] = field(default_factory=list)

    def heard(self) -> list[str]:
        """What the caller heard, in order."""
        return [e.text for e in self.events if e.kind == "say"]

    def kinds(self) -> list[str]:
        """The kinds of the events, in order."""
        return [e.kind for e in self.events]

    def transcript(self) -> str:
        """The call as readable lines."""
        return "\n".join(e.line() for e in self.events)


def sign(token: str, url: str, form: dict[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send for this URL and form."""
    return RequestValidator(token).compute_signature(url, form)


def flask_transport(client: Any) -> Transport:
    """Post through a Flask test client (``app.test_client()``)."""
    def post(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        parts = urlsplit(url)
        resp = client.post(parts.path + (f"?{parts.query}" if parts.query else ""), data=form, headers=headers,
                           base_url=f"{parts.scheme}://{parts.netloc}")
        return resp.status_code, resp.get_data(as_text=True)
    return post


def http_transport(timeout: float = 15.0) -> Transport:
    """Post over HTTP with requests (for a running app)."""
    import requests

    session = requests.Session()

    def post(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        resp = session.post(url, data=form, headers=headers, timeout=timeout)
        return resp.status_code, resp.text
    return post


class CallSimulator:
    """Plays one caller: ``run(["hi", "my heat is out"])`` returns a CallResult."""

    def __init__(self, transport: Transport, *, auth_token: str, base_url: str = "http://localhost",
                 to: str = "+15125550100", caller: str = "+15125550123", call_sid: str | None = None,
                 dial_status: str = "completed", extra_form: dict[str, str] | None = None,
                 confidence: str = "0.92") -> None:
        self.transport = transport
        self.token = auth_token
        self.base = base_url.rstrip("/")
        self.to = to
        self.caller = caller
        self.call_sid = call_sid or "CA" + secrets.token_hex(16)
        self.dial_status = dial_status
        self.extra = dict(extra_form or {})
        self.confidence = confidence

    def form(self, **fields: str) -> dict[str, str]:
        """The parameters Twilio sends with every voice webhook, plus ``fields``."""
        base = {"CallSid": self.call_sid, "AccountSid": "AC" + "0" * 32, "From": self.caller, "To": self.to,
                "Caller": self.caller, "Called": self.to, "Direction": "inbound", "ApiVersion": "2010-04-01",
                "CallStatus": "in-progress", "FromCountry": "US", "ToCountry": "US"}
        base.update(self.extra)
        base.update(fields)
        return base

    def post(self, result: CallResult, url: str, form: dict[str, str]) -> tuple[int, str]:
        """Sign and send one webhook."""
        headers = {"X-Twilio-Signature": sign(self.token, url, form),
                   "I-Twilio-Idempotency-Token": secrets.token_hex(12)}
        status, body = self.transport(url, form, headers)
        result.exchanges.append((url, form, status, body))
        return status, body

    def run(self, utterances: Iterable[str], *, status_callback: bool = True) -> CallResult:
        """Place the call, say each utterance when the app listens, and hang up when it is over."""
        result = CallResult(self.call_sid)
        queue = list(utterances)
        url = f"{self.base}/voice"
        status, body = self.post(result, url, self.form(CallStatus="ringing"))
        for _ in range(MAX_STEPS):
            if status != 200:
                result.events.append(Event("http-error", f"HTTP {status}", {"body": body[:200]}))
                break
            nxt = self._follow(result, url, body, queue)
            if nxt is None:
                break
            url, form = nxt
            status, body = self.post(result, url, form)
        if status_callback:
            self.post(result, f"{self.base}/voice/status", self.form(CallStatus="completed", CallDuration="42"))
        result.events.append(Event("end", "call over"))
        return result

    def _follow(self, result: CallResult, url: str, body: str, queue: list[str]) -> tuple[str, dict[str, str]] | None:
        """Act out one TwiML document; returns the next request to make, or None when the call ends."""
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            result.events.append(Event("http-error", f"invalid TwiML: {exc}"))
            return None
        for verb in root:
            if verb.tag == "Say":
                result.events.append(Event("say", verb.text or "", {"voice": verb.get("voice")}))
            elif verb.tag == "Gather":
                for inner in verb:
                    if inner.tag == "Say":
                        result.events.append(Event("say", inner.text or ""))
                result.events.append(Event("listen", "", {"barge_in": "no" if not list(verb) else None}))
                if not queue:
                    result.events.append(Event("hangup", "caller hangs up"))
                    return None
                words = queue.pop(0)
                action = urljoin(url, verb.get("action") or url)
                if words.strip().lower() in SILENCE:
                    result.events.append(Event("caller", "(silence)"))
                    return action, self.form()
                result.events.append(Event("caller", words))
                return action, self.form(SpeechResult=words, Confidence=self.confidence)
            elif verb.tag == "Dial":
                target = next(iter(verb), None)
                result.events.append(Event("dial", (target.text or "").strip() if target is not None else "",
                                           {"type": target.tag if target is not None else "",
                                            "callerId": verb.get("callerId")}))
                action = verb.get("action")
                if not action:
                    return None
                return urljoin(url, action), self.form(DialCallStatus=self.dial_status, DialCallDuration="30")
            elif verb.tag == "Enqueue":
                result.events.append(Event("enqueue", (verb.text or "").strip()))
                action = verb.get("action")
                queue_result = "bridged" if self.dial_status == "completed" else "hangup" \
                    if self.dial_status == "hangup" else "leave"
                if not action:
                    return None
                return urljoin(url, action), self.form(QueueResult=queue_result)
            elif verb.tag == "Redirect":
                return urljoin(url, (verb.text or "").strip()), self.form()
            elif verb.tag == "Hangup":
                result.events.append(Event("hangup", "agent hangs up"))
                return None
        result.events.append(Event("hangup", "end of TwiML"))
        return None


__all__ = ["CallSimulator", "CallResult", "Event", "flask_transport", "http_transport", "sign", "SILENCE"]
