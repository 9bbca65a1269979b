"""gunicorn settings for the portal, in production and under `make run` (gunicorn reads
this file from the working directory; or pass `-c /path/to/gunicorn.conf.py`):

    gunicorn -b 0.0.0.0:8000 "app:create_app()"

gevent workers: every FlexxAgent of a fleet sits in a long poll all day, and a parked poll
must cost a greenlet (memory), not a thread. gevent patches the standard library when a
worker starts, so psycopg 3 (cooperative under gevent since 3.1.14), redis-py and the
connection pools all yield instead of blocking. Nothing of the app is imported here (the
master must not import it before a worker patches), so the values are read by loading
`app/config.py` on its own; they are documented in README (Production layout).
"""

import glob
import importlib.util
import os
import sys
import tempfile

_spec = importlib.util.spec_from_file_location(
    "portal_server_config",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "app", "config.py"),
)
_config = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _config
_spec.loader.exec_module(_config)
_settings = _config.web_server_settings()

# Prometheus multiprocess mode: each worker writes its metrics here; a scrape of any
# worker adds them up. A fresh folder per server unless the deployment names one.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="portal-metrics-")
for _stale in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
    os.remove(_stale)


def child_exit(server, worker):
    """A dead worker's live gauges (parked polls, connections in use) stop counting.
    (prometheus-client's mark_process_dead, without importing it into the master.)"""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    for path in glob.glob(os.path.join(directory, f"gauge_live*_{worker.pid}.db")):
        os.remove(path)


# psycopg 3 under gevent picks a poll()-based wait that answered ~5x slower here than its
# selectors-based one (measured with bench/checkin.py); the deployment may still choose.
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")

worker_class = "gevent"
workers = _settings.workers
worker_connections = _settings.worker_connections
keepalive = _settings.keepalive
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
# Each worker imports the app itself, after gevent has patched it.
preload_app = False
