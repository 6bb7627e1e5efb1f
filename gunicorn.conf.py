"""gunicorn settings (Procfile: ``gunicorn -c gunicorn.conf.py app:app``)."""

import multiprocessing
import os
import shutil

# Prometheus multiprocess mode: every worker writes its samples here; /metrics merges them.
# Set before any worker imports the app, and emptied when the server starts.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                      os.path.join(os.environ.get("DATA_DIR", "var/data"), "prometheus-%d" % os.getpid()))

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


def when_ready(server):
    """Say loudly at start when Twilio's signatures are not checked, or cannot be."""
    from settings import Settings
    from voice import signature_warning

    message = signature_warning(Settings.from_env())
    if message:
        server.log.warning(message)


def on_starting(server):
    """Start with an empty metrics directory (old workers' files would be counted again)."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    """Tell prometheus_client a worker is gone."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove this server's metrics files."""
    shutil.rmtree(os.environ.get("PROMETHEUS_MULTIPROC_DIR", ""), ignore_errors=True)
