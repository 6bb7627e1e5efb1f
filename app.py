"""The Flask application factory (the composition root), and ``app`` for gunicorn (``gunicorn app:app``)."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import admin
import conversation
import learning
import monitoring
import records
import session
import voice
from infra.observe import Observers
from infra.redis import open_redis
from records.backend import guarded_docstore
from records.calllog import SnapshotTier
from settings import Settings

#: No admin document or webhook is anywhere near this.
MAX_CONTENT_LENGTH = 4 * 1024 * 1024


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings (environment, then ``config``), the backends, then each package in layer order."""
    settings = Settings.from_env().override(config)
    app = Flask(__name__)
    app.config.update(SETTINGS=settings, TESTING=settings.TESTING, MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.TRUSTED_PROXY_HOPS > 0:
        hops = settings.TRUSTED_PROXY_HOPS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,  # type: ignore[method-assign]
                                x_port=hops, x_prefix=hops)

    redis = open_redis(settings.REDIS_URL, cooldown=settings.BREAKER_COOLDOWN)
    db = guarded_docstore(settings.MONGODB_URI, settings.DATA_DIR, cooldown=settings.BREAKER_COOLDOWN)
    observer = monitoring.init_app(app, settings, db=db, redis=redis)
    records.init_app(app, settings, db=db, redis=redis, observer=observer)
    # An opening CANARY_REGRESSION judges every running rollout at once (each on its own calls).
    app.extensions["alerts"].on_fire["CANARY_REGRESSION"] = app.extensions["rollouts"].tick_all
    session.init_app(app, settings, l2=SnapshotTier(app.extensions["call_log"]), redis=redis, observer=observer)
    feed = learning.init_app(app, settings, db=db, redis=redis)
    # Every recorded turn goes to monitoring and to learning's feed (which works off the caller's path).
    conversation.init_app(app, settings, observer=Observers(observer, feed) if feed else observer)
    voice.init_app(app, settings)
    admin.init_app(app, settings)
    records.warm(app)
    return app


def __getattr__(name: str) -> Any:
    """``app`` is built on first use (gunicorn, ``flask run``), not when tests import this module."""
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
