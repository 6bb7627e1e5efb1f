"""Shared fixtures: a company, turn contexts at fixed times, the app and its CLI runner."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import policy

ROOT = Path(__file__).resolve().parents[1]
CHICAGO = ZoneInfo("America/Chicago")

COMPANY: dict[str, Any] = {
    "id": "acme-hvac",
    "name": "Acme Heating",
    "numbers": ["+15125550100"],
    "timezone": "America/Chicago",
    "businessHours": {"mon": ["08:00", "17:00"], "tue": ["08:00", "17:00"], "wed": ["08:00", "17:00"],
                      "thu": ["08:00", "17:00"], "fri": ["08:00", "17:00"], "sat": None},
    "trade": "HVAC",
    "variables": {"companyname": "Acme Heating", "phone": "+1 512 555 0100",
                  "emergencyPhone": "+1 512 555 0199", "diagnosticFee": "$89"},
    "urlWhitelist": ["acme.example"],
    "contacts": {"dispatch": {"phone": "+15125550101"}, "billing": {"queue": "billing"},
                 "manager": {"sip": "sip:manager@acme.example"}},
}

#: Monday 2026-01-05 10:00 in Chicago: open.
OPEN = datetime(2026, 1, 5, 10, 0, tzinfo=CHICAGO)
#: Monday 2026-01-05 21:30 in Chicago: closed.
CLOSED = datetime(2026, 1, 5, 21, 30, tzinfo=CHICAGO)


@pytest.fixture
def company() -> dict[str, Any]:
    """A fresh copy of the test company document."""
    return copy.deepcopy(COMPANY)


def ctx(**kw: Any) -> policy.TurnContext:
    """A turn context for the test company; override any keyword."""
    kw.setdefault("company", COMPANY)
    kw.setdefault("now", OPEN)
    return policy.TurnContext(**kw)


def compile_(**sheet: Any) -> policy.CompiledPolicy:
    """Compile a cheat sheet given as keyword arguments (guardrails default to none for focus)."""
    sheet.setdefault("guardrails", [])
    return policy.compile_cheatsheet(sheet)


def edge(id: str, match: dict[str, Any], action: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    """An edge case document."""
    return {"id": id, "name": id.replace("-", " "), "match": match,
            "action": action or {"type": "override_response", "inlineResponse": f"override {id}"}, **kw}


TOKEN = "test-auth-token-0123456789abcdef"
ADMIN = "test-admin-token"


class Clock:
    """A settable clock (epoch seconds) injected into the app."""

    def __init__(self, when: datetime = OPEN) -> None:
        self.t = when.timestamp()

    def __call__(self) -> float:
        return self.t

    def set(self, when: datetime) -> None:
        self.t = when.timestamp()


def make_app(data_dir: Path | str, **config: Any):
    """An app on its own embedded store (and Redis when REDIS_URL is given), signing on, demo seeded."""
    from app import create_app

    base = {"TESTING": True, "DATA_DIR": str(data_dir), "TWILIO_AUTH_TOKEN": TOKEN, "ADMIN_TOKEN": ADMIN,
            "REDIS_URL": "", "MONGODB_URI": "", "VALIDATE_TWILIO_SIGNATURE": True, "SEED_DEMO": True,
            "PUBLIC_BASE_URL": "", "TRUSTED_PROXY_HOPS": 0, "CLOCK": Clock(), "ALERT_EVAL_S": 0,
            # Learning's batches in the test process (tests/test_learning_process.py and the gunicorn tests use
            # its own process): hundreds of short-lived apps need no child each.
            "LEARNING_PROCESS": False}
    base.update(config)
    return create_app(base)


@pytest.fixture
def app(tmp_path):
    """The Flask app in testing mode, on a fresh embedded store with the demo company."""
    return make_app(tmp_path / "data")


@pytest.fixture
def runner(app):
    """The app's CLI runner (``flask ...`` commands)."""
    return app.test_cli_runner()


# --- Redis: a real redis-server started by the tests on a free loopback port -----------------

def free_port() -> int:
    """A TCP port nobody listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server process (never the machine's own on 6379)."""

    def __init__(self, directory: Path) -> None:
        import shutil

        self.binary = shutil.which("redis-server")
        if not self.binary:
            pytest.fail("redis-server is not installed (.ci/run installs it)")
        self.dir = directory
        self.port = free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        import subprocess
        import time

        import redis

        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_timeout=0.2)
        for _ in range(200):
            try:
                client.ping()
                return self
            except redis.RedisError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """One redis-server for the whole run (flushed per test by ``redis_url``)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server) -> str:
    """The shared test redis-server's URL, emptied for this test."""
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own (it may kill and restart it)."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()
