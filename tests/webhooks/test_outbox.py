"""The outbox: events become deliveries in the transaction of the change, for the endpoints
that want them, with the payload of SPEC §5; the secret is stored sealed only."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select, text

from app import audit
from app.extensions import db
from app.models import AuditEvent, Role, WebhookDelivery
from app.webhooks import endpoints as service
from tests.assistance.conftest import as_worker, world  # noqa: F401  (fixtures)
from tests.assistance.helpers import answer, connect, deliver, disconnect, ready_unattended
from tests.webhooks.helpers import deliveries, endpoint, events

URL = "https://hooks.example.com/in"


def test_a_rolled_back_change_sends_nothing(app, acme):
    org_id, _ = acme
    hook, _ = endpoint(app, org_id, URL, ["role.*"])
    with app.app_context():
        audit.record("role.updated", organization_id=org_id, actor_label="tests")
        db.session.rollback()
    assert deliveries(app, hook) == []
    events(app, org_id, "role.updated")
    assert [d.event_type for d in deliveries(app, hook)] == ["role.updated"]


def test_each_endpoint_gets_what_its_filter_wants(app, acme):
    org_id, _ = acme
    everything, _ = endpoint(app, org_id, URL, ["*"])
    assistances, _ = endpoint(app, org_id, URL, ["assistance.*"])
    one_type, _ = endpoint(app, org_id, URL, ["role.updated", "sso.*"])
    off, _ = endpoint(app, org_id, URL, ["*"])
    with app.app_context():
        service.set_enabled(service.endpoints_of(org_id)[3], None, False)
        db.session.commit()
    events(
        app,
        org_id,
        "assistance.started",
        "role.created",
        "role.updated",
        "auth.login",  # not published
        "api_token.created",  # not published
        "agent_settings.changed",
        "sso.configured",
    )

    def types(hook):
        return [d.event_type for d in deliveries(app, hook) if not d.event_type.startswith("web")]

    assert types(everything) == [
        "assistance.started",
        "role.created",
        "role.updated",
        "agent_settings.changed",
        "sso.configured",
    ]
    assert types(assistances) == ["assistance.started"]
    assert types(one_type) == ["role.updated", "sso.configured"]
    assert types(off) == []


def test_the_payload_is_the_spec_envelope_and_ordered_by_audit_seq(app, acme):
    org_id, admin_id = acme
    hook, _ = endpoint(app, org_id, URL, ["role.*"], admin_id=admin_id)
    events(app, org_id, "role.created", "role.updated", "role.deleted", one_transaction=True)
    rows = deliveries(app, hook)
    with app.app_context():
        audited = list(
            db.session.execute(
                select(AuditEvent.seq, AuditEvent.action)
                .where(AuditEvent.action.like("role.%"))
                .order_by(AuditEvent.seq)
            ).all()
        )
    assert [(r.seq, r.event_type) for r in rows] == [tuple(a) for a in audited]
    body = json.loads(rows[1].body)
    assert set(body) == {"id", "type", "created_at", "organization", "data"}
    assert body["id"] == rows[1].delivery_id and body["type"] == "role.updated"
    assert body["created_at"].endswith("Z")
    assert body["organization"] == {"id": org_id, "slug": "acme", "name": "Acme"}
    assert body["data"] == {
        "actor": {"user_id": None, "label": "tests"},
        "target": {"type": "Role", "id": "2"},
        "details": {"n": 1},
        "ip": None,
        "audit_seq": rows[1].seq,
    }


def test_role_and_settings_changes_made_by_the_services_are_published(app, acme):
    """Not only direct `audit.record` calls: the real services' events arrive."""
    from app.agent_settings.service import SettingChange, apply_changes
    from app.models import Organization, User
    from app.people.roles import update_role
    from tests import factories

    org_id, admin_id = acme
    hook, _ = endpoint(app, org_id, URL, ["role.*", "agent_settings.*"])
    with app.app_context():
        admin = db.session.get(User, admin_id)
        role = db.session.execute(
            select(Role).where(Role.organization_id == org_id, Role.builtin_key == "operator")
        ).scalar_one()
        update_role(admin, role, name="Level 1", permissions=["devices.view", "ra.start"])
        apply_changes(
            factories.product_of(db.session.get(Organization, org_id)),
            [SettingChange("audio_redirection", True)],
            actor=admin,
        )
        db.session.commit()
    assert [d.event_type for d in deliveries(app, hook)] == [
        "role.updated",
        "agent_settings.changed",
    ]


def test_every_state_change_of_an_assistance_is_published(app, client, world, as_worker):  # noqa: F811
    hook, _ = endpoint(app, world["org"], URL, ["assistance.*"])
    assistance_id, token, password, _ = ready_unattended(app, client, world)
    connected = connect(client, token, password).get_json()
    disconnect(client, connected["connection_id"])
    client.post(f"/api/v1/assistances/{assistance_id}/end", headers=world["tokens"]["operator"])
    stop = [o for o in deliver(app, world["server"]) if o["type"] == "ra.unattended.stop"]
    answer(app, stop[0]["id"], result={"service_removed": True})
    refused = client.post(
        "/api/v1/assistances",
        headers=world["tokens"]["operator"],
        json={"device_id": world["linux"], "type": "unattended"},
    )
    assert refused.status_code == 409
    published = [d.event_type for d in deliveries(app, hook)]
    assert published == [
        "assistance.started",  # requested
        "assistance.service_started",  # ready
        "assistance.file_signed",
        "assistance.revealed",
        "assistance.connected",  # connected
        "assistance.disconnected",  # disconnected (grace window)
        "assistance.ended",  # expired, by the operator
        "assistance.teardown_confirmed",
        "assistance.refused",
    ]
    ended = json.loads(deliveries(app, hook)[6].body)["data"]["details"]
    assert ended["state"] == "expired" and ended["forced"] is False


def test_the_secret_is_never_stored_logged_or_audited_in_clear(app, acme, caplog):
    org_id, admin_id = acme
    caplog.set_level(logging.DEBUG)
    hook, secret = endpoint(app, org_id, URL, admin_id=admin_id)
    with app.app_context():
        secret2 = service.rotate_secret(service.endpoints_of(org_id)[0], None)
        service.send_test(service.endpoints_of(org_id)[0], None)
        db.session.commit()
        dumps = []
        for table in ("webhook_endpoints", "webhook_deliveries", "audit_events"):
            for row in db.session.execute(text(f"SELECT * FROM {table}")).all():  # noqa: S608
                dumps.append(repr(tuple(row)))
        raw = db.session.execute(
            text("SELECT secret_sealed FROM webhook_endpoints WHERE id = :id"), {"id": hook}
        ).scalar_one()
    everything = "\n".join(dumps) + caplog.text
    for value in (secret, secret2):
        assert value not in everything
        assert value.encode() not in bytes(raw)
        assert value[12:].encode() not in bytes(raw)
    assert deliveries(app, hook)  # the rows exist; they just carry no secret


def test_audit_details_show_where_an_endpoint_points_but_not_its_path(app, acme):
    org_id, _ = acme
    endpoint(app, org_id, "https://collector.example.com:8443/receiver/v1/TOKEN123?key=abc")
    with app.app_context():
        details = db.session.execute(
            select(AuditEvent.details).where(AuditEvent.action == "webhook.created")
        ).scalar_one()
    assert details["url"] == "https://collector.example.com:8443/…"
    assert "TOKEN123" not in json.dumps(details)


def test_a_test_event_goes_to_its_endpoint_only(app, acme):
    org_id, _ = acme
    first, _ = endpoint(app, org_id, URL, ["*"])
    second, _ = endpoint(app, org_id, URL, ["*"])
    with app.app_context():
        service.send_test(service.endpoints_of(org_id)[0], None)
        db.session.commit()
    assert [d.event_type for d in deliveries(app, first)][-1] == "ping"
    assert "ping" not in [d.event_type for d in deliveries(app, second)]
    with app.app_context():
        assert (
            db.session.execute(
                select(WebhookDelivery).where(WebhookDelivery.event_type == "webhook.test_sent")
            ).first()
            is None
        )
