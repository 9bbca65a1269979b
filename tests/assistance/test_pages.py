"""The operator's screens: start with per-type availability, the live page, reveal once,
download, end, tools, the list, and the operator device on the profile."""

import re

import pytest

from app.extensions import db
from app.models import Assistance, OperatorDevice, Organization
from tests import factories
from tests.assistance.helpers import answer, deliver, sign

pytestmark = pytest.mark.usefixtures("as_worker")


@pytest.fixture
def operator(browser, world):
    assert browser.login("operator@acme.example", factories.PASSWORD).status_code == 302
    return browser


def test_start_page_offers_all_three_types_with_the_reason_for_each(app, operator, world):
    html = operator.get(f"/workspaces/devices/{world['kiosk']}/assist").get_data(as_text=True)
    assert html.count('name="type"') == 3
    assert "configured for dynamic" in html  # interactive and unattended refused, with why
    assert html.count("Not available now") == 2 and "Available" in html


def test_start_from_the_sessions_view_targets_that_session(app, operator, world):
    with app.app_context():
        from app.models import DeviceSession

        session_id = (
            db.session.query(DeviceSession)
            .filter_by(device_id=world["multi"], session_key="2")
            .one()
            .id
        )
    response = operator.submit(
        f"/workspaces/devices/{world['multi']}/assist?session={session_id}",
        {"type": "interactive", "session": str(session_id)},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.query(Assistance).one().session_key == "2"


def test_refused_start_shows_a_sentence_without_the_code(app, operator, world):
    response = operator.submit(
        f"/workspaces/devices/{world['linux']}/assist", {"type": "unattended"}
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "supports Windows devices only" in html
    assert "not_windows" not in html  # the code is for programs (the API keeps it)


def test_live_page_reveal_once_download_and_end(app, operator, world):
    response = operator.submit(
        f"/workspaces/devices/{world['server']}/assist", {"type": "unattended"}
    )
    assistance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = operator.get(f"/workspaces/assistances/{assistance_id}").get_data(as_text=True)
    assert "requested" in page and "data-live-url" in page
    answer(app, deliver(app, world["server"])[0]["id"], result={"session_id": "987654321"})
    sign(app, assistance_id)
    live = operator.get(f"/workspaces/assistances/{assistance_id}/live").get_data(as_text=True)
    assert "badge state-ready" in live and "Download activation file (.exe)" in live
    assert 'id="reveal"' in live and "data-deadline" in live
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    first = operator.client.post(
        f"/workspaces/assistances/{assistance_id}/reveal", headers={"X-CSRFToken": token}
    )
    assert first.status_code == 200 and first.get_json()["session_id"] == "987654321"
    second = operator.client.post(
        f"/workspaces/assistances/{assistance_id}/reveal", headers={"X-CSRFToken": token}
    )
    assert second.status_code == 409
    live = operator.get(f"/workspaces/assistances/{assistance_id}/live").get_data(as_text=True)
    assert 'id="reveal"' not in live and "shown once" in live
    assert first.get_json()["password"] not in live
    file = operator.get(f"/workspaces/assistances/{assistance_id}/file")
    assert file.status_code == 200 and file.data.endswith(b"FLXRA001")
    operator.submit(
        f"/workspaces/assistances/{assistance_id}",
        {},
        post_url=f"/workspaces/assistances/{assistance_id}/end",
    )
    live = operator.get(f"/workspaces/assistances/{assistance_id}/live").get_data(as_text=True)
    assert "badge state-cancelled" in live and "ended by operator" in live
    assert operator.get(f"/workspaces/assistances/{assistance_id}/file").status_code == 409


def test_reveal_without_csrf_is_refused(app, operator, world):
    response = operator.submit(
        f"/workspaces/devices/{world['server']}/assist", {"type": "unattended"}
    )
    assistance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    refused = operator.client.post(f"/workspaces/assistances/{assistance_id}/reveal")
    assert refused.status_code == 400


def test_assistance_list_filters(app, operator, world):
    operator.submit(f"/workspaces/devices/{world['server']}/assist", {"type": "unattended"})
    operator.submit(f"/workspaces/devices/{world['laptop']}/assist", {"type": "interactive"})
    everything = operator.get("/workspaces/assistances").get_data(as_text=True)
    assert "SRV-1" in everything and "LAPTOP-1" in everything
    only = operator.get("/workspaces/assistances?type=interactive").get_data(as_text=True)
    assert "LAPTOP-1" in only and "SRV-1" not in only
    assert "SRV-1" in operator.get("/workspaces/assistances?q=srv&mine=1").get_data(as_text=True)


def test_profile_registers_the_operator_device(app, operator, world):
    response = operator.submit(
        "/profile", {"hostname": "ops-pc"}, post_url="/profile/operator-device"
    )
    assert response.status_code == 302
    with app.app_context():
        row = db.session.query(OperatorDevice).one()
        assert row.device_id == world["opsdev"]
    html = operator.get(f"/workspaces/devices/{world['laptop']}/assist").get_data(as_text=True)
    assert ".flxra</code> for your operator device OPS-PC" in html
    missing = operator.submit(
        "/profile", {"hostname": "nope"}, post_url="/profile/operator-device", follow_redirects=True
    )
    assert "No single device named nope" in missing.get_data(as_text=True)


def test_other_orgs_assistance_pages_are_404(app, operator, world, make_browser):
    response = operator.submit(
        f"/workspaces/devices/{world['server']}/assist", {"type": "unattended"}
    )
    assistance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        other = factories.create_org("Other")
        email = factories.create_member(other, "org_admin").email
    intruder = make_browser()
    intruder.login(email, factories.PASSWORD)
    for path in ("", "/live", "/file"):
        assert intruder.get(f"/workspaces/assistances/{assistance_id}{path}").status_code == 404
    assert intruder.get(f"/workspaces/devices/{world['server']}/assist").status_code == 404


def test_a_start_from_the_page_without_ra_start_shows_ra_not_permitted(app, make_browser, world):
    auditor = make_browser()
    assert auditor.login("auditor@acme.example", factories.PASSWORD).status_code == 302
    response = auditor.submit(
        f"/workspaces/devices/{world['laptop']}/assist", {"type": "interactive"}
    )
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    # The ra_not_permitted sentence (pages show the sentence; the API adds the code).
    assert "Your role does not allow starting remote assistance (permission ra.start)" in html


def test_a_member_without_device_rights_gets_the_rules_refusal_not_the_page(
    app, make_browser, world
):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        role = factories.create_role(org, "Readers", {"audit.view"})
        email = factories.create_member_with(org, role).email
    reader = make_browser()
    assert reader.login(email, factories.PASSWORD).status_code == 302
    url = f"/workspaces/devices/{world['laptop']}/assist"
    assert reader.get(url).status_code == 403  # the page (hostname, sessions) stays hidden
    response = reader.submit("/profile", {"type": "interactive"}, post_url=url)
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "permission ra.start" in html and "LAPTOP-1" not in html
    with app.app_context():
        assert db.session.query(Assistance).count() == 0
