"""The Flask application factory, and ``app`` for gunicorn (``gunicorn app:app``)."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, Mapping

from flask import Flask, jsonify, request, url_for
from twilio.request_validator import RequestValidator
from werkzeug.middleware.proxy_fix import ProxyFix

from settings import Settings

log = logging.getLogger("voiceagent")


def _warn_unsigned() -> None:
    banner = ("!" * 78 + "\n!! VALIDATE_TWILIO_SIGNATURE is off: anyone can post fake calls to this app.\n"
              "!! Use this for local development only; never in production.\n" + "!" * 78)
    log.warning("Twilio signature validation is OFF (VALIDATE_TWILIO_SIGNATURE=false)")
    print(banner, file=sys.stderr, flush=True)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then ``config`` overrides, then backends and blueprints."""
    app = Flask(__name__)
    settings = Settings.from_env().override(config)
    app.config["SETTINGS"] = settings
    app.config["TESTING"] = bool(settings.extra.get("TESTING", False))
    app.config["MAX_CONTENT_LENGTH"] = 4 * 1024 * 1024  # no admin document or webhook is anywhere near this
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if settings.TRUSTED_PROXY_HOPS > 0:
        hops = settings.TRUSTED_PROXY_HOPS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops,  # type: ignore[method-assign]
                                x_prefix=hops)
    if not settings.VALIDATE_TWILIO_SIGNATURE:
        _warn_unsigned()
    elif not settings.TWILIO_AUTH_TOKEN:
        log.warning("TWILIO_AUTH_TOKEN is not set: every Twilio webhook will be refused (403)")

    from records.backend import ensure_indexes, open_docstore, open_redis
    from records.catalog import Catalog
    from session.store import SessionStore
    from conversation.pipeline import VoiceService

    from infra.breaker import Breaker, GuardedDatabase, GuardedRedis
    from records.outbox import Outbox

    clock = settings.extra.get("CLOCK") or time.time
    cooldown = float(settings.extra.get("BREAKER_COOLDOWN", 2.0))
    db = GuardedDatabase(open_docstore(settings.MONGODB_URI, settings.DATA_DIR),
                         Breaker("document store", cooldown=cooldown))
    raw_redis = open_redis(settings.REDIS_URL)
    redis = GuardedRedis(raw_redis, Breaker("Redis", cooldown=cooldown)) if raw_redis is not None else None
    from monitoring.alerts import AlertEngine
    from monitoring import metrics

    alerts = AlertEngine(db, redis, clock=clock, webhook_url=settings.ALERT_WEBHOOK_URL,
                         interval=float(settings.extra.get("ALERT_EVAL_S", 15.0)))

    def on_compile(ok: bool, seconds: float | None) -> None:
        metrics.compiled(ok, seconds)
        alerts.compiled(ok, seconds)

    def on_redis(ok: bool) -> None:
        metrics.redis_call(ok)
        alerts.redis_call(ok)

    catalog = Catalog(db, clock=clock, redis=redis, on_compile=on_compile)
    outbox = Outbox(os.path.join(settings.DATA_DIR, "outbox", "calllog-outbox.sqlite3"))
    store = SessionStore(db, redis, clock=clock, outbox=outbox,
                         flush_interval=float(settings.extra.get("OUTBOX_FLUSH_S", 1.0)),
                         on_fallback=metrics.fallback, on_redis=on_redis)

    prefixes: dict[tuple[str, str], str] = {}

    def absolute(endpoint: str, *, seq: int) -> str:
        """The URL of a voice route for a turn (url_for once per endpoint and mount point)."""
        key = (endpoint, request.script_root)
        prefix = prefixes.get(key)
        if prefix is None:
            path = url_for(endpoint, seq=0)
            prefix = path[: -len("0")]
            if settings.PUBLIC_BASE_URL:
                prefix = settings.PUBLIC_BASE_URL.rstrip("/") + prefix
            prefixes[key] = prefix
        return f"{prefix}{seq}"

    app.extensions["docstore"] = db
    app.extensions["redis"] = redis
    app.extensions["catalog"] = catalog
    app.extensions["sessions"] = store
    from conversation.notify import Notifier

    notifier = Notifier(db, account_sid=settings.TWILIO_ACCOUNT_SID, auth_token=settings.TWILIO_AUTH_TOKEN,
                        clock=clock, sleep=settings.extra.get("SLEEP") or time.sleep)
    app.extensions["notifier"] = notifier
    from conversation.llm import LLMTier, parse_costs

    llm = (LLMTier(settings.LLM_URL, api_key=settings.LLM_API_KEY, model=settings.LLM_MODEL,
                   timeout=settings.LLM_TIMEOUT_S) if settings.LLM_URL else None)
    app.extensions["voice"] = VoiceService(catalog, store, clock=clock, url_for=absolute, notifier=notifier,
                                           llm=llm, costs=parse_costs(settings.TIER_COSTS))
    app.extensions["voice"].alerts = alerts
    app.extensions["alerts"] = alerts
    app.extensions["twilio_validator"] = (RequestValidator(settings.TWILIO_AUTH_TOKEN)
                                          if settings.TWILIO_AUTH_TOKEN else None)

    try:
        ensure_indexes(db)
        seed = settings.extra.get("SEED_DEMO", not settings.MONGODB_URI)
        if seed:
            from admin.importer import seed_demo

            seed_demo(catalog)
        catalog.warm()
        if outbox.count() > 0:  # a previous process left call-log writes behind: replay them
            store._start_flusher()
    except Exception as exc:  # noqa: BLE001 - a store that is down must not stop the app from answering
        log.error("start-up store work failed (the app still answers calls): %s", exc)

    from admin.api import bp as admin_bp
    from admin.cli import calls_cli, company_cli, policy_cli, simulate_command
    from voice.routes import bp as voice_bp

    app.register_blueprint(voice_bp)
    app.register_blueprint(admin_bp)
    app.cli.add_command(policy_cli)
    app.cli.add_command(company_cli)
    app.cli.add_command(simulate_command)
    app.cli.add_command(calls_cli)

    @app.get("/metrics")
    def metrics_view() -> Any:
        body, content_type = metrics.exposition()
        return app.response_class(body, mimetype=content_type.split(";")[0], headers={"Content-Type": content_type})

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> Any:
        backends = store.backends()
        down = [k for k, v in backends.items() if str(v).startswith("down")]
        breakers = {"docstore": db.breaker.state, "redis": redis.breaker.state if redis is not None else None}
        return jsonify(status="degraded" if down else "ok", backends=backends, breakers=breakers,
                       outbox_pending=outbox.count(),
                       policies=catalog.serving, policy_errors=catalog.errors,
                       signature_validation=settings.VALIDATE_TWILIO_SIGNATURE,
                       session_hits=store.hits)

    return app


def __getattr__(name: str) -> Any:
    """``app`` is built on first use (gunicorn, ``flask run``), not when tests import this module."""
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
