"""Remote assistance end to end: a real web server, a real RQ worker (which alone holds the
signing key) and the reference agent, each its own process; the test is the operator (API
token) and the operator's RA client (`flask ra connect`)."""

from __future__ import annotations

import json

import requests

from app.extensions import db, redis_store
from app.models import AgentOrder, Assistance, AuditEvent
from tests.e2e.conftest import wait_for


def test_interactive_granted_and_denied(app, stack):
    response = stack.start("LAPTOP-YES", "interactive")
    assert response.status_code == 202, response.text
    first = response.json()
    assert first["state"] == "awaiting_consent"
    ready = stack.wait_state(first["id"], "ready", file=True)
    assert ready["type"] == "interactive"
    path = stack.download(first["id"], "a.exe")
    verified = stack.flask(
        "ra", "verify", str(path), "--jwks-url", f"{stack.url}/.well-known/jwks.json"
    )
    assert verified.returncode == 0, verified.stderr
    assert '"ra_type": "interactive"' in verified.stdout
    connected = stack.flask(
        "ra", "connect", str(path), "--portal", stack.url, "--disconnect-after", "0.5"
    )
    assert connected.returncode == 0, connected.stderr
    assert "Connected to LAPTOP-YES" in connected.stdout
    assert stack.get(first["id"])["state"] == "expired"  # interactive: ends on disconnect

    denied = stack.start("LAPTOP-NO", "interactive").json()
    final = stack.wait_state(denied["id"], "denied")
    assert final["end_reason"] == "consent denied"


def test_unattended_with_grace_window_cleanup_and_no_leaked_password(app, stack, caplog):
    response = stack.start("SRV-1", "unattended")
    assert response.status_code == 202, response.text
    assistance_id = response.json()["id"]
    stack.wait_state(assistance_id, "ready", file=True)
    revealed = requests.post(
        f"{stack.url}/api/v1/assistances/{assistance_id}/reveal", headers=stack.headers, timeout=5
    )
    assert revealed.status_code == 200
    secret = revealed.json()
    assert len(secret["session_id"]) == 9 and secret["session_id"].isdigit()
    password = secret["password"]
    assert (
        requests.post(
            f"{stack.url}/api/v1/assistances/{assistance_id}/reveal",
            headers=stack.headers,
            timeout=5,
        ).status_code
        == 409
    )
    path = stack.download(assistance_id, "srv.exe")
    wrong = stack.flask(
        "ra",
        "connect",
        str(path),
        "--portal",
        stack.url,
        "--password",
        "not-it",
        "--disconnect-after",
        "0",
    )
    assert wrong.returncode != 0 and "wrong_password" in wrong.stderr
    ok = stack.flask(
        "ra",
        "connect",
        str(path),
        "--portal",
        stack.url,
        "--password",
        password,
        "--disconnect-after",
        "0.2",
    )
    assert ok.returncode == 0, ok.stderr
    assert stack.get(assistance_id)["state"] == "disconnected"
    # Within the (shortened) grace window the same file and password work again.
    again = stack.flask(
        "ra",
        "connect",
        str(path),
        "--portal",
        stack.url,
        "--password",
        password,
        "--disconnect-after",
        "0.2",
    )
    assert again.returncode == 0, again.stderr
    final = stack.wait_state(assistance_id, "expired")
    assert final["end_reason"] == "grace period over"
    late = stack.flask(
        "ra",
        "connect",
        str(path),
        "--portal",
        stack.url,
        "--password",
        password,
        "--disconnect-after",
        "0",
    )
    assert late.returncode != 0 and "410" in late.stderr
    assert wait_for(lambda: stack.get(assistance_id)["teardown"] == "confirmed", timeout=20)

    # The password appears nowhere it must not: logs of every process, this process's log
    # records, the audit table, the database, Redis (RQ job data included), error pages.
    assert (
        password
        not in stack.flask(
            "ra", "verify", str(path), "--jwks-url", f"{stack.url}/.well-known/jwks.json"
        ).stdout
    )
    logs = "".join(p.read_text() for p in stack.tmp.glob("proc-*.log"))
    assert "LAPTOP" in logs or "SRV-1" in logs  # the logs are really there
    assert password not in logs
    assert all(password not in r.getMessage() for r in caplog.records)
    assert password not in wrong.stderr + wrong.stdout + ok.stdout + late.stderr
    with app.app_context():
        for event in db.session.query(AuditEvent).all():
            assert password not in json.dumps(event.details) + event.actor + event.target_id
        row = db.session.get(Assistance, assistance_id)
        assert row.password_hash is None and row.sealed_password is None
        for order in db.session.query(AgentOrder).all():
            assert password not in json.dumps(order.payload)
            assert order.sealed_payload is None or password.encode() not in order.sealed_payload
        client = redis_store.client
        dump = b""
        for key in client.scan_iter(count=1000):
            kind = client.type(key)
            if kind == b"hash":
                dump += b"".join(k + v for k, v in client.hgetall(key).items())
            elif kind == b"string":
                dump += client.get(key) or b""
            elif kind in (b"list", b"set", b"zset"):
                dump += repr(client.dump(key)).encode()
        assert dump and password.encode() not in dump
        # RQ job data is pickled and compressed: inspect every job's arguments decoded.
        from rq.job import Job

        job_ids = [
            k.decode().split(":", 2)[2]
            for k in client.scan_iter("rq:job:*")
            if k.decode().count(":") == 2
        ]
        jobs = [job for job in Job.fetch_many(job_ids, connection=client) if job is not None]
        assert any(job.func_name == "app.tasks.assistance.sign_due_files" for job in jobs)
        for job in jobs:
            assert password not in repr((job.args, job.kwargs, job.func_name))


def test_dynamic_decides_and_refusals_come_from_the_real_fleet(app, stack):
    kiosk = stack.start("KIOSK-1", "dynamic")
    assert kiosk.status_code == 202, kiosk.text
    assert kiosk.json()["type"] == "unattended"
    assert "no active user session" in kiosk.json()["decision_reason"]
    stack.wait_state(kiosk.json()["id"], "ready", file=True)
    expected = {
        ("LNX-1", "unattended"): "not_windows",
        ("LAPTOP-OLD", "interactive"): "agent_too_old",
        ("KIOSK-OLD", "dynamic"): "agent_too_old_for_dynamic",
        ("KIOSK-1", "interactive"): "dynamic_only",
        ("PC-CLOSED", "interactive"): "ra_disabled",
        ("LAPTOP-YES", "dynamic"): "type_not_enabled",
        ("SRV-1", "interactive"): "no_active_session",
        ("KIOSK-1", "dynamic"): "device_busy",
        ("VDI-2", "interactive"): "session_required",
        ("PC-SILENT", "unattended"): "device_offline",
    }
    for (hostname, ra_type), code in expected.items():
        response = stack.start(hostname, ra_type)
        assert response.status_code == 409, (hostname, response.text)
        assert response.json()["error"]["code"] == code, (hostname, response.json())
    forbidden = requests.post(
        f"{stack.url}/api/v1/assistances",
        headers=stack.auditor,
        json={"device_id": stack.ids["SRV-1"], "type": "unattended"},
        timeout=10,
    )
    assert forbidden.status_code == 403
    sessions = requests.get(
        f"{stack.url}/api/v1/sessions", params={"q": "VDI-2"}, headers=stack.headers, timeout=5
    ).json()["items"]
    chosen = requests.post(
        f"{stack.url}/api/v1/assistances",
        headers=stack.headers,
        timeout=10,
        json={"session_id": sessions[1]["id"], "type": "interactive"},
    )
    assert chosen.status_code == 202 and chosen.json()["session_key"] == sessions[1]["session_key"]
