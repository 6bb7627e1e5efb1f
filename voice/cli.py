"""``flask simulate``: play a caller against this app (in-process) or a running one (``--url``)."""

from __future__ import annotations

import json
import secrets
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from twilio.request_validator import RequestValidator

from .simulator import CallSimulator, flask_transport, http_transport


@click.command("simulate")
@click.argument("utterances", nargs=-1)
@click.option("--file", "script", type=click.File("r"), help="Utterances, one per line (blank line = silence).")
@click.option("--to", default="+15125550100", show_default=True, help="The company number called.")
@click.option("--from", "caller", default="+15125550123", show_default=True, help="The caller's number.")
@click.option("--url", default=None, help="A running app's base URL (default: this app, in-process).")
@click.option("--token", envvar="TWILIO_AUTH_TOKEN", default=None,
              help="Auth token to sign with (default: TWILIO_AUTH_TOKEN).")
@click.option("--dial-status", default="completed", show_default=True,
              type=click.Choice(["completed", "busy", "no-answer", "failed", "canceled"]),
              help="How a transfer goes.")
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
@with_appcontext
def simulate_command(utterances: tuple[str, ...], script: Any, to: str, caller: str, url: str | None,
                     token: str | None, dial_status: str, as_json: bool) -> None:
    """Play a caller: signed webhooks, follow the TwiML, print what the caller hears."""
    lines = list(utterances)
    if script is not None:
        lines += [ln.rstrip("\n") for ln in script]
    settings = current_app.config["SETTINGS"]
    if not url and not (token or settings.TWILIO_AUTH_TOKEN):
        # In-process with no account token configured: sign with a token made for this run, so the
        # signature check still runs for real (this CLI process owns its app).
        token = secrets.token_hex(16)
        current_app.extensions["twilio_validator"] = RequestValidator(token)
    token = token or settings.TWILIO_AUTH_TOKEN
    if url:
        sim = CallSimulator(http_transport(), auth_token=token, base_url=url, to=to, caller=caller,
                            dial_status=dial_status)
    else:
        sim = CallSimulator(flask_transport(current_app.test_client()), auth_token=token, to=to, caller=caller,
                            dial_status=dial_status)
    result = sim.run(lines)
    if as_json:
        click.echo(json.dumps({"call_sid": result.call_sid, "events": [e.__dict__ for e in result.events]},
                              indent=2))
    else:
        click.echo(f"call {result.call_sid}")
        click.echo(result.transcript())
    if any(e.kind == "http-error" for e in result.events):
        sys.exit(1)
