"""Housekeeping jobs."""

from __future__ import annotations

import logging

from app.audit.retention import prune_all
from app.people.signin import prune_expired_sessions

log = logging.getLogger(__name__)


def prune_sessions() -> int:
    """Delete sign-in sessions that expired or ended."""
    removed = prune_expired_sessions()
    log.info("pruned %d expired sign-in session(s)", removed)
    return removed


def prune_audit_log() -> int:
    """Delete audit events past each organization's retention, behind a checkpoint."""
    removed = prune_all()
    if removed:
        log.info("pruned %d audit event(s) past retention", removed)
    return removed


def prune_worker_heartbeats() -> int:
    """Forget workers not seen for a day."""
    from app.core.periodic import prune_heartbeats

    return prune_heartbeats()
