"""Helpers for webhook tests: signed posts, TwiML parsing, whole simulated calls."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any, Callable

from twilio.request_validator import RequestValidator

from records.writer import land_deferred
from tests.conftest import TOKEN
from voice.simulator import CallSimulator, flask_transport

BASE = "http://localhost"


def form(call_sid: str = "CA" + "1" * 32, **fields: str) -> dict[str, str]:
    """A Twilio voice webhook form for the demo company."""
    base = {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "From": "+15125550123", "To": "+15125550100",
            "Direction": "inbound", "CallStatus": "in-progress", "ApiVersion": "2010-04-01"}
    base.update(fields)
    return base


def signed_post(client: Any, path: str, data: dict[str, str], *, token: str = TOKEN, base: str = BASE,
                headers: dict[str, str] | None = None, sign_url: str | None = None):
    """POST a webhook signed the way Twilio signs it."""
    url = sign_url or base + path
    sig = RequestValidator(token).compute_signature(url, data)
    return client.post(path, data=data, base_url=base, headers={"X-Twilio-Signature": sig, **(headers or {})})


def twiml(resp: Any) -> ET.Element:
    """The parsed TwiML of a response (asserts it is 200 text/xml)."""
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "text/xml"
    return ET.fromstring(resp.get_data(as_text=True))


def said(root: ET.Element) -> list[str]:
    """Every Say text in a TwiML document, in order."""
    return [el.text or "" for el in root.iter("Say")]


def call(app: Any, *utterances: str, **kw: Any):
    """Play a whole call against the app in-process; returns the CallResult."""
    sim = CallSimulator(flask_transport(app.test_client()), auth_token=kw.pop("token", TOKEN), **kw)
    return sim.run(list(utterances))


def calls_coll(app: Any):
    """The call log collection of the app's store (the turns this process's apps answered all landed)."""
    land_deferred()
    return app.extensions["docstore"]["calls"]


def turns_coll(app: Any):
    """The turns collection of the app's store (the turns this process's apps answered all landed)."""
    land_deferred()
    return app.extensions["docstore"]["turns"]


def eventually(read: Callable[[], Any], expected: Any, timeout: float = 5.0) -> Any:
    """``read()`` once it equals ``expected`` (another process lands a turn's writes just after answering it),
    or its last value when ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    while True:
        got = read()
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def activate_sheet(app: Any, sheet: dict[str, Any], company: str = "demo-hvac") -> int:
    """Save, compile and activate a cheat sheet for a company; returns its version."""
    catalog = app.extensions["catalog"]
    version = catalog.policies.save_draft(company, sheet)
    catalog.policies.compile_latest(company, owner="test")
    catalog.policies.activate(company, version)
    return version
