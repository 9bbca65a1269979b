"""Remote assistance end to end: a real web server, a real RQ worker (which alone holds the
signing key) and the reference agent, each its own process; the test is the operator (API
token) and the operator's RA client (`flask ra connect`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from app.extensions import db, redis_store
from app.models import AgentOrder, Assistance, AuditEvent, Device
from app.people import api_tokens
from tests import factories
from tests.conftest import ROOT
from tests.e2e.conftest import free_port, seed_acme_fleet, start_stack, wait_for

FLEET = {
    "office": [
        {
            "hostname": "LAPTOP-YES",
            "sessions": [
                {"session_key": "1", "username": "ana", "state": "active", "kind": "console"}
            ],
        },
        {
            "hostname": "LAPTOP-NO",
            "consent": "denied",
            "sessions": [
                {"session_key": "1", "username": "ben", "state": "active", "kind": "console"}
            ],
        },
        {
            "hostname": "LAPTOP-OLD",
            "agent_version": "23.5",
            "sessions": [
                {"session_key": "1", "username": "old", "state": "active", "kind": "console"}
            ],
        },
        {
            "hostname": "VDI-2",
            "kind": "shared_desktop",
            "sessions": [
                {"session_key": "1", "username": "c", "state": "active", "kind": "rdp"},
                {"session_key": "2", "username": "d", "state": "active", "kind": "rdp"},
            ],
        },
    ],
    "servers": [
        {"hostname": "SRV-1", "os_name": "Windows Server 2022", "kind": "server"},
        {"hostname": "LNX-1", "os_name": "Ubuntu", "kind": "server"},
    ],
    "kiosks": [
        {"hostname": "KIOSK-1", "kind": "kiosk"},
        {"hostname": "KIOSK-OLD", "kind": "kiosk", "agent_version": "24.1"},
    ],
    "closed": [{"hostname": "PC-CLOSED"}],
}


@pytest.fixture
def stack(app, server, processes, tmp_path):
    """Everything running; returns helpers for the operator's side."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PORTAL_URL": url,
        "AGENT_CHECKIN_INTERVAL_SECONDS": 1,
        # Long enough for the RA client CLI to start twice on a loaded CI machine.
        "RA_GRACE_SECONDS": 8,
        "ASSISTANCE_SWEEP_INTERVAL_SECONDS": 1,
        "ORDER_SWEEP_INTERVAL_SECONDS": 1,
        "SIGNING_KEYS_DIR": tmp_path / "keys",
    }
    with app.app_context():
        org, fleet = seed_acme_fleet(FLEET)
        operator = factories.create_member(org, "operator", email="op@acme.example")
        _, token = api_tokens.create_token(operator, org.id, "e2e")
        auditor = factories.create_member(org, "auditor", email="aud@acme.example")
        _, auditor_token = api_tokens.create_token(auditor, org.id, "e2e")
        # An enrolled device whose agent is not running: offline.
        offline_id = factories.create_device(org, "PC-SILENT", agent_version="24.10.1").id
        db.session.commit()
    start_stack(server, processes, port, env, fleet)
    headers = {"Authorization": f"Bearer {token}"}

    def devices():
        with app.app_context():
            return {d.hostname: d.id for d in db.session.query(Device).all()}

    # Nine simulated agents, plus the silent device created above.
    assert wait_for(lambda: len(devices()) == 10), processes.output()[-3000:]

    def online(device_id):
        return (
            requests.get(f"{url}/api/v1/devices/{device_id}", headers=headers, timeout=5)
            .json()
            .get("online")
        )

    ids = {name: i for name, i in devices().items() if name != "PC-SILENT"}
    assert wait_for(lambda: all(online(i) for i in ids.values()))
    ids["PC-SILENT"] = offline_id

    class Stack:
        pass

    s = Stack()
    s.url, s.headers, s.ids, s.env, s.tmp = url, headers, ids, env, tmp_path
    s.auditor = {"Authorization": f"Bearer {auditor_token}"}

    def start_ra(hostname, ra_type):
        return requests.post(
            f"{url}/api/v1/assistances",
            headers=headers,
            timeout=10,
            json={"device_id": ids[hostname], "type": ra_type},
        )

    def get(assistance_id):
        return requests.get(
            f"{url}/api/v1/assistances/{assistance_id}", headers=headers, timeout=5
        ).json()

    def wait_state(assistance_id, *states, file=False):
        ok = wait_for(
            lambda: (
                get(assistance_id)["state"] in states
                and (not file or get(assistance_id)["file_ready"])
            ),
            timeout=30,
        )
        assert ok, (get(assistance_id), processes.output()[-3000:])
        return get(assistance_id)

    def download(assistance_id, name):
        response = requests.get(
            f"{url}/api/v1/assistances/{assistance_id}/activation-file", headers=headers, timeout=10
        )
        assert response.status_code == 200, response.text
        path = tmp_path / name
        path.write_bytes(response.content)
        return path

    def flask(*args, **extra_env):
        full_env = {**os.environ, **{k: str(v) for k, v in {**env, **extra_env}.items()}}
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app:create_app", *args],
            cwd=ROOT,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    s.start, s.get, s.wait_state, s.download, s.flask = start_ra, get, wait_state, download, flask
    return s


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
