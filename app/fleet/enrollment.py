"""Enrollment tokens (per reporting group) and agent enrollment."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import or_, select, update

from app import audit
from app.extensions import db
from app.models import Device, EnrollmentToken, ReportingGroup, utcnow

ENROLLMENT_PREFIX = "enr_"
DEVICE_TOKEN_PREFIX = "dev_"  # noqa: S105 (a prefix, not a secret)


class EnrollmentError(ValueError):
    pass


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_enrollment_token(
    group: ReportingGroup,
    name: str,
    *,
    days: int | None = None,
    max_uses: int | None = None,
    actor=None,
) -> tuple[EnrollmentToken, str]:
    """A new token for `group`; returns it and the raw token (shown once). Caller commits."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise EnrollmentError("Give the token a name of 1 to 80 characters.")
    if days is not None and not 1 <= days <= 3650:
        raise EnrollmentError("Expiry must be between 1 and 3650 days, or none.")
    if max_uses is not None and not 1 <= max_uses <= 1_000_000:
        raise EnrollmentError("The use limit must be between 1 and 1,000,000, or none.")
    raw = ENROLLMENT_PREFIX + secrets.token_urlsafe(32)
    token = EnrollmentToken(
        organization_id=group.organization_id,
        reporting_group_id=group.id,
        name=name,
        token_hash=token_hash(raw),
        prefix=raw[:12],
        expires_at=utcnow() + timedelta(days=days) if days else None,
        max_uses=max_uses,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "enrollment_token.created",
        organization_id=group.organization_id,
        target=token,
        actor=actor,
        details={
            "name": name,
            "group": group.name,
            "prefix": token.prefix,
            "days": days,
            "max_uses": max_uses,
        },
    )
    return token, raw


def revoke_enrollment_token(token: EnrollmentToken, actor=None) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            "enrollment_token.revoked",
            organization_id=token.organization_id,
            target=token,
            actor=actor,
            details={"name": token.name},
        )


def _consume(raw: str) -> EnrollmentToken:
    """Count one use of the token atomically, or refuse it."""
    now = utcnow()
    token = db.session.execute(
        select(EnrollmentToken).where(EnrollmentToken.token_hash == token_hash(raw))
    ).scalar_one_or_none()
    if token is None or token.problem(now):
        raise EnrollmentError("The enrollment token is unknown, expired, revoked or used up.")
    # The WHERE makes concurrent enrollments unable to exceed the limit.
    counted = db.session.execute(
        update(EnrollmentToken)
        .where(
            EnrollmentToken.id == token.id,
            EnrollmentToken.revoked_at.is_(None),
            or_(
                EnrollmentToken.max_uses.is_(None), EnrollmentToken.uses < EnrollmentToken.max_uses
            ),
        )
        .values(uses=EnrollmentToken.uses + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if counted != 1:
        raise EnrollmentError("The enrollment token is unknown, expired, revoked or used up.")
    return token


def enroll(body, ip: str = "") -> tuple[Device, str, bool]:
    """Create the device, or update the one with the same hardware id in the token's
    organization (moving it to the token's group); returns it, its new device token and
    whether it was created. Caller commits."""
    token = _consume(body.enrollment_token)
    device = db.session.execute(
        select(Device).where(
            Device.organization_id == token.organization_id, Device.hardware_id == body.hardware_id
        )
    ).scalar_one_or_none()
    created = device is None
    if created:
        device = Device(organization_id=token.organization_id, hardware_id=body.hardware_id)
        db.session.add(device)
    previous_group = device.reporting_group_id
    device.reporting_group_id = token.reporting_group_id
    device.hostname = body.hostname
    device.os_name = body.os_name
    device.os_version = body.os_version
    device.agent_version = body.agent_version
    device.environment = body.environment
    device.kind = body.device_kind
    device.enrolled_at = utcnow()
    raw = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    # Re-enrolling replaces the device token: the old one stops working.
    device.token_hash = token_hash(raw)
    db.session.flush()
    audit.record(
        "device.enrolled" if created else "device.reenrolled",
        organization_id=token.organization_id,
        target=device,
        actor_label="agent",
        ip=ip,
        details={
            "hostname": device.hostname,
            "hardware_id": device.hardware_id,
            "enrollment_token": token.prefix,
            "group_id": token.reporting_group_id,
            "previous_group_id": previous_group,
        },
    )
    return device, raw, created
