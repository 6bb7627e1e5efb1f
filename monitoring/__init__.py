"""Monitoring: Prometheus metrics, the five alerts, health and readiness.

``init_app`` builds the ``Monitor`` (the observer every lower layer reports to), the alert
engine, and the ``/metrics``, ``/healthz`` and ``/readyz`` routes. Other packages add their
part of the readiness report with ``health.add``.
"""

from __future__ import annotations

from typing import Any, Mapping

from flask import Blueprint, Flask, current_app, jsonify

from records.locks import Locks

from . import metrics
from .alerts import AlertEngine
from .health import Health

bp = Blueprint("monitoring", __name__)


class Monitor:
    """The observer: every event goes to the Prometheus metrics and the alert windows (never raises)."""

    def __init__(self, alerts: AlertEngine) -> None:
        self.alerts = alerts

    def turn(self, record: Mapping[str, Any]) -> None:
        """Count a recorded turn."""
        metrics.observe_turn(record)
        self.alerts.observe_turn(record)

    def compiled(self, ok: bool, seconds: float | None) -> None:
        """Count a compile."""
        metrics.compiled(ok, seconds)
        self.alerts.compiled(ok, seconds)

    def redis_call(self, ok: bool) -> None:
        """Count a Redis session call."""
        metrics.redis_call(ok)
        self.alerts.redis_call(ok)

    def fallback(self, backend: str) -> None:
        """Count a backend failure a lower tier covered."""
        metrics.fallback(backend)

    def arm_error(self, arm: str, kind: str, *, turn: bool = False) -> None:
        """Count an arm's error known after its turn (a hang-up, a failed dial, the webhook's fallback)."""
        metrics.arm_error_late(arm, kind, turn=turn)
        self.alerts.arm_error(arm, kind, turn=turn)

    def rolled_back(self, figures: Mapping[str, Any]) -> None:
        """A rollout was rolled back: count it; an automatic one fires CANARY_REGRESSION."""
        by = "auto" if figures.get("by") == "auto" else "staff"
        metrics.rolled_back(by)
        if by == "auto":
            self.alerts.regression(figures)


@bp.get("/metrics")
def metrics_view() -> Any:
    """Prometheus exposition (merged across gunicorn workers)."""
    body, content_type = metrics.exposition(current_app.config["SETTINGS"].PROMETHEUS_MULTIPROC_DIR)
    return current_app.response_class(body, mimetype=content_type.split(";")[0],
                                      headers={"Content-Type": content_type})


@bp.get("/healthz")
def healthz() -> Any:
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Any:
    """Backends, breakers, the outbox and the policies this process serves; ``degraded`` when a backend is down."""
    return jsonify(current_app.extensions["health"].report())


def init_app(app: Flask, settings: Any, *, db: Any, redis: Any | None) -> Monitor:
    """Build the alert engine and the observer, and register the monitoring routes."""
    alerts = AlertEngine(db, redis, locks=Locks(db, clock=settings.CLOCK), clock=settings.CLOCK,
                         webhook_url=settings.ALERT_WEBHOOK_URL, interval=settings.ALERT_EVAL_S)
    monitor = Monitor(alerts)
    health = Health()
    health.add("breakers", lambda: {"docstore": db.breaker.state,
                                    "redis": redis.breaker.state if redis is not None else None})
    health.add("signature_validation", lambda: settings.VALIDATE_TWILIO_SIGNATURE)
    app.extensions.update(alerts=alerts, monitor=monitor, health=health)
    app.register_blueprint(bp)
    return monitor


__all__ = ["init_app", "Monitor", "Health"]
