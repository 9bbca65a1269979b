"""Listing assistances for people (Workspaces → Remote assistances, Live assistances, and
`GET /api/v1/assistances`): filtered, paginated, in two queries, always within the
organization and the reporting groups the caller may see."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from app.core.listing import FilterError, Page, escape_like, int_arg, page_number
from app.extensions import db
from app.models import Assistance, Device
from app.models.assistance import LIVE_STATES, RA_TYPES, STATES

PAGE_SIZE = 50
YES, NO = ("1", "true", "yes"), ("0", "false", "no")


def _flag(args, name: str) -> bool:
    raw = (args.get(name) or "").strip().lower()
    if raw and raw not in YES + NO:
        raise FilterError(name, f"{name} is 1 or 0")
    return raw in YES


def assistance_filters(
    org_id: int, args, *, visible_groups: Iterable[int] | None, user_id: int
) -> list:
    """SQL conditions from request arguments: live, state (a state or `live`), type,
    mine, device, q (hostname, reason or ticket contains)."""
    conditions = [Assistance.organization_id == org_id]
    if visible_groups is not None:
        conditions.append(Device.reporting_group_id.in_(sorted(visible_groups)))
    state = (args.get("state") or "").strip()
    if _flag(args, "live") or state == "live":
        conditions.append(Assistance.state.in_(LIVE_STATES))
    elif state:
        if state not in STATES:
            raise FilterError("state", f"state is live or one of {', '.join(STATES)}")
        conditions.append(Assistance.state == state)
    if ra_type := (args.get("type") or "").strip():
        if ra_type not in RA_TYPES:
            raise FilterError("type", f"type is one of {', '.join(RA_TYPES)}")
        conditions.append(Assistance.type == ra_type)
    if _flag(args, "mine"):
        conditions.append(Assistance.operator_id == user_id)
    if (device_id := int_arg(args, "device")) is not None:
        conditions.append(Assistance.device_id == device_id)
    if q := (args.get("q") or "").strip():
        pattern = f"%{escape_like(q)}%"
        conditions.append(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (Device.hostname, Assistance.reason, Assistance.ticket)
                )
            )
        )
    return conditions


def assistances_page(
    org_id: int,
    args,
    *,
    visible_groups: Iterable[int] | None,
    user_id: int,
    page_size: int = PAGE_SIZE,
) -> Page:
    """One page of assistances, newest first, with their device and operator loaded."""
    conditions = assistance_filters(org_id, args, visible_groups=visible_groups, user_id=user_id)
    page = page_number(args)
    base = select(Assistance).join(Assistance.device).where(*conditions)
    total = db.session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = (
        db.session.execute(
            base.options(joinedload(Assistance.device), joinedload(Assistance.operator))
            .order_by(Assistance.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
        .scalars()
        .all()
    )
    return Page(list(rows), total, page, page_size)
