"""Listing devices and user sessions for people (pages and API): filtered, paginated,
a constant number of queries per page whatever the fleet size.

Every function takes `visible_groups` (keyword, required): the reporting groups the caller
may see (`app.tenancy.visible_group_ids()`), None for all. It has no default on purpose:
each caller states the limit instead of forgetting it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.core.listing import FilterError, Page, escape_like, int_arg, page_number
from app.extensions import db
from app.fleet.checkin import last_seen
from app.models import Device, DeviceSession, ReportingGroup, utcnow
from app.models.device import DEVICE_KINDS, MISSED_CHECKINS_OFFLINE, SESSION_STATES

PAGE_SIZE = 50


def offline_threshold(now: datetime | None = None) -> datetime:
    interval = current_app.config["AGENT_CHECKIN_INTERVAL_SECONDS"]
    return (now or utcnow()) - timedelta(seconds=interval * MISSED_CHECKINS_OFFLINE)


def _group_scope(column, visible_groups: Iterable[int] | None) -> list:
    if visible_groups is None:
        return []
    return [column.in_(sorted(visible_groups))]


def device_filters(org_id: int, args, *, visible_groups: Iterable[int] | None) -> list:
    """SQL conditions from request arguments: group, online, os, version, kind, q; always
    within the organization and `visible_groups`."""
    conditions = [
        Device.organization_id == org_id,
        *_group_scope(Device.reporting_group_id, visible_groups),
    ]
    if (group_id := int_arg(args, "group")) is not None:
        conditions.append(Device.reporting_group_id == group_id)
    online = (args.get("online") or "").strip()
    if online:
        if online not in ("yes", "no"):
            raise FilterError("online", "online is yes or no")
        recent = Device.last_checkin_at >= offline_threshold()
        conditions.append(
            recent if online == "yes" else or_(Device.last_checkin_at.is_(None), ~recent)
        )
    if os_name := (args.get("os") or "").strip():
        conditions.append(Device.os_name == os_name)
    if version := (args.get("version") or "").strip():
        conditions.append(Device.agent_version == version)
    if kind := (args.get("kind") or "").strip():
        if kind not in DEVICE_KINDS:
            raise FilterError("kind", f"kind is one of {', '.join(DEVICE_KINDS)}")
        conditions.append(Device.kind == kind)
    if q := (args.get("q") or "").strip():
        conditions.append(Device.hostname.ilike(f"%{escape_like(q)}%", escape="\\"))
    return conditions


def devices_page(
    org_id: int, args, *, visible_groups: Iterable[int] | None, page_size: int = PAGE_SIZE
) -> Page:
    conditions = device_filters(org_id, args, visible_groups=visible_groups)
    page = page_number(args)
    total = db.session.execute(
        select(func.count()).select_from(Device).where(*conditions)
    ).scalar_one()
    devices = (
        db.session.execute(
            select(Device)
            .options(joinedload(Device.reporting_group), selectinload(Device.sessions))
            .where(*conditions)
            .order_by(Device.hostname, Device.id)
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
        .scalars()
        .all()
    )
    return Page(list(devices), total, page, page_size, last_seen(d.id for d in devices))


def sessions_page(
    org_id: int, args, *, visible_groups: Iterable[int] | None, page_size: int = PAGE_SIZE
) -> Page:
    conditions = [
        DeviceSession.organization_id == org_id,
        *_group_scope(Device.reporting_group_id, visible_groups),
    ]
    if state := (args.get("state") or "").strip():
        if state not in SESSION_STATES:
            raise FilterError("state", f"state is one of {', '.join(SESSION_STATES)}")
        conditions.append(DeviceSession.state == state)
    if (group_id := int_arg(args, "group")) is not None:
        conditions.append(Device.reporting_group_id == group_id)
    if q := (args.get("q") or "").strip():
        like = f"%{escape_like(q)}%"
        conditions.append(
            or_(
                DeviceSession.username.ilike(like, escape="\\"),
                Device.hostname.ilike(like, escape="\\"),
            )
        )
    page = page_number(args)
    base = select(DeviceSession).join(DeviceSession.device).where(*conditions)
    total = db.session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = (
        db.session.execute(
            base.options(joinedload(DeviceSession.device).joinedload(Device.reporting_group))
            .order_by(DeviceSession.username, DeviceSession.id)
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
        .scalars()
        .all()
    )
    return Page(list(rows), total, page, page_size, last_seen({s.device_id for s in rows}))


def filter_choices(org_id: int, *, visible_groups: Iterable[int] | None) -> dict[str, list]:
    """Options for the filter menus (three small queries), from the visible groups only."""
    groups = db.session.execute(
        select(ReportingGroup.id, ReportingGroup.name)
        .where(
            ReportingGroup.organization_id == org_id,
            *_group_scope(ReportingGroup.id, visible_groups),
        )
        .order_by(ReportingGroup.name)
    ).all()
    visible_devices = [
        Device.organization_id == org_id,
        *_group_scope(Device.reporting_group_id, visible_groups),
    ]
    os_names = (
        db.session.execute(
            select(Device.os_name).where(*visible_devices).distinct().order_by(Device.os_name)
        )
        .scalars()
        .all()
    )
    versions = (
        db.session.execute(
            select(Device.agent_version)
            .where(*visible_devices)
            .distinct()
            .order_by(Device.agent_version)
        )
        .scalars()
        .all()
    )
    return {
        "groups": groups,
        "os_names": os_names,
        "versions": versions,
        "kinds": list(DEVICE_KINDS),
        "states": list(SESSION_STATES),
    }


def device_json(device: Device, seen: datetime | None) -> dict[str, Any]:
    interval = current_app.config["AGENT_CHECKIN_INTERVAL_SECONDS"]
    last = max(filter(None, (device.last_checkin_at, seen)), default=None)
    return {
        "id": device.id,
        "hostname": device.hostname,
        "os_name": device.os_name,
        "os_version": device.os_version,
        "agent_version": device.agent_version,
        "environment": device.environment,
        "kind": device.kind,
        "reporting_group": {"id": device.reporting_group_id, "name": device.reporting_group.name},
        "online": device.is_online(interval, last_seen=seen),
        "last_checkin_at": last.isoformat() if last else None,
    }


def session_json(row: DeviceSession) -> dict[str, Any]:
    return {
        "id": row.id,
        "session_key": row.session_key,
        "username": row.username,
        "state": row.state,
        "kind": row.kind,
        "device": {"id": row.device_id, "hostname": row.device.hostname},
    }
