"""The helpdesk's day in the portal: languages and time zones, the global search, the
device list, the start form, confirmations and copy buttons, the audit log in words,
settings forms that keep edits, styled error pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app import audit
from app.extensions import db
from app.models import Assistance, AuditEvent, Organization, User
from tests import factories


@pytest.fixture
def operator(make_browser, world):
    browser = make_browser()
    browser.login("operator@acme.example", factories.PASSWORD)
    return browser


def _live(app, world, device="server", state="ready", type_="unattended"):
    with app.app_context():
        return factories.create_assistance(
            world["org"], world[device], world["operator_id"], state, type_
        )


@pytest.mark.parametrize(
    ("accept", "lang", "words"),
    [
        ("", "en", "Sign in"),
        ("ca", "ca", "Inicia la sessió"),
        ("es-ES,es;q=0.9", "es", "Iniciar sesión"),
        ("pt-BR,pt;q=0.9,en;q=0.5", "pt", "Iniciar sessão"),
        ("de-DE,de;q=0.9", "en", "Sign in"),
    ],
)
def test_pages_speak_the_browsers_language_else_english(client, accept, lang, words):
    html = client.get("/login", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert f'<html lang="{lang}">' in html and words in html


def test_the_switcher_and_the_profile_choice_win_over_the_browser(app, make_browser, world):
    browser = make_browser()
    page = browser.token("/login")
    browser.client.post("/language", data={"csrf_token": page, "language": "ca", "next": "/login"})
    html = browser.get("/login", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="ca">' in html
    browser.login("operator@acme.example", factories.PASSWORD)
    response = browser.submit(
        "/profile",
        {"language": "pt", "time_zone": "Europe/Lisbon"},
        post_url="/profile/preferences",
    )
    assert response.status_code == 302
    html = browser.get("/workspaces/devices").get_data(as_text=True)
    assert '<html lang="pt">' in html and "Dispositivos" in html
    with app.app_context():
        user = db.session.execute(
            db.select(User).where(User.email == "operator@acme.example")
        ).scalar_one()
        assert (user.language, user.time_zone) == ("pt", "Europe/Lisbon")
    bad = browser.submit(
        "/profile", {"language": "xx", "time_zone": "Mars/Base"}, post_url="/profile/preferences"
    )
    assert bad.status_code == 400


def test_times_are_shown_in_the_persons_zone_else_the_organizations(app, operator, world):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        org.time_zone = "Asia/Tokyo"
        a = Assistance(
            organization_id=world["org"],
            device_id=world["server"],
            operator_id=world["operator_id"],
            requested_type="unattended",
            type="unattended",
            state="expired",
            sid="111222333",
            created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
        )
        db.session.add(a)
        db.session.commit()
    html = operator.get("/workspaces/assistances").get_data(as_text=True)
    assert "Mar 2, 2026, 08:30" in html  # Tokyo is UTC+9
    operator.submit(
        "/profile",
        {"language": "en", "time_zone": "America/New_York"},
        post_url="/profile/preferences",
    )
    html = operator.get("/workspaces/assistances").get_data(as_text=True)
    assert "Mar 1, 2026, 18:30" in html
    assert 'datetime="2026-03-01T23:30:00+00:00"' in html


def test_global_search_finds_hostnames_usernames_session_ids_and_numbers(app, operator, world):
    number = _live(app, world)
    html = operator.get("/search?q=srv").get_data(as_text=True)
    assert ">SRV-1</a>" in html
    html = operator.get("/search?q=ana").get_data(as_text=True)
    assert "<strong>ana</strong>" in html and ">LAPTOP-1</a>" in html
    html = operator.get("/search?q=987654321").get_data(as_text=True)
    assert f"#{number}</a>" in html
    html = operator.get(f"/search?q=%23{number}").get_data(as_text=True)
    assert f"#{number}</a>" in html
    assert "Nothing matches" in operator.get("/search?q=zzz").get_data(as_text=True)


def test_sessions_are_searchable_by_username(operator, world):
    html = operator.get("/workspaces/sessions?q=ana").get_data(as_text=True)
    assert ">ana<" in html and ">LAPTOP-1</a>" in html and ">VDI-1</a>" not in html


def test_device_list_shows_last_seen_current_users_and_live_assistance(app, operator, world):
    number = _live(app, world, device="laptop", state="connected", type_="interactive")
    html = operator.get("/workspaces/devices?q=LAPTOP").get_data(as_text=True)
    assert "ago</time>" in html  # last seen, relative
    assert ">ana" in html
    assert f'href="/workspaces/assistances/{number}"' in html and f"Assistance #{number}" in html


def test_start_form_preselects_an_available_type_and_disables_start_when_none(operator, world):
    html = operator.get(f"/workspaces/devices/{world['server']}/assist").get_data(as_text=True)
    assert 'value="unattended" checked' in html  # interactive is refused: no user session
    assert '<button type="submit" >' in html or '<button type="submit">' in html
    html = operator.get(f"/workspaces/devices/{world['linux']}/assist").get_data(as_text=True)
    assert "checked" not in html.split('class="ra-options"')[1].split("</fieldset>")[0]
    assert 'disabled aria-describedby="none-available"' in html


def test_several_sessions_get_a_picker_and_a_chosen_session_is_not_refused(operator, world):
    html = operator.get(f"/workspaces/devices/{world['multi']}/assist").get_data(as_text=True)
    assert "Which user session?" in html and 'name="session"' in html
    with_session = operator.get(f"/workspaces/devices/{world['multi']}").get_data(as_text=True)
    assert "session=" in with_session
    html = operator.get(f"/workspaces/devices/{world['laptop']}/assist?session=999999")
    assert html.status_code == 404


def test_busy_device_refusal_links_the_assistance_that_holds_it(app, operator, world):
    number = _live(app, world)
    html = operator.get(f"/workspaces/devices/{world['server']}/assist").get_data(as_text=True)
    assert f"already has a live remote assistance (#{number})" in html
    assert f'href="/workspaces/assistances/{number}"' in html
    assert "device_busy" not in html


def test_live_page_confirms_destructive_actions_and_offers_copy(app, operator, world):
    number = _live(app, world)
    html = operator.get(f"/workspaces/assistances/{number}").get_data(as_text=True)
    assert 'aria-live="polite"' in html
    assert html.count("data-confirm=") == 2  # End, Revoke credentials
    assert 'data-copy="#secret-sid"' in html and 'data-copy="#secret-password"' in html
    interactive = _live(app, world, device="laptop", type_="interactive")
    html = operator.get(f"/workspaces/assistances/{interactive}").get_data(as_text=True)
    assert "Revoke credentials" not in html  # nothing to revoke: no password
    assert "dynamic: dynamic" not in html


def test_audit_log_hides_sign_ins_and_names_the_operator_behind_relay_events(
    app, make_browser, world
):
    number = _live(app, world)
    with app.app_context():
        audit.record(
            "assistance.connected",
            organization_id=world["org"],
            target=("Assistance", number),
            actor_label="relay",
        )
        db.session.commit()
    auditor = make_browser()
    auditor.login("auditor@acme.example", factories.PASSWORD)
    html = auditor.get("/audit").get_data(as_text=True)
    assert 'data-action="auth.login"' not in html
    assert "connected to remote assistance" in html
    assert f'<a href="/workspaces/assistances/{number}">#{number} (SRV-1)</a>' in html
    with app.app_context():
        operator = db.session.get(User, world["operator_id"])
        shown = operator.name or operator.email
    assert f"{shown} connected to remote assistance" in html
    html = auditor.get("/audit?signins=1").get_data(as_text=True)
    assert 'data-action="auth.login"' in html
    with app.app_context():
        total = db.session.query(AuditEvent).count()
    assert total > 0


def test_settings_form_keeps_every_valid_edit_when_one_field_is_refused(app, make_browser, world):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        admin = factories.create_member(org, "org_admin")
        group = factories.group_of(org)
        email, group_id = admin.email, group.id
    browser = make_browser()
    browser.login(email, factories.PASSWORD)
    url = f"/settings/reporting-groups/{group_id}/agent-settings"
    response = browser.submit(
        url,
        {
            "val:audio_redirection": "on",
            "val:proxy_url": "set",
            "text:proxy_url": "ftp://not-a-proxy",
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'value="ftp://not-a-proxy"' in html  # the refused value, to correct
    assert '<option value="on" selected>' in html  # the valid edit, kept


@pytest.mark.parametrize("accept", ["", "ca"])
def test_error_pages_have_the_portals_look(client, accept):
    response = client.get("/no/such/page", headers={"Accept-Language": accept})
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert 'class="card narrow error-page"' in html and "portal.css" in html
    assert ("Page not found" if not accept else "No s'ha trobat la pàgina") in html


def test_tabs_are_shown_only_to_roles_that_can_use_them(app, make_browser, world):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        owner = factories.create_member(org, "product_owner").email
    browser = make_browser()
    browser.login(owner, factories.PASSWORD)
    html = browser.get("/settings/organization").get_data(as_text=True)
    assert "Administration" not in html and "/admin/" not in html
    lead = make_browser()
    lead.login("lead@acme.example", factories.PASSWORD)
    html = lead.get("/").get_data(as_text=True)
    assert "/admin/" not in html
