"""Access governance in a real browser, against the real processes: the organization admin
turns on approval for operators and reasons in the product's settings screen; an operator
on a phone, in Spanish, asks with a reason; a helpdesk lead, in Portuguese, sees the badge
come up by itself, approves from the approvals page, and the operator's page goes on to
ready. axe-core checks every page (tests/e2e/test_helpdesk_story.Walk)."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.models import Assistance, Organization
from app.people.organizations import builtin_role
from tests import factories
from tests.browser import chromium
from tests.e2e.conftest import free_port, seed_acme_fleet, start_stack, wait_for
from tests.e2e.test_helpdesk_story import FLEET, PEOPLE, Walk, _shots

pytestmark = pytest.mark.heavy


@pytest.fixture
def chromium_browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def governed(app, server, processes, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PORTAL_URL": url,
        "AGENT_CHECKIN_INTERVAL_SECONDS": 2,
        "ASSISTANCE_SWEEP_INTERVAL_SECONDS": 1,
        "ORDER_SWEEP_INTERVAL_SECONDS": 1,
        "SIGNING_KEYS_DIR": tmp_path / "keys",
    }
    with app.app_context():
        org, fleet = seed_acme_fleet(FLEET, closed_group="Contractors")
        for role, email in PEOPLE.values():
            factories.create_member(org, role, email=email)
        db.session.commit()
        ids = {
            "org": org.id,
            "product": factories.product_of(org).id,
            "operator_role": builtin_role(org.id, "operator").id,
        }
    start_stack(server, processes, port, env, fleet)

    def server_id():
        from app.models import Device

        with app.app_context():
            found = db.session.query(Device).filter_by(hostname="SRV-FILES").one_or_none()
            return found.id if found else None

    assert wait_for(lambda: server_id() is not None, timeout=60), processes.output()[-3000:]
    return {"url": url, "server": server_id(), **ids}


def test_approval_and_reason_from_the_settings_screen_to_a_ready_assistance(
    app, governed, chromium_browser, tmp_path
):
    shots = _shots(tmp_path)
    admin = Walk(chromium_browser, governed["url"], "en-GB", 1366, shots, "admin")
    admin.sign_in("admin@acme.example")
    admin.go(f"/settings/products/{governed['product']}/agent-settings", "governance-settings")
    page = admin.page
    page.select_option(
        f"select[name='val:remote_assistance.approval_required@{governed['operator_role']}']",
        "on",
    )
    page.select_option("select[name='val:remote_assistance.reason_required']", "on")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state("load")
    admin.check("governance-settings-saved")
    admin.close()

    operator = Walk(chromium_browser, governed["url"], "es-ES", 390, shots, "operator")
    operator.sign_in("operator@acme.example")
    operator.go(f"/workspaces/devices/{governed['server']}/assist", "request-approval")
    page = operator.page
    assert page.is_visible("#approval-notice")
    assert page.get_attribute("#reason", "required") is not None
    page.fill("#reason", "El disco D: está lleno")
    page.fill("#ticket", "INC-2041")
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r".*/workspaces/assistances/\d+$"))
    page.wait_for_selector("#live .badge.state-awaiting_approval")
    assistance_id = int(page.url.rsplit("/", 1)[1])
    assert "INC-2041" in page.text_content("#assistance-ticket")
    operator.check("awaiting-approval")

    lead = Walk(chromium_browser, governed["url"], "pt-PT", 1366, shots, "lead")
    lead.sign_in("lead@acme.example")
    badge = lead.page.locator(".topbar [data-approvals-count]")
    badge.wait_for(state="visible")
    assert badge.text_content().strip() == "1"
    lead.go("/workspaces/approvals", "approvals")
    row = lead.page.locator(f"#request-{assistance_id}")
    assert "El disco D: está lleno" in row.text_content()
    row.locator("input[name=note]").fill("Pode avançar")
    row.locator("form.approve button").click()
    lead.page.wait_for_selector("#no-approvals")
    lead.check("approved")
    assert lead.page.locator(".topbar [data-approvals-count]").is_hidden()
    lead.close()

    # The operator's page follows by itself: the agent starts the service, the file is signed.
    page.wait_for_selector("#live .badge.state-ready", timeout=30_000)
    assert "Pode avançar" in page.text_content("#assistance-approval")
    operator.check("approved-ready")
    operator.close()
    with app.app_context():
        row = db.session.get(Assistance, assistance_id)
        assert row.decided_by.email == "lead@acme.example"
        assert row.reason == "El disco D: está lleno" and row.ticket == "INC-2041"
        assert db.session.get(Organization, governed["org"]) is not None
