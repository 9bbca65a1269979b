"""When a schedule is open: wall-clock windows in the organization's zone, across DST
changes (Europe/Madrid, America/New_York) and midnight."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.agent_settings.access_windows import intervals, state_at, to_utc
from app.agent_settings.schedule import parse

MADRID, NEW_YORK = "Europe/Madrid", "America/New_York"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC)


@pytest.fixture(autouse=True)
def _context(app):
    with app.app_context():
        yield


def test_inside_a_window_says_when_it_closes_outside_when_the_next_opens():
    office = parse("Mon-Fri 08:00-18:00")
    monday_noon = local(MADRID, 2024, 12, 2, 12, 0)
    assert state_at(office, MADRID, monday_noon).closes_at == local(MADRID, 2024, 12, 2, 18, 0)
    saturday = local(MADRID, 2024, 11, 30, 10, 0)
    outside = state_at(office, MADRID, saturday)
    assert not outside.open
    assert outside.next_opens_at == local(MADRID, 2024, 12, 2, 8, 0)  # Monday 2 December
    # The closing minute belongs to the next state: [from, to).
    assert not state_at(office, MADRID, local(MADRID, 2024, 12, 2, 18, 0)).open
    assert state_at(office, MADRID, local(MADRID, 2024, 12, 2, 8, 0)).open


def test_the_same_schedule_in_another_zone_is_another_instant():
    office = parse("Mon-Fri 08:00-18:00")
    moment = utc(2024, 12, 2, 12, 0)  # 13:00 in Madrid, 07:00 in New York
    assert state_at(office, MADRID, moment).open
    assert state_at(office, NEW_YORK, moment).next_opens_at == utc(2024, 12, 2, 13, 0)


def test_a_window_across_midnight_closes_the_next_day():
    late = parse("Fri 22:00-02:00")
    saturday_1am = local(MADRID, 2024, 11, 30, 1, 0)
    assert state_at(late, MADRID, saturday_1am).closes_at == local(MADRID, 2024, 11, 30, 2, 0)
    assert not state_at(late, MADRID, local(MADRID, 2024, 11, 30, 2, 0)).open
    assert state_at(late, MADRID, local(MADRID, 2024, 11, 29, 21, 0)).next_opens_at == (
        local(MADRID, 2024, 11, 29, 22, 0)
    )


def test_adjacent_windows_are_one_and_a_whole_week_never_closes():
    joined = parse("Mon 22:00-24:00; Tue 00:00-06:00")
    at = local(MADRID, 2024, 12, 2, 23, 0)
    assert state_at(joined, MADRID, at).closes_at == local(MADRID, 2024, 12, 3, 6, 0)
    always = state_at(parse("Mon-Sun 00:00-24:00"), MADRID, at)
    assert always.open and always.closes_at is None
    assert state_at([], MADRID, at).open


def test_madrid_spring_forward_the_window_lasts_what_the_clocks_say():
    """Last Sunday of March 2025: 02:00 CET becomes 03:00 CEST."""
    night = parse("Sun 00:00-06:00")
    [window] = [
        i for i in intervals(night, ZoneInfo(MADRID), utc(2025, 3, 30)) if i.opens.day >= 29
    ][:1]
    assert window.opens == utc(2025, 3, 29, 23, 0)  # 00:00 CET
    assert window.closes == utc(2025, 3, 30, 4, 0)  # 06:00 CEST
    assert window.closes - window.opens == timedelta(hours=5)
    # The week before, the same window is six hours long.
    before = state_at(night, MADRID, utc(2025, 3, 23, 0, 30))
    assert before.closes_at - utc(2025, 3, 22, 23, 0) == timedelta(hours=6)


def test_madrid_a_skipped_time_opens_the_window_at_the_jump():
    """02:30 does not exist on 30 March 2025 in Madrid: a window from it opens at 03:00
    CEST (01:00 UTC), when the clocks jump, and keeps its wall-clock end."""
    skipped = parse("Sun 02:30-04:00")
    outside = state_at(skipped, MADRID, utc(2025, 3, 30, 0, 30))
    assert outside.next_opens_at == utc(2025, 3, 30, 1, 0)
    inside = state_at(skipped, MADRID, utc(2025, 3, 30, 1, 0))
    assert inside.closes_at == utc(2025, 3, 30, 2, 0)  # 04:00 CEST
    assert to_utc(datetime(2025, 3, 30, 2, 30), ZoneInfo(MADRID), first=False) == utc(
        2025, 3, 30, 1, 0
    )


def test_madrid_fall_back_the_repeated_hour_counts_twice():
    """Last Sunday of October 2024: 03:00 CEST becomes 02:00 CET; 02:00-03:00 happens twice."""
    night = parse("Sun 00:00-06:00")
    inside = state_at(night, MADRID, utc(2024, 10, 27, 1, 30))  # 02:30 CET, second pass
    assert inside.closes_at == utc(2024, 10, 27, 5, 0)  # 06:00 CET
    assert inside.closes_at - utc(2024, 10, 26, 22, 0) == timedelta(hours=7)
    # A window ending at the repeated 02:30 closes at its second pass...
    assert state_at(parse("Sun 01:00-02:30"), MADRID, utc(2024, 10, 27, 0, 45)).closes_at == (
        utc(2024, 10, 27, 1, 30)
    )
    # ...and one starting then opens at its first.
    assert state_at(parse("Sun 02:30-05:00"), MADRID, utc(2024, 10, 26, 23)).next_opens_at == (
        utc(2024, 10, 27, 0, 30)
    )


def test_new_york_dst_changes():
    """2 a.m. on the second Sunday of March (EST→EDT), first Sunday of November back."""
    early = parse("Sun 01:00-05:00")
    spring = state_at(early, NEW_YORK, utc(2025, 3, 9, 7, 0))  # 03:00 EDT
    assert spring.closes_at == utc(2025, 3, 9, 9, 0)  # 05:00 EDT: 3 hours after 01:00 EST
    autumn = state_at(early, NEW_YORK, utc(2024, 11, 3, 6, 30))  # 01:30 EST, second pass
    assert autumn.closes_at == utc(2024, 11, 3, 10, 0)  # 05:00 EST: 5 hours after 01:00 EDT
    # Next window across the change: Friday evening → Monday 09:00 EDT after the switch.
    office = parse("Mon-Fri 09:00-17:00")
    after = state_at(office, NEW_YORK, utc(2025, 3, 7, 23, 0))
    assert after.next_opens_at == utc(2025, 3, 10, 13, 0)
    before = state_at(office, NEW_YORK, utc(2025, 2, 28, 23, 0))
    assert before.next_opens_at == utc(2025, 3, 3, 14, 0)  # 09:00 EST


def test_a_late_window_across_midnight_on_the_dst_night():
    """Sat 22:00-04:00 in Madrid on 29/30 March 2025: 5 real hours (the clocks skip one)."""
    late = state_at(parse("Sat 22:00-04:00"), MADRID, utc(2025, 3, 29, 22, 0))
    assert late.closes_at == utc(2025, 3, 30, 2, 0)  # 04:00 CEST
    assert late.closes_at - utc(2025, 3, 29, 21, 0) == timedelta(hours=5)
