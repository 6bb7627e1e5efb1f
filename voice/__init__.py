"""The Twilio channel: webhook routes, signature checks, form -> typed input, reply -> TwiML, the simulator."""

from __future__ import annotations

import logging
import sys
from typing import Any

from flask import Flask, request, url_for
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)


class CallbackUrls:
    """The absolute URLs Twilio calls back for a turn (built once per endpoint and mount point)."""

    def __init__(self, public_base_url: str) -> None:
        self.public_base_url = public_base_url.rstrip("/")
        self._prefixes: dict[tuple[str, str], str] = {}

    def _url(self, endpoint: str, seq: int) -> str:
        key = (endpoint, request.script_root)
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = url_for(endpoint, seq=0)[: -len("0")]
            if self.public_base_url:
                prefix = self.public_base_url + prefix
            self._prefixes[key] = prefix
        return f"{prefix}{seq}"

    def turn(self, seq: int) -> str:
        """The Gather action for turn ``seq``."""
        return self._url("voice.turn", seq)

    def dial(self, seq: int) -> str:
        """The Dial action for turn ``seq``."""
        return self._url("voice.dial_result", seq)


def signature_warning(settings: Any) -> str | None:
    """What is wrong with the signature set-up, if anything (said when webhooks are served)."""
    if not settings.VALIDATE_TWILIO_SIGNATURE:
        return ("!" * 78 + "\n!! VALIDATE_TWILIO_SIGNATURE is off: anyone can post fake calls to this app.\n"
                "!! Use this for local development only; never in production.\n" + "!" * 78)
    if not settings.TWILIO_AUTH_TOKEN:
        return "TWILIO_AUTH_TOKEN is not set: every Twilio webhook will be refused (403)"
    return None


def warn_once(app: Flask) -> None:
    """Say it loudly, once per process, when this process first serves a webhook (not for staff commands)."""
    message = app.extensions.pop("voice_warning", None)
    if message:
        log.warning("%s", message.replace("!", "").strip())
        print(message, file=sys.stderr, flush=True)


def init_app(app: Flask, settings: Any) -> None:
    """Register the webhooks and ``flask simulate``; set up signature checks."""
    from .cli import simulate_command
    from .routes import bp

    warning = signature_warning(settings)
    if not settings.VALIDATE_TWILIO_SIGNATURE:  # explicit development mode: loudly, at once
        print(warning, file=sys.stderr, flush=True)
        log.warning("Twilio signature validation is OFF (VALIDATE_TWILIO_SIGNATURE=false)")
    else:  # a missing token matters when webhooks are served, not to staff commands
        app.extensions["voice_warning"] = warning
    app.extensions["twilio_validator"] = (RequestValidator(settings.TWILIO_AUTH_TOKEN)
                                          if settings.TWILIO_AUTH_TOKEN else None)
    app.extensions["voice_urls"] = CallbackUrls(settings.PUBLIC_BASE_URL)
    app.register_blueprint(bp)
    app.cli.add_command(simulate_command)


__all__ = ["init_app", "CallbackUrls", "signature_warning", "warn_once"]
