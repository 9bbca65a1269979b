"""Real processes: the web server, the worker, the reference agent."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from app.devserver import web_server_command
from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Child processes whose output goes to files (read with `output()`), so a chatty
    process can never block on a full pipe."""

    def __init__(self, tmp):
        self.procs: list[subprocess.Popen] = []
        self.tmp = tmp

    def start(self, args, env=None, **kw) -> subprocess.Popen:
        log_path = self.tmp / f"proc-{len(self.procs)}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env={**os.environ, **{k: str(v) for k, v in (env or {}).items()}},
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                **kw,
            )
        proc.log_path = log_path
        self.procs.append(proc)
        return proc

    def output(self) -> str:
        return "".join(p.log_path.read_text() for p in self.procs)

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def processes(app, services, tmp_path):
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


@pytest.fixture
def server(processes):
    """Start the production web server (gunicorn, gevent workers) as its own process;
    returns a function giving its URL."""

    def start(port: int | None = None, workers: int = 1, **env) -> str:
        port = port or free_port()
        proc = processes.start(
            web_server_command(sys.executable, "127.0.0.1", str(port))[1:],
            env={"WEB_CONCURRENCY": workers, **env},
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(processes.output())
            try:
                if requests.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    return url
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    return start


def wait_for(predicate, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def seed_acme_fleet(fleet: dict, closed_group: str = "Closed") -> tuple:
    """Acme set up like the demo (product: interactive and unattended; group "kiosks":
    dynamic; group "closed": remote assistance disabled) and the agent profiles of `fleet`
    (group key -> agents), each with an enrollment token of its group. Call in an app
    context; returns (organization, profiles)."""
    from app.agent_settings.service import SettingChange, apply_changes
    from app.fleet.enrollment import create_enrollment_token
    from app.people.organizations import create_reporting_group
    from tests import factories

    org = factories.create_org("Acme")
    product = factories.product_of(org)
    groups = {
        "office": factories.group_of(org),
        "servers": create_reporting_group(product, "Servers"),
        "kiosks": create_reporting_group(product, "Kiosks"),
        "closed": create_reporting_group(product, closed_group),
    }
    apply_changes(
        product, [SettingChange("remote_assistance.types", ["interactive", "unattended"])]
    )
    apply_changes(groups["kiosks"], [SettingChange("remote_assistance.types", ["dynamic"])])
    apply_changes(groups["closed"], [SettingChange("remote_assistance.types", [])])
    profiles = []
    for name, agents in fleet.items():
        _, raw = create_enrollment_token(groups[name], name)
        profiles += [{**a, "enrollment_token": raw} for a in agents]
    return org, profiles


def start_stack(server, processes, port: int, env: dict, profiles: list) -> str:
    """The web server, the worker and the reference agent running `profiles`; the URL."""
    import json

    url = server(port=port, **env)
    processes.start(["worker.py"], env=env)
    processes.start(
        ["-m", "app.agent_sim", "--url", url, "--poll-wait", "2"],
        env={**env, "SIM_FLEET": json.dumps(profiles)},
    )
    return url


# The assistance stack (server, worker, reference fleet), shared by the e2e modules.
from tests.e2e.stack import stack  # noqa: E402,F401
