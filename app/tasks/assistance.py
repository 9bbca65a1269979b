"""Remote assistance jobs: each takes an assistance id (never a secret) and calls a service."""

from __future__ import annotations

import logging

from app.assistance import notices, signing, sweeper

log = logging.getLogger(__name__)


def sign_due_files() -> int:
    """Sign every activation file that is due (one job for a whole burst)."""
    return signing.sign_all_due()


def sweep_assistances() -> dict[str, int]:
    counts = sweeper.sweep()
    if any(counts.values()):
        log.info("assistance sweep: %s", counts)
    return counts


def notify_approvers(assistance_id: int) -> int:
    """E-mail the members who may decide on a new approval request."""
    return notices.tell_approvers(assistance_id)


def notify_requester(assistance_id: int) -> bool:
    """E-mail the requester what became of their request."""
    return notices.tell_requester(assistance_id)
