"""What keeps the system running: periodic tasks (whose next run the database holds, so
whichever worker is alive runs it) and worker heartbeats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class PeriodicTask(Base):
    """One periodic task. A worker runs it by moving `next_run_at` forward with a
    compare-and-set UPDATE, so each run is claimed once across every worker."""

    __tablename__ = "periodic_tasks"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    next_run_at: Mapped[datetime]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_outcome: Mapped[str] = mapped_column(String(20), default="")
    last_error: Mapped[str] = mapped_column(String(200), default="")
    run_by: Mapped[str] = mapped_column(String(120), default="")


class WorkerHeartbeat(Base):
    """A worker process saying it is alive (readiness checks look for a recent one)."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime] = mapped_column(index=True)
