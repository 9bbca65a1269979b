"""The global search of the top bar: hostnames, usernames, session IDs and assistance
numbers, within the organization and the role's reporting groups. Four queries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from app.core.listing import escape_like
from app.extensions import db
from app.models import Assistance, Device, DeviceSession

LIMIT = 20
MAX_QUERY = 100


def search(org_id: int, text: str, *, visible_groups: Iterable[int] | None) -> dict[str, Any]:
    """Devices by hostname, user sessions by username, assistances by number or session ID."""
    q = (text or "").strip()[:MAX_QUERY].lstrip("#").strip()
    found: dict[str, Any] = {"query": q, "devices": [], "sessions": [], "assistances": []}
    if not q:
        return found
    scope = [Device.organization_id == org_id]
    if visible_groups is not None:
        scope.append(Device.reporting_group_id.in_(sorted(visible_groups)))
    like = f"%{escape_like(q)}%"
    found["devices"] = (
        db.session.execute(
            select(Device)
            .options(joinedload(Device.reporting_group))
            .where(*scope, Device.hostname.ilike(like, escape="\\"))
            .order_by(Device.hostname)
            .limit(LIMIT)
        )
        .scalars()
        .all()
    )
    found["sessions"] = (
        db.session.execute(
            select(DeviceSession)
            .join(DeviceSession.device)
            .options(joinedload(DeviceSession.device))
            .where(*scope, DeviceSession.username.ilike(like, escape="\\"))
            .order_by(DeviceSession.username, DeviceSession.id)
            .limit(LIMIT)
        )
        .scalars()
        .all()
    )
    if q.isdigit():
        wanted = [Assistance.sid == q]
        if len(q) < 10:
            wanted.append(Assistance.id == int(q))
        found["assistances"] = (
            db.session.execute(
                select(Assistance)
                .join(Device, Device.id == Assistance.device_id)
                .options(joinedload(Assistance.device), joinedload(Assistance.operator))
                .where(*scope, or_(*wanted))
                .order_by(Assistance.id.desc())
                .limit(LIMIT)
            )
            .unique()
            .scalars()
            .all()
        )
    return found
