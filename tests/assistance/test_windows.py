"""Access windows on assistances: outside → refused naming the next window (API and the
device's availability); an unattended assistance inside one is warned 15 and 5 minutes
before the close and ended at the close with the usual teardown."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_skeleton
from sqlalchemy import select

from app.agent_settings.schedule import DAYS
from app.agent_settings.service import SettingChange, apply_changes
from app.assistance.sweeper import sweep
from app.extensions import db
from app.models import AgentOrder, Assistance, AuditEvent, Device, Organization, utcnow
from tests import factories
from tests.assistance.helpers import ready_unattended, start

ZONE = "Europe/Madrid"
KEY = "remote_assistance.access_windows"

pytestmark = pytest.mark.usefixtures("as_worker")


def _today():
    return datetime.now(ZoneInfo(ZONE)).date()


def set_windows(app, world, device, windows):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        org.time_zone = ZONE
        group = db.session.get(Device, world[device]).reporting_group
        apply_changes(group, [SettingChange(KEY, windows)])
        db.session.commit()


def closed_until_in_three_days(app, world, device):
    """A schedule whose only window is 10:00-11:00 three days from now (Madrid)."""
    day = _today() + timedelta(days=3)
    set_windows(
        app, world, device, [{"days": [DAYS[day.weekday()]], "from": "10:00", "to": "11:00"}]
    )
    return datetime.combine(day, time(10), tzinfo=ZoneInfo(ZONE))


def open_around_now(app, world, device):
    """Open all of yesterday, today and tomorrow (Madrid): closes the day after, 00:00."""
    days = [DAYS[(_today() + timedelta(days=k)).weekday()] for k in (-1, 0, 1)]
    set_windows(app, world, device, [{"days": days, "from": "00:00", "to": "24:00"}])
    return datetime.combine(_today() + timedelta(days=2), time(0), tzinfo=ZoneInfo(ZONE))


def test_outside_the_window_the_start_is_refused_naming_the_next_window(app, client, world):
    opens = closed_until_in_three_days(app, world, "server")
    response = client.post(
        "/api/v1/assistances",
        headers=world["tokens"]["operator"],
        json={"device_id": world["server"], "type": "unattended"},
    )
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "outside_access_window"
    day = format_date(opens, "full", locale="en")
    assert f"({ZONE}); the next window opens {day} at 10:00." in error["message"]
    assert "Servers" in error["message"]
    with app.app_context():
        refused = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "assistance.refused")
        ).scalar_one()
        assert refused.details["code"] == "outside_access_window"
        assert db.session.execute(select(Assistance)).first() is None
    shown = client.get(
        f"/api/v1/devices/{world['server']}", headers=world["tokens"]["operator"]
    ).get_json()["remote_assistance"]
    for ra_type in ("interactive", "unattended"):
        assert shown[ra_type]["code"] == "outside_access_window"
    assert shown["unattended"]["message"] == error["message"]


def test_the_refusal_speaks_the_readers_language(app, client, world):
    opens = closed_until_in_three_days(app, world, "server")
    response = client.post(
        "/api/v1/assistances",
        headers={**world["tokens"]["operator"], "Accept-Language": "es"},
        json={"device_id": world["server"], "type": "unattended"},
    )
    message = response.get_json()["error"]["message"]
    day = format_date(opens, "full", locale="es")
    assert f"{day} a las 10:00" in message
    assert format_skeleton("EEE", opens, locale="es") in message  # the schedule, in Spanish


def test_the_start_page_says_why_and_when(app, browser, world):
    closed_until_in_three_days(app, world, "server")
    assert browser.login("operator@acme.example", factories.PASSWORD).status_code == 302
    html = browser.get(f"/workspaces/devices/{world['server']}/assist").get_data(as_text=True)
    # interactive and unattended (dynamic is refused first: the group does not allow it)
    assert html.count("the next window opens") == 2
    refused = browser.submit(
        f"/workspaces/devices/{world['server']}/assist", {"type": "unattended"}
    )
    assert refused.status_code == 409
    assert "the next window opens" in refused.get_data(as_text=True)


def test_other_groups_and_an_empty_schedule_are_not_limited(app, client, world):
    closed_until_in_three_days(app, world, "server")
    start(client, world, "laptop", "interactive")  # another group: no schedule
    set_windows(app, world, "server", [])
    start(client, world, "server", "unattended")


def test_inside_the_window_unattended_records_when_it_closes_interactive_does_not(
    app, client, world
):
    closes = open_around_now(app, world, "server")
    body = start(client, world, "server", "unattended")
    assert datetime.fromisoformat(body["window_closes_at"]) == closes
    open_around_now(app, world, "laptop")
    interactive = start(client, world, "laptop", "interactive")
    assert interactive["window_closes_at"] is None


def _events(app, assistance_id, action):
    with app.app_context():
        return list(
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.target_id == str(assistance_id))
                .order_by(AuditEvent.seq)
            ).scalars()
        )


def _closes_in(app, assistance_id, delta):
    with app.app_context():
        db.session.get(Assistance, assistance_id).window_closes_at = utcnow() + delta
        db.session.commit()


def test_warned_at_15_and_5_minutes_once_each_then_ended_at_the_close(app, client, world):
    open_around_now(app, world, "server")
    assistance_id, _token, _password, _order = ready_unattended(app, client, world)
    with app.app_context():
        assert sweep()["window_warned"] == 0  # nothing due yet

    _closes_in(app, assistance_id, timedelta(minutes=14, seconds=50))
    with app.app_context():
        assert sweep()["window_warned"] == 1
        assert sweep()["window_warned"] == 0  # once
    [first] = _events(app, assistance_id, "assistance.window_closing")
    assert first.details["minutes"] == 15 and first.actor == "system"

    _closes_in(app, assistance_id, timedelta(minutes=4, seconds=50))
    with app.app_context():
        assert sweep()["window_warned"] == 1
        assert sweep()["window_warned"] == 0
    assert [
        e.details["minutes"] for e in _events(app, assistance_id, "assistance.window_closing")
    ] == [15, 5]

    _closes_in(app, assistance_id, -timedelta(seconds=1))
    with app.app_context():
        assert sweep()["window_closed"] == 1
        assert sweep()["window_closed"] == 0
        row = db.session.get(Assistance, assistance_id)
        assert row.state == "expired" and row.end_reason == "the access window closed"
        assert row.activation_file is None and row.password_hash is None
        stop = db.session.get(AgentOrder, row.stop_order_id)
        assert stop.type == "ra.unattended.stop" and row.teardown == "pending"
    [closed] = _events(app, assistance_id, "assistance.window_closed")
    assert closed.details["end_reason"] == "window_closed"


def test_a_late_sweep_sends_only_the_warning_due_now(app, client, world):
    open_around_now(app, world, "server")
    body = start(client, world, "server", "unattended")
    _closes_in(app, body["id"], timedelta(minutes=3))
    with app.app_context():
        assert sweep()["window_warned"] == 1
        assert sweep()["window_warned"] == 0
    assert [
        e.details["minutes"] for e in _events(app, body["id"], "assistance.window_closing")
    ] == [5]


def test_an_assistance_ended_before_the_close_is_left_alone(app, client, world):
    open_around_now(app, world, "server")
    body = start(client, world, "server", "unattended")
    client.post(f"/api/v1/assistances/{body['id']}/end", headers=world["tokens"]["operator"])
    _closes_in(app, body["id"], -timedelta(seconds=1))
    with app.app_context():
        counts = sweep()
    assert counts["window_closed"] == 0 and counts["window_warned"] == 0
    assert _events(app, body["id"], "assistance.window_closed") == []


def test_the_assistance_page_shows_the_close_and_the_warning(
    app, browser, make_browser, client, world
):
    open_around_now(app, world, "server")
    body = start(client, world, "server", "unattended")
    assert browser.login("operator@acme.example", factories.PASSWORD).status_code == 302
    live = f"/workspaces/assistances/{body['id']}/live"
    html = browser.get(live).get_data(as_text=True)
    assert 'id="window-notice"' in html and "ended when it closes" in html
    _closes_in(app, body["id"], timedelta(minutes=10))
    with app.app_context():
        sweep()
    html = browser.get(live).get_data(as_text=True)
    assert "The access window closes in at most 15 minutes" in html
    lead = make_browser()
    assert lead.login("lead@acme.example", factories.PASSWORD).status_code == 302
    log = lead.get("/audit").get_data(as_text=True)
    assert "its access window closes in 15 minutes" in log


def test_when_the_close_is_recorded_it_is_in_utc(app, client, world):
    closes = open_around_now(app, world, "server")
    body = start(client, world, "server", "unattended")
    with app.app_context():
        stored = db.session.get(Assistance, body["id"]).window_closes_at
    assert stored == closes.astimezone(UTC) and stored.tzinfo is not None
