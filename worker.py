"""Run the portal's RQ worker (with the scheduler): `python worker.py`."""

from app import create_app
from app.tasks.worker import run_worker

if __name__ == "__main__":
    # Only worker processes may load the private signing keys.
    run_worker(create_app(PROCESS_ROLE="worker"))
