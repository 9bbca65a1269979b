"""When a weekly schedule (`schedule.py`) is open, in a time zone, DST included.

A window is wall-clock time in the organization's zone: "Mon 08:00-18:00" is open while
the clocks there show Monday 08:00 to 18:00, whatever the offset that day. So on a DST
change a window lasts what the clocks say (a window over the skipped hour is an hour
shorter, over the repeated hour an hour longer). Two edge cases, read generously:

- a time the clocks skip (02:30 on the spring-forward night) is read as the moment they
  jump: a window from or to it opens or closes at the jump;
- a time the clocks show twice (02:30 on the fall-back night) opens a window at its first
  pass and closes one at its second.

All instants are aware UTC datetimes; adjacent or overlapping windows are merged, so "Mon
22:00-24:00; Tue 00:00-06:00" closes on Tuesday at 06:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.agent_settings.schedule import DAYS

WEEK = timedelta(days=7)
# Windows are computed from 8 days before to 8 days after now: enough to see the whole
# merged window now is in (a window longer than a week means "always open").
HORIZON_DAYS = 8


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def to_utc(local: datetime, zone: ZoneInfo, *, first: bool) -> datetime:
    """The instant the clocks in `zone` show the naive `local` (its first pass when it
    shows twice and `first`, else its last; the jump when the clocks skip it)."""
    a = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    b = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if a == b:
        return a
    lo, hi = min(a, b), max(a, b)
    if a.astimezone(zone).replace(tzinfo=None) == local:  # shown twice
        return lo if first else hi
    return _jump(lo, hi, zone)


def _jump(lo: datetime, hi: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (lo, hi] with hi's offset: when the clocks jumped."""
    target = hi.astimezone(zone).utcoffset()
    low, high = int(lo.timestamp()), int(hi.timestamp())
    while high - low > 1:
        mid = (low + high) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == target:
            high = mid
        else:
            low = mid
    return datetime.fromtimestamp(high, UTC)


@dataclass(frozen=True)
class Interval:
    opens: datetime
    closes: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.opens <= moment < self.closes


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def intervals(
    windows: list[dict[str, Any]], zone: ZoneInfo, now: datetime, days: int = HORIZON_DAYS
) -> list[Interval]:
    """The schedule's windows from `days` before to `days` after `now`, as merged UTC
    intervals in order."""
    today = now.astimezone(zone).date()
    found: list[Interval] = []
    for offset in range(-days, days + 1):
        day: date = today + timedelta(days=offset)
        midnight = datetime.combine(day, time())
        for w in windows:
            if DAYS[day.weekday()] not in w["days"]:
                continue
            start, end = _minutes(w["from"]), _minutes(w["to"])
            if end <= start:  # crosses midnight: closes the next day
                end += 24 * 60
            opens = to_utc(midnight + timedelta(minutes=start), zone, first=True)
            closes = to_utc(midnight + timedelta(minutes=end), zone, first=False)
            if closes > opens:
                found.append(Interval(opens, closes))
    found.sort(key=lambda i: i.opens)
    merged: list[Interval] = []
    for interval in found:
        if merged and interval.opens <= merged[-1].closes:
            last = merged[-1]
            merged[-1] = Interval(last.opens, max(last.closes, interval.closes))
        else:
            merged.append(interval)
    return merged


@dataclass(frozen=True)
class WindowState:
    """Where `now` stands: inside a window (`closes_at`: when it closes, None if never)
    or outside (`next_opens_at`: when the next one opens)."""

    open: bool
    closes_at: datetime | None = None
    next_opens_at: datetime | None = None


def state_at(windows: list[dict[str, Any]] | None, zone_name: str | None, now: datetime):
    """The schedule at `now` in the zone `zone_name`; an empty schedule is always open."""
    if not windows:
        return WindowState(True)
    for interval in intervals(windows, zone_of(zone_name), now):
        if now in interval:
            always = interval.closes - interval.opens > WEEK
            return WindowState(True, closes_at=None if always else interval.closes)
        if interval.opens > now:
            return WindowState(False, next_opens_at=interval.opens)
    return WindowState(False)  # unreachable for a valid schedule: every week has a window
