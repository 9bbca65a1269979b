"""Languages and time zones for people (SPEC §6): the portal speaks English, Spanish,
Portuguese and Catalan, in the person's choice (profile, or the switcher before sign-in),
else the browser's; times are shown in the person's time zone, else the organization's.

Flask-Babel does the work; this module chooses and formats. Catalogues live in
`app/translations/` (see docs/translating.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import available_timezones

from babel.dates import format_skeleton
from flask import Flask, has_request_context, request, session
from flask_babel import format_decimal, format_timedelta, get_locale, get_timezone
from flask_login import current_user
from markupsafe import Markup

from app.extensions import babel

# The product's languages, each named in itself (how a switcher should show them).
LANGUAGES = {"en": "English", "es": "Español", "pt": "Português", "ca": "Català"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_SESSION_KEY = "language"


def is_language(value: str | None) -> bool:
    return value in LANGUAGES


def is_time_zone(value: str | None) -> bool:
    return bool(value) and value in time_zones()


_ZONES: list[str] = []


def time_zones() -> list[str]:
    """Every IANA zone name (tzdata), sorted; computed once."""
    if not _ZONES:
        _ZONES.extend(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))
    return _ZONES


def select_locale() -> str:
    """The person's language, else the one chosen before sign-in, else the browser's."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    if current_user.is_authenticated and is_language(getattr(current_user, "language", None)):
        return current_user.language
    chosen = session.get(LANGUAGE_SESSION_KEY)
    if is_language(chosen):
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)


def select_time_zone() -> str:
    """The person's time zone, else their organization's, else UTC."""
    if not has_request_context() or not current_user.is_authenticated:
        return "UTC"
    own = getattr(current_user, "time_zone", None)
    if is_time_zone(own):
        return own
    from app.tenancy import current_org

    org = current_org._get_current_object() if current_org else None
    return org.time_zone if org is not None and is_time_zone(org.time_zone) else "UTC"


def local(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(get_timezone())


def format_when(dt: datetime | None, skeleton: str = "yMMMdHm") -> str:
    """A date and time in the person's zone and language ("30 nov 2026, 16:05")."""
    if dt is None:
        return ""
    moment, locale = local(dt), get_locale()
    date_part = "".join(c for c in skeleton if c in "yMdE")
    time_part = "".join(c for c in skeleton if c in "Hhms")
    if not (date_part and time_part):
        return format_skeleton(skeleton, moment, locale=locale)
    # CLDR has no combined skeletons: join the two parts the locale's way ("{1}, {0}").
    pattern = str(locale.datetime_formats["medium"])
    return pattern.replace("{1}", format_skeleton(date_part, moment, locale=locale)).replace(
        "{0}", format_skeleton(time_part, moment, locale=locale)
    )


def format_day(dt: datetime | date | None, skeleton: str = "yMMMd") -> str:
    """A date ("30 nov 2026"); a calendar day (a `date`) is shown as it is, unshifted."""
    if dt is not None and not isinstance(dt, datetime):
        return format_skeleton(skeleton, dt, locale=get_locale())
    return format_when(dt, skeleton)


def format_clock(dt: datetime | None) -> str:
    return format_when(dt, "Hms")


def format_ago(dt: datetime | None) -> str:
    """Relative time ("3 minutes ago", "hace 3 minutos")."""
    if dt is None:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return format_timedelta(dt - datetime.now(UTC), add_direction=True, threshold=0.9)


def time_tag(dt: datetime | None, skeleton: str = "yMMMdHm", relative: bool = False) -> Markup:
    """`<time>` with the machine-readable instant and the full date as its title."""
    if dt is None:
        return Markup("—")
    shown = format_ago(dt) if relative else format_when(dt, skeleton)
    full = format_when(dt, "yMMMdHms") + " " + str(get_timezone())
    iso = dt.astimezone(UTC).isoformat()
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso, full, shown)


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_time_zone)
    # `{% trans %}` blocks collapse their line breaks, as `make messages` extracts them.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.filters.update(
        when=format_when,
        day=format_day,
        clock=format_clock,
        ago=format_ago,
        time_tag=time_tag,
        number=format_decimal,
    )

    @app.context_processor
    def language_context():
        return {
            "current_language": str(get_locale() or DEFAULT_LANGUAGE),
            "languages": LANGUAGES,
        }
