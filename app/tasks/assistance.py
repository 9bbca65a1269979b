"""Remote assistance jobs: each takes an assistance id (never a secret) and calls a service."""

from __future__ import annotations

import logging

from app.assistance import lifecycle, signing

log = logging.getLogger(__name__)


def sign_activation_file(assistance_id: int) -> bool:
    return signing.sign_activation_file(assistance_id)


def expire_after_grace(assistance_id: int) -> bool:
    return lifecycle.expire_after_grace(assistance_id)


def sweep_assistances() -> dict[str, int]:
    counts = lifecycle.sweep()
    if any(counts.values()):
        log.info("assistance sweep: %s", counts)
    return counts
