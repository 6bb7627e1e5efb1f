"""SMS to company contacts through Twilio's REST API, off the caller's path.

Each notification is first recorded in the ``notifications`` collection under a key made
of the call, the turn and the recipient, so a replayed turn never sends a second SMS.
Sending happens on a small thread pool after the TwiML is returned; failures are retried
a bounded number of times with backoff, recorded on the notification, and never reach
the call.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable

from pymongo.errors import DuplicateKeyError, PyMongoError

log = logging.getLogger(__name__)

MAX_BODY = 480
SMS_TIMEOUT_S = 5.0


def twilio_client(account_sid: str, auth_token: str) -> Any:
    """The helper library's REST client, with a short HTTP timeout."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    return Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=SMS_TIMEOUT_S))


class Notifier:
    """Queue and send SMS notifications idempotently, with bounded retries."""

    def __init__(self, db: Any, *, account_sid: str, auth_token: str, retries: int = 3,
                 backoff: tuple[float, ...] = (0.5, 1.0, 2.0), clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, workers: int = 2) -> None:
        self.notifications = db["notifications"]
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.retries = max(1, retries)
        self.backoff = backoff
        self.clock = clock
        self.sleep = sleep
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sms")
        self._pending: set[Future] = set()
        self._lock = threading.Lock()
        self._client: Any = None

    def client(self) -> Any:
        """The REST client, created on first use (after gunicorn forks)."""
        if self._client is None:
            self._client = twilio_client(self.account_sid, self.auth_token)
        return self._client

    def sms(self, key: str, *, to: str, from_: str | None, body: str, company_id: str | None,
            call_sid: str | None, kind: str) -> bool:
        """Record and queue one SMS; False when this key was already sent or queued (a replay)."""
        body = " ".join(body.split())[:MAX_BODY]
        doc = {"_id": key, "to": to, "from": from_, "body": body, "company_id": company_id, "call_sid": call_sid,
               "kind": kind, "status": "queued", "attempts": 0, "created_at": self.clock()}
        if not self.account_sid or not self.auth_token:
            doc.update(status="not_sent", error="TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed to send SMS")
        elif not from_:
            doc.update(status="not_sent", error="the company has no Twilio number to send from")
        try:
            self.notifications.insert_one(doc)
        except DuplicateKeyError:
            return False
        except PyMongoError as exc:
            log.error("notification %s not recorded (%s); sending anyway", key, exc)
        if doc["status"] != "queued":
            log.warning("SMS %s to %s not sent: %s", key, to, doc["error"])
            return True
        future = self._pool.submit(self._send, key, to, from_, body)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return True

    def _done(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def _send(self, key: str, to: str, from_: str, body: str) -> None:
        error = ""
        for attempt in range(1, self.retries + 1):
            try:
                message = self.client().messages.create(to=to, from_=from_, body=body)
            except Exception as exc:  # noqa: BLE001 - REST, network or client errors: retried, never fatal
                error = f"{exc.__class__.__name__}: {str(exc)[:300]}"
                log.warning("SMS %s attempt %d failed: %s", key, attempt, error)
                self._update(key, {"attempts": attempt, "error": error, "status": "retrying"})
                if attempt < self.retries:
                    self.sleep(self.backoff[min(attempt - 1, len(self.backoff) - 1)])
                continue
            self._update(key, {"attempts": attempt, "status": "sent", "sid": getattr(message, "sid", None),
                               "sent_at": self.clock()})
            return
        log.error("SMS %s to %s failed after %d attempts: %s", key, to, self.retries, error)
        self._update(key, {"status": "failed"})

    def _update(self, key: str, fields: dict[str, Any]) -> None:
        try:
            self.notifications.update_one({"_id": key}, {"$set": fields})
        except PyMongoError as exc:
            log.error("notification %s: status not recorded: %s", key, exc)

    def drain(self, timeout: float = 10.0) -> None:
        """Wait for queued SMS (tests, and a clean shutdown)."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)


__all__ = ["Notifier", "twilio_client"]
