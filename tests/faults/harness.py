"""The fault matrix's world: a private PostgreSQL cluster and a private Redis that the tests
may stop, restart and wipe without touching anyone else's; two web processes (the
production server) and two workers on them; the reference agents; an operator's API token.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import requests

from tests.conftest import ROOT

PG_BINDIR = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1:] or [""]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # a service in the middle of a restart
            if predicate():
                return True
        time.sleep(interval)
    return False


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb in a temporary folder, its own port)."""

    def __init__(self, base: str) -> None:
        self.dir = os.path.join(base, "pg")
        os.makedirs(self.dir)
        self.port = free_port()
        self.as_owner: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            os.chmod(base, 0o711)  # noqa: S103 (the postgres user may pass through)
            shutil.chown(self.dir, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    @property
    def data(self) -> str:
        return os.path.join(self.dir, "data")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_owner, os.path.join(PG_BINDIR[0], tool), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", f"{self.dir}/log", "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return os.path.exists(os.path.join(self.data, "postmaster.pid"))

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres").replace("+psycopg", ""), autocommit=True) as c:
            c.execute(sql)

    def close(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")


class PrivateRedis:
    """A throw-away Redis server; `restart(keep_data=…)` as an operator would do it."""

    def __init__(self, base: str) -> None:
        self.dir = os.path.join(base, "redis")
        os.makedirs(self.dir)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=5)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
                "--dbfilename",
                "dump.rdb",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(lambda: self.client().ping(), 15)

    def stop(self, keep_data: bool) -> None:
        dump = os.path.join(self.dir, "dump.rdb")
        client = self.client()
        if keep_data:
            client.save()
        elif os.path.exists(dump):
            os.remove(dump)
        with contextlib.suppress(Exception):
            client.shutdown(nosave=True)
        self.proc.wait(timeout=15)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        if self.running():
            self.proc.kill()
            self.proc.wait()


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict
    log: str
    popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        with open(self.log, "a") as out:
            self.popen = subprocess.Popen(
                [sys.executable, *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.popen.wait(timeout=15)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self) -> None:
        if not self.alive():
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Cluster:
    """Everything of one scenario. `web` and `workers` are two of each."""

    app: object
    pg: PrivatePostgres
    redis: PrivateRedis
    env: dict
    tmp: str
    org_id: int = 0
    servers: dict[str, int] = field(default_factory=dict)  # hostname -> device id
    fleet: list[dict] = field(default_factory=list)
    token: str = ""
    web: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    agents: Proc | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, node: int = 0) -> str:
        return self.web[node].url

    def start_web(self, n: int) -> Proc:
        port = self.env["PORTAL_PORT"] if n == 0 else str(free_port())
        from app.devserver import web_server_command

        proc = Proc(
            f"web{n}",
            web_server_command(sys.executable, "127.0.0.1", port)[1:],
            self.env,
            os.path.join(self.tmp, f"web{n}.log"),
        ).start()
        proc.url = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: requests.get(f"{proc.url}/healthz", timeout=1).ok, 30)
        return proc

    def start_worker(self, n: int) -> Proc:
        return Proc(
            f"worker{n}", ["worker.py"], self.env, os.path.join(self.tmp, f"worker{n}.log")
        ).start()

    def start_agents(self) -> Proc:
        env = {**self.env, "SIM_FLEET": json.dumps(self.fleet)}
        self.agents = Proc(
            "agents",
            [
                "-m",
                "app.agent_sim",
                "--url",
                self.url(1),
                "--poll-wait",
                "5",
                "--log-level",
                "WARNING",
            ],
            env,
            os.path.join(self.tmp, "agents.log"),
        ).start()
        return self.agents

    def logs(self, tail: int = 4000) -> str:
        out = []
        for path in sorted(glob.glob(os.path.join(self.tmp, "*.log"))):
            with open(path, errors="replace") as fh:
                out.append(f"--- {os.path.basename(path)}\n{fh.read()[-tail:]}")
        return "\n".join(out)

    def stop(self) -> None:
        for proc in [*self.web, *self.workers, self.agents]:
            if proc is not None:
                proc.stop()

    # --- the operator's side ------------------------------------------------------------
    def start_ra(self, device_id: int, ra_type: str = "unattended", node: int = 0):
        return requests.post(
            f"{self.url(node)}/api/v1/assistances",
            json={"device_id": device_id, "type": ra_type},
            headers=self.headers,
            timeout=30,
        )

    def get(self, assistance_id: int, node: int = 0) -> dict:
        return requests.get(
            f"{self.url(node)}/api/v1/assistances/{assistance_id}", headers=self.headers, timeout=10
        ).json()

    def end(self, assistance_id: int, node: int = 0):
        return requests.post(
            f"{self.url(node)}/api/v1/assistances/{assistance_id}/end",
            json={},
            headers=self.headers,
            timeout=30,
        )
