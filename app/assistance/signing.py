"""Signing activation files (in the worker only: it alone holds the private key)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import audit
from app.core.jobs import QUEUE_SIGNING, enqueue_after_commit
from app.extensions import db
from app.models import Assistance, utcnow


def enqueue_signing(assistance_id: int) -> None:
    enqueue_after_commit(
        QUEUE_SIGNING,
        "app.tasks.assistance.sign_activation_file",
        assistance_id,
        job_id=f"sign-{assistance_id}",
        result_ttl=600,
        failure_ttl=86400,
    )


def sign_activation_file(assistance_id: int) -> bool:
    """Sign and store the assistance's activation file (idempotent; skips rows another
    worker holds). Returns whether this call signed it."""
    from app.assistance import files, keys

    assistance = (
        db.session.execute(
            select(Assistance)
            .options(joinedload(Assistance.device), joinedload(Assistance.operator))
            .where(Assistance.id == assistance_id)
            .with_for_update(of=Assistance, skip_locked=True)
        )
        .unique()
        .scalar_one_or_none()
    )
    if (
        assistance is None
        or assistance.activation_file is not None
        or assistance.state not in ("ready", "connected", "disconnected")
    ):
        db.session.rollback()
        return False
    key_row = keys.ensure_key()
    claims = files.claims_for(assistance)
    token = files.sign(claims, key_row)
    assistance.activation_file = files.package(token, assistance.file_kind)
    assistance.activation_jti = claims["jti"]
    assistance.activation_kid = key_row.kid
    assistance.activation_expires_at = utcnow() + timedelta(seconds=claims["exp"] - claims["iat"])
    assistance.signed_at = utcnow()
    audit.record(
        "assistance.file_signed",
        organization_id=assistance.organization_id,
        target=assistance,
        actor_label="worker",
        details={"kid": key_row.kid, "jti": claims["jti"], "file_kind": assistance.file_kind},
    )
    db.session.commit()
    return True
