"""Weekly schedules (`remote_assistance.access_windows`): the stored JSON form, the text
people edit, and both ways between them.

Stored: a list of windows `{"days": ["mon", …], "from": "08:00", "to": "18:00"}`, days in
week order, windows with the same hours merged, sorted by their first day; `to` may be
"24:00" (the end of the day), and a `to` before `from` crosses midnight (`Fri 22:00-02:00`
opens on Friday and closes on Saturday). An empty list means "any time".

Text: windows separated by `;` (or new lines), each `days hours`: days as names, lists and
ranges (`Mon-Fri`, `Mon, Wed`, `Fri-Mon` wraps round the week), in English, Spanish,
Portuguese or Catalan, full or abbreviated, with or without accents; hours as one or more
`08:00-18:00` (or `8-18`). Example: `Mon-Fri 08:00-13:00, 14:00-18:00; Sat 9-13`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from babel import Locale
from babel.dates import get_day_names
from flask_babel import gettext as _

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LANGUAGES = ("en", "es", "pt", "ca")
MAX_WINDOWS = 50
MAX_TEXT = 1000
EN_DASH = "\u2013"
DASHES = "\u2010\u2011\u2012\u2013\u2014\u2212"
_HOURS = re.compile(r"(\d{1,2})(?::(\d{2}))?-(\d{1,2})(?::(\d{2}))?")
_STORED_TIME = re.compile(r"\d{2}:\d{2}")


class ScheduleError(ValueError):
    """A schedule that cannot be read; the message says which part and how to write it."""


def _plain(word: str) -> str:
    """A day name as compared: lower case, no accents, no final dot, no "-feira"."""
    word = unicodedata.normalize("NFKD", word.strip().lower())
    word = "".join(c for c in word if not unicodedata.combining(c))
    return word.replace("-feira", "").replace(" feira", "").rstrip(".")


def _day_names() -> dict[str, int]:
    """Every name of every day in the four languages (CLDR wide, abbreviated and short
    forms, plus our codes and a few common English spellings) → day index (0 = Monday)."""
    names: dict[str, int] = {code: i for i, code in enumerate(DAYS)}
    names.update({"tues": 1, "weds": 2, "thur": 3, "thurs": 3})
    for language in LANGUAGES:
        for width in ("wide", "abbreviated", "short"):
            for context in ("format", "stand-alone"):
                for i, name in get_day_names(width, context, language).items():
                    plain = _plain(name)
                    if names.setdefault(plain, i) != i:  # a name two days share: neither
                        raise RuntimeError(f"ambiguous day name {plain!r}")
    return names


DAY_NAMES = _day_names()


def _day(word: str, entry: str) -> int:
    index = DAY_NAMES.get(_plain(word))
    if index is None:
        raise ScheduleError(
            _(
                "“%(word)s” is not a day of the week (in “%(entry)s”); write days as Mon, "
                "Tue… or lun, mar…, ranges as Mon-Fri.",
                word=word.strip(),
                entry=entry,
            )
        )
    return index


def _parse_days(text: str, entry: str) -> set[int]:
    text = re.sub(r"[-\s]+feira\b", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s*-\s*", "-", text)
    days: set[int] = set()
    for item in re.split(r"[,\s/]+", text.strip()):
        if not item:
            continue
        first, _dash, last = item.partition("-")
        start = _day(first, entry)
        end = _day(last, entry) if last else start
        days.update((start + k) % 7 for k in range((end - start) % 7 + 1))
    if not days:
        raise ScheduleError(
            _("“%(entry)s” names no days; start it with days, e.g. Mon-Fri.", entry=entry)
        )
    return days


def _minutes(hours: str, minutes: str | None, entry: str, end: bool) -> int:
    h, m = int(hours), int(minutes or 0)
    if m > 59 or h > 24 or (h == 24 and (m or not end)):
        raise ScheduleError(
            _(
                "“%(entry)s” has a time that does not exist; use 00:00 to 23:59 (24:00 only "
                "to end a window).",
                entry=entry,
            )
        )
    return h * 60 + m


def _window(days: set[int], start: int, end: int, entry: str) -> dict[str, Any]:
    if start == end:
        raise ScheduleError(
            _(
                "“%(entry)s” opens and closes at the same time; for a whole day write 00:00-24:00.",
                entry=entry,
            )
        )
    return {"days": [DAYS[d] for d in sorted(days)], "from": _hhmm(start), "to": _hhmm(end)}


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_text(text: str) -> list[dict[str, Any]]:
    """The text people write → the stored form (normalized), or ScheduleError."""
    if len(text) > MAX_TEXT:
        raise ScheduleError(_("The schedule is too long (at most %(n)s characters).", n=MAX_TEXT))
    for dash in DASHES:
        text = text.replace(dash, "-")
    windows = []
    for raw in re.split(r"[;\n]+", text):
        entry = " ".join(raw.split())
        if not entry:
            continue
        digit = re.search(r"\d", entry)
        if digit is None:
            raise ScheduleError(
                _(
                    "“%(entry)s” gives no hours; write e.g. Mon-Fri 08:00-18:00.",
                    entry=entry,
                )
            )
        days = _parse_days(entry[: digit.start()], entry)
        hours = re.sub(r"\s*-\s*", "-", entry[digit.start() :])
        for item in re.split(r"[,\s]+", hours.strip()):
            match = _HOURS.fullmatch(item)
            if match is None:
                raise ScheduleError(
                    _(
                        "“%(item)s” is not a time range (in “%(entry)s”); write hours as "
                        "08:00-18:00.",
                        item=item,
                        entry=entry,
                    )
                )
            h1, m1, h2, m2 = match.groups()
            start = _minutes(h1, m1, entry, end=False)
            windows.append(_window(days, start, _minutes(h2, m2, entry, end=True), entry))
    return normalize(windows)


def parse_stored(value: list) -> list[dict[str, Any]]:
    """The JSON form (API) → the stored form, or ScheduleError naming the bad part."""
    windows = []
    for n, item in enumerate(value, start=1):
        where = _("window %(n)s", n=n)
        if not isinstance(item, dict) or set(item) != {"days", "from", "to"}:
            raise ScheduleError(
                _(
                    '%(where)s must be an object with exactly "days", "from" and "to", e.g. '
                    '{"days": ["mon", "fri"], "from": "08:00", "to": "18:00"}.',
                    where=where,
                )
            )
        days, start, end = item["days"], item["from"], item["to"]
        if not isinstance(days, list) or not days or not all(isinstance(d, str) for d in days):
            raise ScheduleError(
                _('%(where)s: "days" must be a non-empty list of days (mon … sun).', where=where)
            )
        if not all(isinstance(t, str) and _STORED_TIME.fullmatch(t) for t in (start, end)):
            raise ScheduleError(
                _('%(where)s: "from" and "to" must be times as HH:MM, e.g. "08:00".', where=where)
            )
        indexes = {_day(d, where) for d in days}
        windows.append(
            _window(
                indexes,
                _minutes(start[:2], start[3:], where, end=False),
                _minutes(end[:2], end[3:], where, end=True),
                where,
            )
        )
    return normalize(windows)


def parse(value: Any) -> list[dict[str, Any]]:
    """A schedule as the API or a form gives it (the JSON list, or the text) → stored."""
    if isinstance(value, str):
        return parse_text(value)
    if isinstance(value, list):
        if len(value) > MAX_WINDOWS:
            raise ScheduleError(_("At most %(n)s windows.", n=MAX_WINDOWS))
        return parse_stored(value)
    raise ScheduleError(
        _(
            "A schedule is a list of windows such as "
            '{"days": ["mon", "tue"], "from": "08:00", "to": "18:00"} (empty: any time), or '
            "the text Mon-Fri 08:00-18:00."
        )
    )


def normalize(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One window per (from, to) with its days merged, in week order."""
    merged: dict[tuple[str, str], set[str]] = {}
    for w in windows:
        merged.setdefault((w["from"], w["to"]), set()).update(w["days"])
    result = [
        {"days": sorted(days, key=DAYS.index), "from": start, "to": end}
        for (start, end), days in merged.items()
    ]
    result.sort(key=lambda w: (DAYS.index(w["days"][0]), w["from"], w["to"]))
    if len(result) > MAX_WINDOWS:
        raise ScheduleError(_("At most %(n)s windows.", n=MAX_WINDOWS))
    return result


def _days_text(days: list[str], names: dict[int, str]) -> str:
    """Mon-Fri, Sat, Sun: runs of three or more days as ranges (with an en dash)."""
    indexes = sorted(DAYS.index(d) for d in days)
    runs: list[list[int]] = []
    for i in indexes:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{names[run[0]]}{EN_DASH}{names[run[-1]]}")
        else:
            parts.extend(names[i] for i in run)
    return ", ".join(parts)


def format_schedule(windows: list[dict[str, Any]] | None, locale: Locale | str = "en") -> str:
    """The stored form as people read (and edit) it, with the locale's day names and en
    dashes: "Mon-Fri 08:00-18:00; Sat 09:00-13:00", "lun-vie 08:00-18:00". Empty: ""."""
    names = get_day_names("abbreviated", "stand-alone", locale)
    by_days: dict[tuple[str, ...], list[str]] = {}
    for w in windows or []:
        by_days.setdefault(tuple(w["days"]), []).append(f"{w['from']}{EN_DASH}{w['to']}")
    return "; ".join(
        f"{_days_text(list(days), names)} {', '.join(hours)}" for days, hours in by_days.items()
    )
