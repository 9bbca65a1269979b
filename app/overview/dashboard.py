"""The dashboard (SPEC §5): live assistances, devices online/offline by reporting group,
agent versions (and how many are too old for remote assistance or for dynamic), assistances
per day by type and outcome, and refusals by code, for the organization or the role's
reporting groups. Six queries, whatever the size of the fleet or the window.

Days are UTC calendar days (the same for every reader of the API)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, case, cast, func, select

from app.assistance.rules import MIN_AGENT, MIN_AGENT_DYNAMIC, parse_version
from app.extensions import db
from app.fleet.queries import offline_threshold
from app.models import Assistance, AuditEvent, Device, ReportingGroup, utcnow
from app.models.assistance import LIVE_STATES

MAX_DAYS = 90
DEFAULT_DAYS = 14
LIVE_LISTED = 20
# What became of an assistance, by its state.
OUTCOMES = {
    **dict.fromkeys(LIVE_STATES, "live"),
    "expired": "completed",
    "cancelled": "completed",
    "denied": "denied",
    "failed": "failed",
    "interrupted": "failed",
    "locked": "failed",
}
OUTCOME_ORDER = ("live", "completed", "denied", "failed")


def _scope(column, visible_groups: Iterable[int] | None) -> list:
    return [] if visible_groups is None else [column.in_(sorted(visible_groups))]


def version_label(version: str) -> str:
    """Whether an agent version can give remote assistance ("ok", "no_dynamic", "too_old")."""
    parsed = parse_version(version)
    if parsed < MIN_AGENT:
        return "too_old"
    if parsed < MIN_AGENT_DYNAMIC:
        return "no_dynamic"
    return "ok"


def dashboard(
    org_id: int,
    *,
    visible_groups: Iterable[int] | None,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The dashboard's numbers as plain data (the API's body and the home page's charts)."""
    now = now or utcnow()
    visible = None if visible_groups is None else sorted(visible_groups)
    first_day = now.date() - timedelta(days=days - 1)
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=now.tzinfo)
    device_scope = [Device.organization_id == org_id, *_scope(Device.reporting_group_id, visible)]
    return {
        "days": days,
        "generated_at": now.isoformat(),
        "live_assistances": _live(org_id, visible),
        "devices_by_group": _devices_by_group(org_id, visible, now),
        "agent_versions": _agent_versions(device_scope),
        "assistances_per_day": _per_day(org_id, visible, since, first_day, days),
        "refusals_by_code": _refusals(org_id, device_scope, since),
    }


def _live(org_id: int, visible) -> dict[str, Any]:
    rows = db.session.execute(
        select(
            Assistance.id,
            Assistance.state,
            Assistance.type,
            Assistance.created_at,
            Device.id,
            Device.hostname,
        )
        .join(Device, Device.id == Assistance.device_id)
        .where(
            Assistance.organization_id == org_id,
            Assistance.state.in_(LIVE_STATES),
            *_scope(Device.reporting_group_id, visible),
        )
        .order_by(Assistance.created_at.desc(), Assistance.id.desc())
    ).all()
    by_state: dict[str, int] = defaultdict(int)
    for row in rows:
        by_state[row[1]] += 1
    return {
        "total": len(rows),
        "by_state": dict(by_state),
        "items": [
            {
                "id": a_id,
                "state": state,
                "type": ra_type,
                "created_at": created.isoformat(),
                "device": {"id": device_id, "hostname": hostname},
            }
            for a_id, state, ra_type, created, device_id, hostname in rows[:LIVE_LISTED]
        ],
    }


def _devices_by_group(org_id: int, visible, now: datetime) -> list[dict[str, Any]]:
    online = case((Device.last_checkin_at >= offline_threshold(now), 1), else_=0)
    rows = db.session.execute(
        select(
            ReportingGroup.id,
            ReportingGroup.name,
            func.count(Device.id),
            func.coalesce(func.sum(online), 0),
        )
        .outerjoin(Device, Device.reporting_group_id == ReportingGroup.id)
        .where(ReportingGroup.organization_id == org_id, *_scope(ReportingGroup.id, visible))
        .group_by(ReportingGroup.id, ReportingGroup.name)
        .order_by(ReportingGroup.name)
    ).all()
    return [
        {"id": gid, "name": name, "online": int(on), "offline": int(total) - int(on)}
        for gid, name, total, on in rows
    ]


def _agent_versions(device_scope: list) -> dict[str, Any]:
    rows = db.session.execute(
        select(Device.agent_version, func.count())
        .where(*device_scope)
        .group_by(Device.agent_version)
    ).all()
    versions = sorted(
        (
            {"version": v or "", "devices": int(n), "support": version_label(v or "")}
            for v, n in rows
        ),
        key=lambda item: parse_version(item["version"]),
    )
    return {
        "versions": versions,
        "too_old_for_ra": sum(v["devices"] for v in versions if v["support"] == "too_old"),
        "too_old_for_dynamic": sum(v["devices"] for v in versions if v["support"] != "ok"),
        "min_ra": ".".join(map(str, MIN_AGENT)),
        "min_dynamic": ".".join(map(str, MIN_AGENT_DYNAMIC)),
    }


def _per_day(org_id: int, visible, since: datetime, first_day: date, days: int) -> list[dict]:
    day = func.date(Assistance.created_at)
    rows = db.session.execute(
        select(day, Assistance.type, Assistance.state, func.count())
        .join(Device, Device.id == Assistance.device_id)
        .where(
            Assistance.organization_id == org_id,
            Assistance.created_at >= since,
            *_scope(Device.reporting_group_id, visible),
        )
        .group_by(day, Assistance.type, Assistance.state)
    ).all()
    table = {
        (first_day + timedelta(days=i)).isoformat(): {
            "interactive": 0,
            "unattended": 0,
            **dict.fromkeys(OUTCOME_ORDER, 0),
        }
        for i in range(days)
    }
    for when, ra_type, state, count in rows:
        key = when.isoformat() if isinstance(when, date) else str(when)[:10]
        if key in table:
            table[key][ra_type] += int(count)
            table[key][OUTCOMES.get(state, "failed")] += int(count)
    return [{"date": key, **counts} for key, counts in table.items()]


def _refusals(org_id: int, device_scope: list, since: datetime) -> list[dict[str, Any]]:
    code = AuditEvent.details["code"].as_string()
    visible_devices = select(cast(Device.id, String)).where(*device_scope)
    rows = db.session.execute(
        select(code, func.count())
        .where(
            AuditEvent.organization_id == org_id,
            AuditEvent.action == "assistance.refused",
            AuditEvent.occurred_at >= since,
            AuditEvent.target_id.in_(visible_devices),
        )
        .group_by(code)
        .order_by(func.count().desc())
    ).all()
    return [{"code": c or "", "count": int(n)} for c, n in rows]
