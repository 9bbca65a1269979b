"""Run the portal's RQ worker (with the scheduler): `python worker.py`."""

from app import create_app
from app.tasks.worker import run_worker

if __name__ == "__main__":
    run_worker(create_app())
