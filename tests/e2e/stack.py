"""The running stack of the assistance end-to-end tests: a real web server, a real RQ
worker (which alone holds the signing key) and the reference agent with a mixed fleet,
each its own process. Import `stack` into a test module to use it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from app.extensions import db
from app.models import Device
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
        "RELAY_HEARTBEAT_SECONDS": 1,
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
    s.processes = processes
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
