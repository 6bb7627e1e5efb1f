"""The Flask application factory, and ``app`` for gunicorn (``gunicorn app:app``)."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask, jsonify

from settings import Settings


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then ``config`` overrides, then blueprints."""
    app = Flask(__name__)
    settings = Settings.from_env().override(config)
    app.config["SETTINGS"] = settings
    app.config["TESTING"] = bool(settings.extra.get("TESTING", False))

    from admin.cli import policy_cli

    app.cli.add_command(policy_cli)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    return app


app = create_app()
