"""Twilio's webhooks: thin routes that check the signature, parse the form, call the conversation, render."""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, Response, current_app, request

from conversation import Conversation, Reply
from conversation.pipeline import FALLBACK_GOODBYE
from conversation.types import HANGUP, OutOfOrder

from . import channel, twiml
from . import warn_once
from .security import public_url, signature_ok

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")

#: Twilio sends at most a few KB; a larger body is not a Twilio webhook.
MAX_FORM_BYTES = 256 * 1024


def conversation() -> Conversation:
    """This app's conversation (built in create_app)."""
    return current_app.extensions["conversation"]


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml")


def _plain(message: str, status: int) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


def _render(reply: Reply) -> Response:
    urls = current_app.extensions["voice_urls"]
    return _xml(twiml.render(reply, turn_url=urls.turn, dial_url=urls.dial))


def _fallback() -> Response:
    """Safe TwiML whatever else is broken: a person to talk to, or an apology."""
    try:
        return _render(conversation().fallback((request.form.get("To") or "").strip(),
                                                (request.form.get("CallSid") or "").strip()))
    except Exception:  # noqa: BLE001
        log.exception("fallback failed too")
        return _xml(twiml.render(Reply(HANGUP, FALLBACK_GOODBYE), turn_url=str, dial_url=str))


def twilio_webhook(view: Callable[..., Response]) -> Callable[..., Response]:
    """Refuse requests without a valid Twilio signature (403, nothing written) and bad forms (400)."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        if "voice_warning" in current_app.extensions:
            warn_once(current_app)
        if (request.content_length or 0) > MAX_FORM_BYTES:
            return _plain("request body too large for a Twilio webhook", 413)
        settings = current_app.config["SETTINGS"]
        if settings.VALIDATE_TWILIO_SIGNATURE:
            url = public_url(public_base_url=settings.PUBLIC_BASE_URL, full_path=request.full_path,
                             request_url=request.url)
            if not signature_ok(current_app.extensions.get("twilio_validator"), url, request.form,
                                request.headers.get("X-Twilio-Signature", "")):
                log.warning("refused %s: bad or missing X-Twilio-Signature (url %s)", request.path, url)
                return _plain("invalid Twilio signature", 403)
        try:
            return view(*args, **kwargs)
        except (channel.BadRequest, OutOfOrder) as exc:
            return _plain(str(exc), 400)
        except Exception:  # noqa: BLE001 - a caller must never hear Twilio's "application error"
            log.exception("webhook %s failed; answering with the fallback", request.path)
            return _fallback()
    return wrapped


def _token() -> str | None:
    return request.headers.get("I-Twilio-Idempotency-Token") or None


def _seq() -> int:
    return channel.parse_seq(request.args.get("seq"))


@bp.post("")
@twilio_webhook
def incoming() -> Response:
    """The number's Voice URL: a new call."""
    return _render(conversation().start(channel.incoming(request.form, _token())))


@bp.post("/turn")
@twilio_webhook
def turn() -> Response:
    """The Gather action: the caller's words for turn ``seq``."""
    return _render(conversation().turn(channel.caller_turn(request.form, _seq(), _token())))


@bp.post("/dial-result")
@twilio_webhook
def dial_result() -> Response:
    """The Dial (or Enqueue) action: how the transfer went."""
    return _render(conversation().dial_result(channel.dial_outcome(request.form, _seq(), _token())))


@bp.post("/status")
@twilio_webhook
def status() -> Response:
    """The call status callback: finalize the call."""
    conversation().end(channel.call_ended(request.form))
    return _xml(twiml.empty())


@bp.post("/fallback")
@twilio_webhook
def fallback() -> Response:
    """Twilio's Fallback URL: safe TwiML whatever else is broken."""
    log.error("Twilio fallback for call %s: error %s at %s", request.form.get("CallSid"),
              request.form.get("ErrorCode"), request.form.get("ErrorUrl"))
    return _fallback()
