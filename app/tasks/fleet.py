"""Fleet housekeeping jobs."""

from __future__ import annotations

import logging

from app.fleet.checkin import flush_last_seen
from app.fleet.orders import expire_overdue

log = logging.getLogger(__name__)


def persist_last_seen() -> int:
    """Write buffered agent check-in times to the database."""
    return flush_last_seen()


def expire_orders() -> int:
    """Expire orders that were not picked up or answered in time."""
    expired = expire_overdue()
    if expired:
        log.info("expired %d overdue order(s)", expired)
    return expired
