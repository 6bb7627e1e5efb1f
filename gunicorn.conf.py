"""gunicorn settings (Procfile: ``gunicorn -c gunicorn.conf.py app:app``)."""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(2, multiprocessing.cpu_count() * 2))))
worker_class = "sync"
# Twilio waits at most 15 s for a webhook; a worker stuck longer than that is of no use to a caller.
timeout = 20
graceful_timeout = 20
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
