"""Access-window schedules: the text people write in four languages, the JSON the API
takes, what is stored, and errors that say what is wrong."""

import pytest

from app.agent_settings.registry import SettingValueError, get_setting
from app.agent_settings.schedule import ScheduleError, format_schedule, parse

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
OFFICE = [
    {"days": WEEKDAYS, "from": "08:00", "to": "18:00"},
    {"days": ["sat"], "from": "09:00", "to": "13:00"},
]


@pytest.fixture(autouse=True)
def _context(app):
    with app.app_context():
        yield


@pytest.mark.parametrize(
    "text",
    [
        "Mon-Fri 08:00-18:00; Sat 09:00-13:00",
        "monday - friday 8-18\nSaturday 9:00-13:00",
        "Mon–Fri 08:00–18:00; Sat 09:00–13:00",  # en dashes, as the screens show it  # noqa: RUF001
        "Mon,Tue,Wed,Thu,Fri 08:00-18:00; Sat 09:00-13:00",
        "lun-vie 08:00-18:00; sáb 09:00-13:00",
        "Lunes-Viernes 8-18; sabado 9-13",
        "seg.-sex. 08:00-18:00; sáb. 09:00-13:00",
        "segunda-feira-sexta-feira 08:00-18:00; sábado 09:00-13:00",
        "segunda feira - sexta feira 08:00-18:00; Sábado 09:00-13:00",
        "dl.-dv. 08:00-18:00; ds. 09:00-13:00",
        "dilluns-divendres 08:00-18:00; dissabte 09:00-13:00",
    ],
)
def test_the_same_schedule_in_every_language_and_spelling(text):
    assert parse(text) == OFFICE


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "Mon–Fri 08:00–18:00; Sat 09:00–13:00"),  # noqa: RUF001
        ("es", "lun–vie 08:00–18:00; sáb 09:00–13:00"),  # noqa: RUF001
        ("pt", "seg.–sex. 08:00–18:00; sáb. 09:00–13:00"),  # noqa: RUF001
        ("ca", "dl.–dv. 08:00–18:00; ds. 09:00–13:00"),  # noqa: RUF001
    ],
)
def test_shown_in_the_readers_language_and_read_back(locale, text):
    assert format_schedule(OFFICE, locale) == text
    assert parse(text) == OFFICE


def test_windows_crossing_midnight_wrapping_weeks_and_split_days():
    assert parse("Fri 22:00-02:00") == [{"days": ["fri"], "from": "22:00", "to": "02:00"}]
    assert parse("Fri-Mon 10-11")[0]["days"] == ["mon", "fri", "sat", "sun"]
    split = parse("Mon-Fri 08:00-13:00, 14:00-18:00")
    assert split == [
        {"days": WEEKDAYS, "from": "08:00", "to": "13:00"},
        {"days": WEEKDAYS, "from": "14:00", "to": "18:00"},
    ]
    assert format_schedule(split, "en") == "Mon–Fri 08:00–13:00, 14:00–18:00"  # noqa: RUF001
    assert parse("Sun 00:00-24:00")[0]["to"] == "24:00"
    # Same hours on several lines are one window; days in week order.
    assert parse("Wed 9-10; Mon 9-10") == [{"days": ["mon", "wed"], "from": "09:00", "to": "10:00"}]
    assert format_schedule(parse("Mon, Wed 9-10"), "es") == "lun, mié 09:00–10:00"  # noqa: RUF001


def test_empty_means_any_time():
    assert parse("") == parse("  ;  ") == parse([]) == []


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Mon", "gives no hours"),
        ("Funday 8-9", "“Funday” is not a day of the week"),
        ("8-9", "names no days"),
        ("Mon 8-8", "opens and closes at the same time"),
        ("Mon 25:00-26:00", "a time that does not exist"),
        ("Mon 08:60-09:00", "a time that does not exist"),
        ("Mon 24:00-05:00", "24:00 only to end a window"),
        ("Mon 8h-9h", "“8h-9h” is not a time range"),
        ("Mon " + "8-9, " * 400, "too long"),
    ],
)
def test_bad_text_says_what_is_wrong(text, says):
    with pytest.raises(ScheduleError) as refused:
        parse(text)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (42, "A schedule is a list of windows"),
        ([{"days": ["mon"], "from": "08:00"}], 'exactly "days", "from" and "to"'),
        ([{"days": [], "from": "08:00", "to": "09:00"}], "non-empty list of days"),
        ([{"days": ["mon"], "from": "8:00", "to": "09:00"}], "times as HH:MM"),
        ([{"days": ["mon"], "from": 8, "to": "09:00"}], "times as HH:MM"),
        ([{"days": ["someday"], "from": "08:00", "to": "09:00"}], "not a day of the week"),
        ([{"days": ["mon"], "from": "09:00", "to": "09:00"}], "window 1"),
        ([{"days": ["mon"], "from": "08:00", "to": "09:00"}] * 51, "At most 50 windows"),
    ],
)
def test_bad_json_says_what_is_wrong(value, says):
    with pytest.raises(SettingValueError) as refused:
        get_setting("remote_assistance.access_windows").validate(value)
    assert says in refused.value.message


def test_the_setting_is_governance_only_and_normalizes_the_json_form():
    definition = get_setting("remote_assistance.access_windows")
    assert (definition.kind, definition.default) == ("schedule", [])
    assert not definition.per_role and not definition.reaches_agent
    given = [
        {"days": ["sat"], "from": "09:00", "to": "13:00"},
        {**OFFICE[0], "days": WEEKDAYS[::-1]},
    ]
    assert definition.validate(given) == OFFICE


def test_errors_are_in_the_readers_language(app):
    with (
        app.test_request_context(headers={"Accept-Language": "es"}),
        pytest.raises(ScheduleError) as refused,
    ):
        parse("Mon")
    assert "no indica horas" in str(refused.value)
