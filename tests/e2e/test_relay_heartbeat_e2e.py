"""The relay heartbeat with real processes: `flask ra connect` keeps its connection alive
with heartbeats; killed (a crash), the worker's sweeper finds it silent and frees the
device; stopped (SIGTERM), it disconnects itself (RELAY_HEARTBEAT_SECONDS=1 here)."""

from __future__ import annotations

import signal
import time

import requests

from tests.e2e.conftest import wait_for


def _connect(stack, path, *extra):
    return stack.processes.start(
        [
            "-m",
            "flask",
            "--app",
            "app:create_app",
            "ra",
            "connect",
            str(path),
            "--portal",
            stack.url,
            *extra,
        ],
        env=stack.env,
    )


def test_a_crashed_client_is_dropped_and_the_device_freed(app, stack):
    started = stack.start("LAPTOP-YES", "interactive")
    assert started.status_code == 202, started.text
    assistance_id = started.json()["id"]
    stack.wait_state(assistance_id, "ready", file=True)
    client = _connect(stack, stack.download(assistance_id, "laptop.exe"))
    stack.wait_state(assistance_id, "connected")
    # Heartbeats keep it connected well past three intervals, the sweeper running each second.
    time.sleep(5)
    assert client.poll() is None, stack.processes.output()[-2000:]
    assert stack.get(assistance_id)["state"] == "connected"
    assert stack.start("LAPTOP-YES", "interactive").json()["error"]["code"] == "device_busy"

    client.send_signal(signal.SIGKILL)  # a crash: no disconnect is ever sent
    final = stack.wait_state(assistance_id, "expired")
    assert "no heartbeat from the RA client" in final["end_reason"]
    again = stack.start("LAPTOP-YES", "interactive")
    assert again.status_code == 202, again.text


def test_a_stopped_client_disconnects_into_the_grace_window(app, stack):
    started = stack.start("SRV-1", "unattended")
    assert started.status_code == 202, started.text
    assistance_id = started.json()["id"]
    stack.wait_state(assistance_id, "ready", file=True)
    password = requests.post(
        f"{stack.url}/api/v1/assistances/{assistance_id}/reveal", headers=stack.headers, timeout=5
    ).json()["password"]
    client = _connect(stack, stack.download(assistance_id, "srv.exe"), "--password", password)
    stack.wait_state(assistance_id, "connected")
    client.send_signal(signal.SIGTERM)
    assert client.wait(timeout=20) == 0, stack.processes.output()[-2000:]
    assert wait_for(lambda: stack.get(assistance_id)["state"] in ("disconnected", "expired"))
    assert "Disconnected (disconnected)" in stack.processes.output()
