"""The floor for bench/load.py under gunicorn: Flask, the same signature check, precomputed TwiML.

Served by gunicorn as ``bench.bare_app:app`` (``TWILIO_AUTH_TOKEN`` from the environment).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask, Response, request  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from conversation.types import Listening  # noqa: E402
from voice import twiml  # noqa: E402
from voice.security import signature_ok  # noqa: E402

app = Flask("bare")
_validator = RequestValidator(os.environ.get("TWILIO_AUTH_TOKEN", ""))
_BODY = twiml.respond("Ok, our office hours are 8 a.m. to 5 p.m. on weekdays. What can I do for you?",
                      action_url="/voice/turn?seq=2", listening=Listening(hints="furnace, no heat"))


@app.post("/voice", defaults={"rest": ""})
@app.post("/voice/<path:rest>")
def voice(rest: str) -> Response:
    """Check the signature as the app does, answer with the same-sized TwiML."""
    if not signature_ok(_validator, request.url, request.form, request.headers.get("X-Twilio-Signature", "")):
        return Response("forbidden", status=403)
    return Response(_BODY, mimetype="text/xml")


@app.get("/readyz")
def readyz() -> Response:
    """Ready."""
    return Response("{}", mimetype="application/json")
