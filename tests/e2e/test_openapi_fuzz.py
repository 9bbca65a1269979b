"""schemathesis over the whole OpenAPI document (operator, agent and relay APIs) against a
real server and worker, with real credentials (an API token, a device token) and seeded
data, so it gets past authentication: no answer may be a 5xx, and every answer must be
documented (status, media type, schema). Bounded in time; heavy (CI runs it once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from xml.etree import ElementTree

import pytest
import requests

from app.agent_settings.service import SettingChange, apply_changes
from app.extensions import db
from app.fleet.enrollment import create_enrollment_token
from app.people.organizations import builtin_role
from tests import factories
from tests.e2e.conftest import free_port, wait_for

pytestmark = pytest.mark.heavy

# The fuzzing's own budget (the whole test stays under ~4 minutes) and seed; a longer or
# different run: FUZZ_SECONDS=600 FUZZ_SEED=7 pytest tests/e2e/test_openapi_fuzz.py
TIME_BUDGET_S = int(os.environ.get("FUZZ_SECONDS", "150"))
SEED = os.environ.get("FUZZ_SEED", "20261130")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


FLEET = [
    {"hostname": "SRV-1", "os_name": "Windows Server 2022", "kind": "server"},
    {
        "hostname": "LAPTOP-1",
        "sessions": [{"session_key": "1", "username": "ana", "state": "active", "kind": "console"}],
    },
    {"hostname": "KIOSK-1", "kind": "kiosk"},
]


def _seed(app) -> dict[str, str]:
    """An organization configured like the demo, an admin's API token and enrollment
    tokens (ids start at 1, which the fuzzer tries first)."""
    with app.app_context():
        org = factories.create_org("Fuzz")
        product = factories.product_of(org)
        office = factories.group_of(org)
        apply_changes(
            product, [SettingChange("remote_assistance.types", ["interactive", "unattended"])]
        )
        lead = builtin_role(org.id, "helpdesk_lead")
        apply_changes(office, [SettingChange("flexxible_tools", True, lead.id)])
        admin = factories.create_member(org, "org_admin", email="admin@fuzz.example")
        factories.create_member(org, "operator", email="operator@fuzz.example")
        headers = factories.api_headers(admin, org)
        _, fleet = create_enrollment_token(office, "fleet")
        _, own = create_enrollment_token(office, "fuzzer")
        db.session.commit()
    return {"api": headers["Authorization"], "fleet": fleet, "own": own}


def _own_device(url: str, enrollment: str) -> str:
    """A device of the fuzzer's own, for the agent API's device token."""
    enrolled = requests.post(
        f"{url}/api/agent/v1/enroll",
        json={"enrollment_token": enrollment, **factories.agent_facts("hw-fuzz", "PC-FUZZ")},
        timeout=10,
    )
    assert enrolled.status_code == 201, enrolled.text
    return enrolled.json()["device_token"]


def test_schemathesis_finds_no_5xx_and_every_answer_is_documented(app, server, processes, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PORTAL_URL": url,
        "SIGNING_KEYS_DIR": tmp_path / "keys",
        "AGENT_CHECKIN_INTERVAL_SECONDS": 5,
        # The fuzzer calls the relay thousands of times from one address: let it reach
        # the code behind the per-address limit (the limit itself is tested elsewhere).
        "RELAY_MAX_CONNECTS_PER_IP": 10_000_000,
    }
    seeded = _seed(app)
    server(port=port, **env)
    processes.start(["worker.py"], env=env)
    fleet = [{**agent, "enrollment_token": seeded["fleet"]} for agent in FLEET]
    processes.start(
        ["-m", "app.agent_sim", "--url", url, "--poll-wait", "2"],
        env={**env, "SIM_FLEET": json.dumps(fleet)},
    )
    headers = {"Authorization": seeded["api"]}

    def online() -> int:
        devices = requests.get(f"{url}/api/v1/devices", headers=headers, timeout=5).json()
        return sum(d["online"] for d in devices["items"])

    assert wait_for(lambda: online() == len(FLEET)), processes.output()[-3000:]
    device_token = _own_device(url, seeded["own"])

    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[auth]\nauto-signup = false\n"
        f'[auth.openapi.apiToken]\nbearer = "{seeded["api"].split(" ", 1)[1]}"\n'
        f'[auth.openapi.deviceToken]\nbearer = "{device_token}"\n'
    )
    st = os.path.join(os.path.dirname(sys.executable), "st")
    result = subprocess.run(
        [
            st,
            "--config-file",
            str(config),
            "--no-color",
            "run",
            f"{url}/api/v1/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--max-time",
            str(TIME_BUDGET_S),
            "--max-examples",
            "60",
            "--seed",
            SEED,
            # One worker: with several threads, Python 3.11's ast (which hypothesis uses to
            # describe strategies) can fail with "AST constructor recursion depth mismatch".
            "--workers",
            "1",
            "--request-timeout",
            "40",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIME_BUDGET_S + 120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    # It really ran: every operation of the document was tested (schemathesis leaves out
    # the document's own URL), as the JUnit report lists.
    tested = _tested_operations(tmp_path / "report")
    documented = {
        f"{method.upper()} {path}"
        for path, item in requests.get(f"{url}/api/v1/openapi.json", timeout=5)
        .json()["paths"]
        .items()
        for method in item
        if method in ("get", "put", "post", "delete")
    }
    assert tested == documented - {"GET /api/v1/openapi.json"}
    log = processes.output()
    assert "unhandled error" not in log and "Traceback" not in log, log[-5000:]


def _tested_operations(report_dir) -> set[str]:
    (junit,) = report_dir.glob("junit-*.xml")
    cases = ElementTree.parse(junit).getroot().iter("testcase")  # noqa: S314 (our own report)
    return {case.get("name") for case in cases} - {"Stateful tests"}
