"""Tenancy, Flexxible Tools rules and concurrency of remote assistance."""

import threading

import pytest
from sqlalchemy import select

from app.assistance.sweeper import sweep
from app.extensions import db
from app.models import AgentOrder, Assistance, OperatorDevice, utcnow
from app.people import api_tokens
from tests import factories
from tests.assistance.helpers import (
    answer,
    assistance,
    connect,
    deliver,
    ready_unattended,
    sign,
    start,
    token_of,
)

pytestmark = pytest.mark.usefixtures("as_worker")


def test_other_organizations_assistance_endpoints_are_404(app, client, world):
    assistance_id, *_ = ready_unattended(app, client, world)
    with app.app_context():
        other = factories.create_org("Other")
        intruder = factories.create_member(other, "org_admin")
        _, raw = api_tokens.create_token(intruder, other.id, "t")
        db.session.commit()
    headers = {"Authorization": f"Bearer {raw}"}
    for method, path, body in [
        ("get", "", None),
        ("post", "/reveal", None),
        ("get", "/activation-file", None),
        ("post", "/end", {}),
        ("post", "/tools", {"tool": "cmd"}),
    ]:
        response = getattr(client, method)(
            f"/api/v1/assistances/{assistance_id}{path}", headers=headers, json=body
        )
        assert response.status_code == 404, path
    start_foreign = client.post(
        "/api/v1/assistances",
        headers=headers,
        json={"device_id": world["laptop"], "type": "interactive"},
    )
    assert start_foreign.status_code == 404
    assert assistance(app, assistance_id).state == "ready"


def test_only_the_initiating_operator_reveals_and_downloads(app, client, world):
    body = start(client, world, "server", "unattended")
    answer(app, deliver(app, world["server"])[0]["id"], result={})
    sign(app, body["id"])
    lead = world["tokens"]["lead"]
    assert client.post(f"/api/v1/assistances/{body['id']}/reveal", headers=lead).status_code == 403
    assert (
        client.get(f"/api/v1/assistances/{body['id']}/activation-file", headers=lead).status_code
        == 403
    )
    # Nothing was consumed by the refused attempt.
    assert (
        client.post(
            f"/api/v1/assistances/{body['id']}/reveal", headers=world["tokens"]["operator"]
        ).status_code
        == 200
    )


def _connected_interactive(app, client, world, user="lead", env="prod"):
    with app.app_context():
        db.session.add(
            OperatorDevice(
                user_id=world[f"{user}_id"], organization_id=world["org"], device_id=world["opsdev"]
            )
        )
        if env != "prod":
            from app.models import Device

            db.session.get(Device, world["opsdev"]).environment = env
        db.session.commit()
    body = start(client, world, "laptop", "interactive", user=user)
    answer(app, deliver(app, world["laptop"])[0]["id"], result={"consent": "granted"})
    token = token_of(sign(app, body["id"]))
    assert connect(client, token).status_code == 200
    return body


def test_tools_launch_when_role_flag_environment_and_connection_allow(app, client, world):
    body = _connected_interactive(app, client, world, "lead")
    assert body["tools"] == ["cmd", "powershell", "regedit", "taskmgr"]
    response = client.post(
        f"/api/v1/assistances/{body['id']}/tools",
        headers=world["tokens"]["lead"],
        json={"tool": "powershell"},
    )
    assert response.status_code == 202
    orders = deliver(app, world["laptop"])
    assert orders[-1]["type"] == "tools.launch"
    assert orders[-1]["payload"] == {
        "assistance_id": body["id"],
        "session_key": "1",
        "tool": "powershell",
    }
    unknown = client.post(
        f"/api/v1/assistances/{body['id']}/tools",
        headers=world["tokens"]["lead"],
        json={"tool": "format-c"},
    )
    assert unknown.status_code == 400


def test_tools_refused_for_a_role_without_the_flag(app, client, world):
    body = _connected_interactive(app, client, world, "operator")
    assert body["tools"] == []
    response = client.post(
        f"/api/v1/assistances/{body['id']}/tools",
        headers=world["tokens"]["operator"],
        json={"tool": "cmd"},
    )
    assert response.status_code == 403
    assert "not enabled for the role Operator" in response.get_json()["error"]["message"]


def test_tools_refused_across_environments(app, client, world):
    body = _connected_interactive(app, client, world, "lead", env="lab")
    response = client.post(
        f"/api/v1/assistances/{body['id']}/tools",
        headers=world["tokens"]["lead"],
        json={"tool": "cmd"},
    )
    assert response.status_code == 403
    assert "must match" in response.get_json()["error"]["message"]


def test_tools_refused_when_not_connected_or_unattended(app, client, world):
    assistance_id, *_ = ready_unattended(app, client, world)
    response = client.post(
        f"/api/v1/assistances/{assistance_id}/tools",
        headers=world["tokens"]["operator"],
        json={"tool": "cmd"},
    )
    assert response.status_code == 403
    assert "interactive assistance only" in response.get_json()["error"]["message"]


def test_concurrent_starts_exactly_one_wins(app, world):
    results = []
    barrier = threading.Barrier(2)

    def go(user):
        client = app.test_client()
        barrier.wait()
        results.append(
            client.post(
                "/api/v1/assistances",
                headers=world["tokens"][user],
                json={"device_id": world["server"], "type": "unattended"},
            )
        )

    threads = [threading.Thread(target=go, args=(u,)) for u in ("operator", "lead")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [202, 409], [r.get_json() for r in results]
    loser = next(r for r in results if r.status_code == 409).get_json()["error"]
    assert loser["code"] == "device_busy"
    with app.app_context():
        assert db.session.query(Assistance).count() == 1
        assert db.session.query(AgentOrder).count() == 1


def test_two_sweepers_expire_each_assistance_once_with_one_stop_order(app, client, world):
    from datetime import timedelta

    ids = []
    for device in ("server", "nosession", "laptop"):
        body = start(client, world, device, "unattended")
        answer(app, deliver(app, world[device])[0]["id"], result={})
        ids.append(body["id"])
    with app.app_context():
        for row in db.session.query(Assistance).all():
            row.ready_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    results = []
    barrier = threading.Barrier(2)

    def run():
        with app.app_context():
            barrier.wait()
            results.append(sweep())
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["ttl"] for r in results) == 3
    with app.app_context():
        stops = (
            db.session.execute(select(AgentOrder).where(AgentOrder.type == "ra.unattended.stop"))
            .scalars()
            .all()
        )
        assert sorted(o.payload["assistance_id"] for o in stops) == sorted(ids)
        from app.models import AuditEvent

        assert db.session.query(AuditEvent).filter_by(action="assistance.expired").count() == 3


def test_group_limited_operator_assists_only_their_groups(app, client, world):
    """A role limited to Kiosks: kiosk devices only, everywhere assistance is listed or
    acted on (issue 6 with SPEC §4 refusal 7)."""
    from app.models import Device, Role

    with app.app_context():
        kiosks_group = db.session.get(Device, world["kiosk"]).reporting_group_id
        role = Role(organization_id=world["org"], name="Kiosk Operator")
        role.set_permissions({"devices.view", "ra.start"})
        db.session.add(role)
        db.session.flush()
        role.set_group_limit({kiosks_group})
        user = factories.create_member(
            db.session.get(Device, world["kiosk"]).organization,
            "operator",
            email="kiosk.op@acme.example",
        )
        user.memberships[0].role_id = role.id
        _, raw = api_tokens.create_token(user, world["org"], "t")
        db.session.commit()
    limited = {"Authorization": f"Bearer {raw}"}
    office = start(client, world, "server", "unattended")  # started by the unlimited operator
    refused = client.post(
        "/api/v1/assistances",
        headers=limited,
        json={"device_id": world["laptop"], "type": "interactive"},
    )
    assert refused.status_code == 404
    assert client.get(f"/api/v1/assistances/{office['id']}", headers=limited).status_code == 404
    allowed = client.post(
        "/api/v1/assistances",
        headers=limited,
        json={"device_id": world["kiosk"], "type": "dynamic"},
    )
    assert allowed.status_code == 202, allowed.get_json()


def test_two_reveals_at_the_same_moment_show_the_password_once(app, world):
    body = start(app.test_client(), world, "server", "unattended")
    answer(app, deliver(app, world["server"])[0]["id"], result={"session_id": "123456789"})
    sign(app, body["id"])
    barrier = threading.Barrier(2)
    answers = []

    def reveal():
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/assistances/{body['id']}/reveal", headers=world["tokens"]["operator"]
        )
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=reveal) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 409], answers
    refused = next(b for s, b in answers if s == 409)
    assert refused["error"]["code"] == "already_revealed"
    assert assistance(app, body["id"]).sealed_password is None


def test_the_file_is_signed_even_while_a_reveal_holds_the_assistance(app, world):
    """The worker skips a row another transaction holds; the file is signed once the
    reveal is done (by the batch job's retry or the next sweep), never left unsigned."""
    from app.assistance.signing import sign_all_due

    client = app.test_client()
    body = start(client, world, "server", "unattended")
    answer(app, deliver(app, world["server"])[0]["id"], result={"session_id": "123456789"})
    holding, done = threading.Event(), threading.Event()

    def hold_the_row():
        with app.app_context():
            db.session.execute(
                select(Assistance).where(Assistance.id == body["id"]).with_for_update()
            ).scalar_one()
            holding.set()
            done.wait(timeout=10)
            db.session.rollback()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert holding.wait(timeout=10)
    threading.Timer(0.3, done.set).start()
    with app.app_context():
        assert sign_all_due(patience_s=5) == 1
    holder.join()
    assert assistance(app, body["id"]).activation_file is not None
