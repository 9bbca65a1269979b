"""Approval and reasons in the portal: the start form asks for a reason and says when
approval is needed, approvers see a badge and a list, decide from the list or the
assistance page, and the audit log reads the reason, ticket and note."""

from __future__ import annotations

import pytest

from app.agent_settings.service import SettingChange, apply_changes
from app.extensions import db
from app.models import Assistance, Organization
from app.people.organizations import builtin_role
from tests import factories
from tests.conftest import Browser

pytestmark = pytest.mark.usefixtures("as_worker")


def _govern(app, world, *, approval=True, reason=True):
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        operator = builtin_role(org.id, "operator")
        apply_changes(
            factories.product_of(org),
            [
                SettingChange("remote_assistance.approval_required", approval, operator.id),
                SettingChange("remote_assistance.reason_required", reason),
            ],
        )
        db.session.commit()


def _signed_in(app, email) -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(email, factories.PASSWORD).status_code == 302
    return browser


def test_operator_requests_with_a_reason_and_a_lead_approves_from_the_list(app, world):
    _govern(app, world)
    operator = _signed_in(app, "operator@acme.example")
    url = f"/workspaces/devices/{world['server']}/assist"
    page = operator.get(url).get_data(as_text=True)
    assert "Request approval" in page and 'id="approval-notice"' in page
    assert 'name="reason"' in page and "required" in page

    missing = operator.submit(url, {"type": "unattended", "ticket": "INC-9"})
    assert missing.status_code == 400
    html = missing.get_data(as_text=True)
    assert "requires a reason" in html and 'value="INC-9"' in html  # nothing typed is lost

    done = operator.submit(url, {"type": "unattended", "reason": "Disk <full>", "ticket": "INC-9"})
    assert done.status_code == 302
    with app.app_context():
        assistance_id = db.session.query(Assistance).one().id
    live = operator.get(done.headers["Location"]).get_data(as_text=True)
    assert "Waiting for an approver" in live and "Disk &lt;full&gt;" in live
    assert "Cancel request" in live and "Revoke credentials" not in live
    assert 'id="decide"' not in live  # the requester never decides

    lead = _signed_in(app, "lead@acme.example")
    home = lead.get("/workspaces/devices").get_data(as_text=True)
    assert "data-approvals-count" in home and ">1</span>" in home
    assert lead.get("/workspaces/approvals/count").get_json() == {"count": 1}
    listed = lead.get("/workspaces/approvals").get_data(as_text=True)
    assert f'id="request-{assistance_id}"' in listed and "INC-9" in listed
    approved = lead.submit(
        "/workspaces/approvals",
        {"note": "go ahead"},
        post_url=f"/workspaces/assistances/{assistance_id}/approve",
    )
    assert approved.status_code == 302
    after = lead.get("/workspaces/approvals").get_data(as_text=True)
    assert "is starting" in after and 'id="no-approvals"' in after
    assert lead.get("/workspaces/approvals/count").get_json() == {"count": 0}
    with app.app_context():
        row = db.session.get(Assistance, assistance_id)
        assert row.state == "requested" and row.decision_note == "go ahead"

    log = lead.get("/audit").get_data(as_text=True)
    assert "asked for approval" in log and "reason: Disk &lt;full&gt;" in log
    assert "ticket: INC-9" in log and "note: go ahead" in log


def test_deny_from_the_assistance_page_needs_a_reason(app, world):
    _govern(app, world, reason=False)
    operator = _signed_in(app, "operator@acme.example")
    operator.submit(f"/workspaces/devices/{world['server']}/assist", {"type": "unattended"})
    with app.app_context():
        assistance_id = db.session.query(Assistance).one().id
    lead = _signed_in(app, "lead@acme.example")
    page_url = f"/workspaces/assistances/{assistance_id}"
    assert 'id="decide"' in lead.get(page_url).get_data(as_text=True)
    deny_url = f"/workspaces/assistances/{assistance_id}/deny"
    empty = lead.submit(page_url, {"reason": " ", "back": "assistance"}, post_url=deny_url)
    assert empty.headers["Location"].endswith(page_url)
    assert "Say why you deny" in lead.get(page_url).get_data(as_text=True)
    lead.submit(page_url, {"reason": "Not during payroll", "back": "assistance"}, post_url=deny_url)
    html = operator.get(page_url).get_data(as_text=True)
    assert "Denied by an approver" in html and "Not during payroll" in html
    assert "Denied by the user" not in html


def test_people_without_ra_approve_see_no_approvals(app, world):
    _govern(app, world)
    operator = _signed_in(app, "operator@acme.example")
    assert operator.get("/workspaces/approvals").status_code == 403
    assert operator.get("/workspaces/approvals/count").get_json() == {"count": 0}
    assert "data-approvals-count" not in operator.get("/workspaces/devices").get_data(as_text=True)
