"""Portal → Audit log and `GET /api/v1/audit`: filters, pages, CSV export, access."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.audit import chain as audit
from app.extensions import db
from app.models import AuditEvent, Organization
from tests import factories
from tests.portal.test_workspaces import Counter

DAY1 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY2 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY3 = datetime(2026, 3, 3, 23, 59, tzinfo=UTC)


@dataclass(frozen=True)
class Log:
    org: int
    auditor: str
    auditor_headers: dict
    operator: str
    other_org: int


def _record(monkeypatch, when, action, org_id, actor="", target=None, details=None):
    monkeypatch.setattr(audit, "utcnow", lambda: when)
    audit.record(action, organization_id=org_id, actor_label=actor, target=target, details=details)


@pytest.fixture
def log(app, monkeypatch):
    """Acme's log: a few known events over three days, plus another organization's."""
    with app.app_context():
        org = factories.create_org("Acme")
        other = factories.create_org("Other")
        auditor = factories.create_member(org, "auditor")
        operator = factories.create_member(org, "operator")
        headers = factories.api_headers(auditor, org)
        _record(monkeypatch, DAY1, "role.created", org.id, "ana@acme.example", ("Role", 7))
        _record(monkeypatch, DAY2, "role.updated", org.id, "ana@acme.example", ("Role", 7))
        _record(
            monkeypatch, DAY2, "membership.updated", org.id, "ben@acme.example", ("Membership", 3)
        )
        _record(
            monkeypatch,
            DAY3,
            "role.deleted",
            org.id,
            "ben@acme.example",
            ("Role", 8),
            {"name": '=HYPERLINK("http://evil")'},
        )
        _record(monkeypatch, DAY2, "role.created", other.id, "spy@other.example", ("Role", 7))
        monkeypatch.undo()
        db.session.commit()
        return Log(org.id, auditor.email, headers, operator.email, other.id)


@pytest.fixture
def auditor(make_browser, log):
    browser = make_browser()
    assert browser.login(log.auditor, factories.PASSWORD).status_code == 302
    return browser


KNOWN = {"role.created", "role.updated", "role.deleted", "membership.updated"}


def _known(actions):
    """The fixture's own events among `actions` (factories record others too)."""
    return [a for a in actions if a in KNOWN]


def _rows(html):
    """The action of each event row shown, in page order."""
    return re.findall(r'data-action="([\w.]+)"', html)


def _api(client, log, query=""):
    response = client.get(f"/api/v1/audit{query}", headers=log.auditor_headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


FILTERS = {
    "?actor=ana": ["role.updated", "role.created"],
    "?actor=BEN%40acme": ["role.deleted", "membership.updated"],
    "?action=role.created": ["role.created"],
    "?action=role.*": ["role.deleted", "role.updated", "role.created"],
    "?target_type=Membership": ["membership.updated"],
    "?target_type=Role&target_id=7": ["role.updated", "role.created"],
    "?from=2026-03-02&to=2026-03-02": ["membership.updated", "role.updated"],
    "?from=2026-03-02T12:00:00Z": ["role.deleted"],
    "?to=2026-03-01": ["role.created"],
    "?actor=spy": [],
}


@pytest.mark.parametrize("query", FILTERS)
def test_audit_log_page_filters(auditor, log, query):
    html = auditor.get(f"/audit{query}").get_data(as_text=True)
    assert _known(_rows(html)) == FILTERS[query]


@pytest.mark.parametrize("query", FILTERS)
def test_audit_api_filters(client, log, query):
    body = _api(client, log, query)
    assert _known(e["action"] for e in body["items"]) == FILTERS[query]
    assert all(e["actor"] != "spy@other.example" for e in body["items"])


def test_audit_log_never_shows_another_organizations_events(auditor, client, log):
    html = auditor.get("/audit").get_data(as_text=True)
    assert "spy@other.example" not in html
    body = _api(client, log, "?actor=spy")
    assert body["total"] == 0 and body["items"] == []


def test_bad_filters_are_400_with_the_field(auditor, client, log):
    assert auditor.get("/audit?from=yesterday").status_code == 400
    assert auditor.get("/audit?page=0").status_code == 400
    assert auditor.get("/audit?from=2026-03-03&to=2026-03-01").status_code == 400
    for query, field in [
        ("?from=yesterday", "from"),
        ("?to=2026-13-01", "to"),
        ("?page=x", "page"),
        ("?page_size=501", "page_size"),
        ("?actor=" + "a" * 300, "actor"),
    ]:
        response = client.get(f"/api/v1/audit{query}", headers=log.auditor_headers)
        assert response.status_code == 400, query
        assert response.get_json()["error"]["field"] == field


def _bulk(app, org_id, n):
    with app.app_context():
        for i in range(n):
            audit.record("bulk.event", organization_id=org_id, actor_label="bot", details={"i": i})
        db.session.commit()


def test_audit_log_paginates_newest_first(app, auditor, client, log):
    _bulk(app, log.org, 120)
    first = auditor.get("/audit?action=bulk.event").get_data(as_text=True)
    assert "Page 1 of 3 (120)" in first
    assert first.count("bulk.event</code>") == 50
    assert "<dt>i</dt><dd>119</dd>" in first and "<dt>i</dt><dd>69</dd>" not in first
    third = auditor.get("/audit?action=bulk.event&page=3").get_data(as_text=True)
    assert third.count("bulk.event</code>") == 20 and "<dt>i</dt><dd>0</dd>" in third
    body = _api(client, log, "?action=bulk.event&page_size=100&page=2")
    assert body["total"] == 120 and body["pages"] == 2 and len(body["items"]) == 20
    seqs = [e["seq"] for e in body["items"]]
    assert seqs == sorted(seqs, reverse=True)


def test_audit_log_page_uses_a_constant_number_of_queries(app, auditor, client, log):
    urls = ["/audit", "/audit?action=role.*&from=2026-01-01", "/api/v1/audit"]

    def counts():
        result = []
        for url in urls:
            headers = log.auditor_headers if url.startswith("/api") else {}
            with Counter(app) as counter:
                assert auditor.client.get(url, headers=headers).status_code == 200
            result.append(counter.count)
        return result

    counts()
    small = counts()
    _bulk(app, log.org, 80)
    with app.app_context():
        for i in range(20):
            audit.record(f"kind{i}.event", organization_id=log.org, target=("Kind", i))
        db.session.commit()
    assert counts() == small


def test_csv_export_has_the_filtered_events_and_is_audited(app, auditor, log):
    response = auditor.get("/audit/export.csv?action=role.*&actor=ben")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:5] == ["occurred_at", "seq", "actor", "actor_user_id", "action"]
    assert [(r[2], r[4]) for r in rows[1:]] == [("ben@acme.example", "role.deleted")]
    # A cell that a spreadsheet would run as a formula is neutralised.
    assert rows[1][8].startswith('{"name": "=HYPERLINK')
    with app.app_context():
        exported = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "audit.exported")
        ).scalar_one()
        assert exported.organization_id == log.org
        assert exported.actor == log.auditor
        assert exported.details["filters"] == {"action": "role.*", "actor": "ben"}


def test_csv_export_neutralises_formula_cells(app, auditor, log):
    with app.app_context():
        audit.record("x.event", organization_id=log.org, actor_label="=cmd|' /C calc'!A0")
        db.session.commit()
    rows = list(
        csv.reader(
            io.StringIO(auditor.get("/audit/export.csv?action=x.event").get_data(as_text=True))
        )
    )
    assert rows[1][2] == "'=cmd|' /C calc'!A0"


def test_csv_export_of_many_events_streams_them_all(app, auditor, log):
    _bulk(app, log.org, 2500)
    rows = list(
        csv.reader(
            io.StringIO(auditor.get("/audit/export.csv?action=bulk.event").get_data(as_text=True))
        )
    )
    assert len(rows) == 2501
    assert [int(r[1]) for r in rows[1:]] == sorted(int(r[1]) for r in rows[1:])


def test_audit_log_needs_audit_view(app, make_browser, client, log):
    browser = make_browser()
    browser.login(log.operator, factories.PASSWORD)
    assert browser.get("/audit").status_code == 403
    assert browser.get("/audit/export.csv").status_code == 403
    assert browser.get("/api/v1/audit").status_code == 403
    with app.app_context():
        org = db.session.get(Organization, log.org)
        operator_headers = factories.api_headers(factories.create_member(org, "operator"), org)
    assert client.get("/api/v1/audit", headers=operator_headers).status_code == 403
    assert client.get("/api/v1/audit").status_code == 401


# --- retention setting (Settings → Organization → Audit log) ---------------------------


def _retention(app, org_id):
    with app.app_context():
        return db.session.get(Organization, org_id).audit_retention_days


def test_org_admin_sets_the_retention_and_it_is_audited(app, make_browser, log):
    with app.app_context():
        admin = factories.create_member(db.session.get(Organization, log.org), "org_admin").email
    browser = make_browser()
    browser.login(admin, factories.PASSWORD)
    page = browser.get("/settings/organization?tab=audit").get_data(as_text=True)
    assert 'name="days"' in page and 'value="365"' in page
    response = browser.submit(
        "/settings/organization?tab=audit",
        {"days": "90"},
        post_url="/settings/organization/audit-retention",
    )
    assert response.status_code == 302
    assert _retention(app, log.org) == 90
    assert _retention(app, log.other_org) == 365
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "organization.audit_retention_changed")
        ).scalar_one()
        assert event.actor == admin
        assert event.details["changes"]["audit_retention_days"] == {"before": 365, "after": 90}


@pytest.mark.parametrize("days", ["5", "3651", "forever", ""])
def test_retention_outside_the_allowed_range_is_refused(app, make_browser, log, days):
    with app.app_context():
        admin = factories.create_member(db.session.get(Organization, log.org), "org_admin").email
    browser = make_browser()
    browser.login(admin, factories.PASSWORD)
    response = browser.submit(
        "/settings/organization?tab=audit",
        {"days": days},
        post_url="/settings/organization/audit-retention",
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Retention is" in html
    assert _retention(app, log.org) == 365


def test_retention_setting_needs_org_manage(app, auditor, log):
    response = auditor.submit(
        "/audit", {"days": "30"}, post_url="/settings/organization/audit-retention"
    )
    assert response.status_code == 403
    assert _retention(app, log.org) == 365
    # Even the database refuses a retention outside the range.
    with app.app_context():
        db.session.get(Organization, log.org).audit_retention_days = 1
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
