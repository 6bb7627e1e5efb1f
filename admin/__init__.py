"""Staff-facing HTTP and CLI: the admin API (companies, cheat sheets, rollouts, forensics, alerts, its OpenAPI
document), the staff console (``console/``) and commands."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)


def init_app(app: Flask, settings: Any) -> None:
    """Register the admin API and the staff commands; load the demo company when asked."""
    from . import calls, companies, console, learning, openapi, packs, rollout  # noqa: F401 - their routes register on bp
    from .api import bp
    from .cli import calls_cli, company_cli, policy_cli
    from .learning_cli import learning_cli
    from .importer import seed_demo
    from .rollout_cli import rollout_cli

    app.register_blueprint(bp)
    console.init_app(app, settings)
    for group in (policy_cli, company_cli, calls_cli, learning_cli, rollout_cli):
        app.cli.add_command(group)
    if settings.seed_demo:
        try:
            seed_demo(app.extensions["catalog"])
        except Exception as exc:  # noqa: BLE001 - a store that is down must not stop the app from answering
            log.error("could not load the demo company (the app still answers calls): %s", exc)


__all__ = ["init_app"]
