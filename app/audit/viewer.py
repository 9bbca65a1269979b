"""Reading the audit log (Portal → Audit log, CSV export, `GET /api/v1/audit`): filters by
actor, action, target and date range; pages in a constant number of queries."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from app.core.listing import FilterError, Page, escape_like, positive_arg
from app.extensions import db
from app.models import AuditEvent

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EXPORT_COLUMNS = (
    "occurred_at",
    "seq",
    "actor",
    "actor_user_id",
    "action",
    "target_type",
    "target_id",
    "ip",
    "details",
    "hash",
)


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""  # contains, case-insensitive (the actor's e-mail or label)
    action: str = ""  # exact, or a prefix when it ends with ".*" ("role.*")
    target_type: str = ""  # exact ("Role", "Membership", ...)
    target_id: str = ""  # exact
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def as_args(self) -> dict[str, str]:
        """The filters as query arguments (for links and the export's own audit event)."""
        out = {k: v for k, v in asdict(self).items() if isinstance(v, str) and v}
        if self.since:
            out["from"] = self.since.isoformat()
        if self.until:
            out["to"] = self.until.isoformat()
        return out


def _text(args, name: str, limit: int) -> str:
    value = (args.get(name) or "").strip()
    if len(value) > limit:
        raise FilterError(name, f"{name} is at most {limit} characters")
    return value


def _when(args, name: str, end: bool) -> datetime | None:
    """`YYYY-MM-DD` (a whole day, UTC: `to` includes it) or an ISO 8601 date-time (UTC
    when it has no offset)."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time.min, UTC)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except ValueError:
        raise FilterError(
            name, f"{name} is a date (YYYY-MM-DD) or a date-time (YYYY-MM-DDTHH:MM[:SS][+00:00])"
        ) from None
    except OverflowError:  # the day after 9999-12-31, or a time zone past year 1 or 9999
        raise FilterError(name, f"{name} is out of range (years 1 to 9999, UTC)") from None


def parse_filters(args) -> AuditFilters:
    filters = AuditFilters(
        actor=_text(args, "actor", 254),
        action=_text(args, "action", 80),
        target_type=_text(args, "target_type", 40),
        target_id=_text(args, "target_id", 64),
        since=_when(args, "from", end=False),
        until=_when(args, "to", end=True),
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise FilterError("to", "the date range ends before it starts")
    return filters


def conditions(org_id: int, filters: AuditFilters) -> list:
    where = [AuditEvent.organization_id == org_id]
    if filters.actor:
        where.append(AuditEvent.actor.ilike(f"%{escape_like(filters.actor)}%", escape="\\"))
    if filters.action.endswith(".*"):
        prefix = escape_like(filters.action[:-1])
        where.append(AuditEvent.action.like(f"{prefix}%", escape="\\"))
    elif filters.action:
        where.append(AuditEvent.action == filters.action)
    if filters.target_type:
        where.append(AuditEvent.target_type == filters.target_type)
    if filters.target_id:
        where.append(AuditEvent.target_id == filters.target_id)
    if filters.since:
        where.append(AuditEvent.occurred_at >= filters.since)
    if filters.until:
        where.append(AuditEvent.occurred_at < filters.until)
    return where


# Sign-ins and sign-outs drown the rest; people see them when they ask (SIGNINS_ARG=1 or an
# `auth.…` action filter).
SIGNIN_PREFIX = "auth."
SIGNINS_ARG = "signins"


def audit_page(
    org_id: int, args, *, page_size: int | None = None, hide_signins: bool = False
) -> Page:
    """One page of the organization's events, newest first: two queries. With
    `hide_signins`, sign-in events are left out unless the arguments ask for them."""
    filters = parse_filters(args)
    if page_size is None:
        page_size = positive_arg(args, "page_size", PAGE_SIZE, MAX_PAGE_SIZE)
    page = positive_arg(args, "page", 1)
    where = conditions(org_id, filters)
    if hide_signins and not shows_signins(args):
        where.append(~AuditEvent.action.like(f"{SIGNIN_PREFIX}%"))
    total = db.session.execute(
        select(func.count()).select_from(AuditEvent).where(*where)
    ).scalar_one()
    events = db.session.execute(
        select(AuditEvent)
        .where(*where)
        .order_by(AuditEvent.seq.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).scalars()
    return Page(list(events), total, page, page_size)


def shows_signins(args) -> bool:
    return args.get(SIGNINS_ARG) == "1" or (args.get("action") or "").startswith(SIGNIN_PREFIX)


def filter_choices(org_id: int) -> dict[str, list[str]]:
    """Known actions and target types of the organization (two small queries)."""

    def distinct(column):
        return list(
            db.session.execute(
                select(column)
                .where(AuditEvent.organization_id == org_id, column != "")
                .distinct()
                .order_by(column)
            ).scalars()
        )

    return {
        "actions": distinct(AuditEvent.action),
        "target_types": distinct(AuditEvent.target_type),
    }


def iter_events(org_id: int, filters: AuditFilters, chunk: int = 1000) -> Iterator[Any]:
    """Every matching event, oldest first, read in chunks of plain rows (not ORM objects,
    so a large export does not fill the session)."""
    where = conditions(org_id, filters)
    after = 0
    while True:
        rows = db.session.execute(
            select(*AuditEvent.__table__.c)
            .where(*where, AuditEvent.seq > after)
            .order_by(AuditEvent.seq)
            .limit(chunk)
        ).all()
        yield from rows
        if len(rows) < chunk:
            return
        after = rows[-1].seq


def event_json(ev: AuditEvent) -> dict[str, Any]:
    return {
        "id": ev.id,
        "seq": ev.seq,
        "occurred_at": ev.occurred_at.isoformat(),
        "actor": ev.actor,
        "actor_user_id": ev.actor_user_id,
        "action": ev.action,
        "target_type": ev.target_type,
        "target_id": ev.target_id,
        "details": ev.details,
        "ip": ev.ip,
        "prev_hash": ev.prev_hash,
        "hash": ev.hash,
    }


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting like a formula: neutralise it.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def csv_lines(events: Iterator[Any]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        out = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return out

    writer.writerow(EXPORT_COLUMNS)
    yield flush()
    for ev in events:
        writer.writerow(
            [
                _cell(ev.occurred_at.isoformat()),
                ev.seq,
                _cell(ev.actor),
                _cell(ev.actor_user_id),
                _cell(ev.action),
                _cell(ev.target_type),
                _cell(ev.target_id),
                _cell(ev.ip),
                _cell(json.dumps(ev.details, sort_keys=True)),
                ev.hash,
            ]
        )
        yield flush()
