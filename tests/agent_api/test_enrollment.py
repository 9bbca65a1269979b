from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.fleet.enrollment import create_enrollment_token, revoke_enrollment_token, token_hash
from app.models import Device, EnrollmentToken, ReportingGroup, utcnow
from tests import factories
from tests.agent_api.conftest import Agent


def _token(app, group_id, **kw):
    with app.app_context():
        _, raw = create_enrollment_token(db.session.get(ReportingGroup, group_id), "t", **kw)
        db.session.commit()
        return raw


def test_enroll_creates_the_device_in_the_tokens_group(app, make_agent, fleet):
    agent = make_agent(hostname="LAPTOP-7", device_kind="vdi")
    with app.app_context():
        device = db.session.get(Device, agent.device_id)
        assert (device.hostname, device.kind, device.reporting_group_id) == (
            "LAPTOP-7",
            "vdi",
            fleet["group_id"],
        )
        assert device.token_hash == token_hash(agent.token)  # only the hash is stored
        assert agent.token not in (device.token_hash, device.hardware_id)


def test_enroll_returns_the_contract_fields(app, client, fleet):
    response = Agent(client, fleet["token"]).enroll()
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"device_id", "device_token", "checkin_interval_s"}
    assert body["checkin_interval_s"] == app.config["AGENT_CHECKIN_INTERVAL_SECONDS"]


def test_reenrolling_the_same_hardware_updates_the_device_and_replaces_its_token(
    app, client, make_agent
):
    first = make_agent(hostname="OLD-NAME")
    again = Agent(
        client,
        first.enrollment_token,
        hardware_id=first.hardware_id,
        hostname="NEW-NAME",
        agent_version="24.11",
    )
    assert again.enroll().status_code == 201
    assert again.device_id == first.device_id
    with app.app_context():
        assert db.session.query(Device).count() == 1
        device = db.session.get(Device, first.device_id)
        assert (device.hostname, device.agent_version) == ("NEW-NAME", "24.11")
    assert first.checkin().status_code == 401  # the old device token is dead
    assert again.checkin().status_code == 200


def test_same_hardware_id_in_another_org_is_another_device(app, client, make_agent):
    mine = make_agent()
    with app.app_context():
        other = factories.create_org("Other")
        _, raw = create_enrollment_token(factories.group_of(other), "t")
        db.session.commit()
    theirs = Agent(client, raw, hardware_id=mine.hardware_id)
    assert theirs.enroll().status_code == 201
    assert theirs.device_id != mine.device_id


def test_expired_token_is_refused(app, client, fleet):
    raw = _token(app, fleet["group_id"], days=1)
    with app.app_context():
        token = db.session.execute(
            select(EnrollmentToken).where(EnrollmentToken.token_hash == token_hash(raw))
        ).scalar_one()
        token.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = Agent(client, raw).enroll()
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_enrollment_token"


def test_use_limit_is_enforced(app, client, fleet):
    raw = _token(app, fleet["group_id"], max_uses=2)
    assert Agent(client, raw).enroll().status_code == 201
    assert Agent(client, raw).enroll().status_code == 201
    assert Agent(client, raw).enroll().status_code == 401
    with app.app_context():
        assert db.session.query(Device).count() == 2


def test_revoked_token_is_refused(app, client, fleet):
    raw = _token(app, fleet["group_id"])
    with app.app_context():
        token = db.session.execute(
            select(EnrollmentToken).where(EnrollmentToken.token_hash == token_hash(raw))
        ).scalar_one()
        revoke_enrollment_token(token)
        db.session.commit()
    assert Agent(client, raw).enroll().status_code == 401


def test_unknown_token_and_bad_fields_are_refused(app, client, fleet):
    assert Agent(client, "enr_nope").enroll().status_code == 401
    response = Agent(client, fleet["token"], device_kind="toaster").enroll()
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "device_kind"
    response = Agent(client, fleet["token"], agent_version="latest").enroll()
    assert response.get_json()["error"]["field"] == "agent_version"
    with app.app_context():
        assert db.session.query(Device).count() == 0
