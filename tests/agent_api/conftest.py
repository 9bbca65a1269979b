import uuid

import pytest

from app.extensions import db
from app.fleet.enrollment import create_enrollment_token
from app.models import Organization, ReportingGroup
from tests import factories


class Agent:
    """A minimal FlexxAgent speaking the agent API through the test client."""

    def __init__(self, client, enrollment_token: str, hardware_id: str | None = None, **facts):
        self.client = client
        self.enrollment_token = enrollment_token
        self.hardware_id = hardware_id or f"hw-{uuid.uuid4().hex[:12]}"
        self.facts = {
            "hostname": "PC-0001",
            "os_name": "Windows 11",
            "os_version": "23H2",
            "agent_version": "24.10.1",
            "environment": "prod",
            "device_kind": "physical",
            **facts,
        }
        self.instance_id = uuid.uuid4().hex
        self.token = None
        self.device_id = None

    @property
    def headers(self):
        return {"Authorization": f"Bearer {self.token}"}

    def enroll(self):
        response = self.client.post(
            "/api/agent/v1/enroll",
            json={
                "enrollment_token": self.enrollment_token,
                "hardware_id": self.hardware_id,
                **self.facts,
            },
        )
        if response.status_code == 201:
            self.token = response.get_json()["device_token"]
            self.device_id = response.get_json()["device_id"]
        return response

    def checkin(self, sessions=(), **overrides):
        body = {
            "agent_version": self.facts["agent_version"],
            "agent_instance_id": self.instance_id,
            "os_name": self.facts["os_name"],
            "os_version": self.facts["os_version"],
            "sessions": sessions if isinstance(sessions, list | str) else list(sessions),
            **overrides,
        }
        return self.client.post("/api/agent/v1/checkin", json=body, headers=self.headers)

    def poll(self, wait=0):
        return self.client.get(f"/api/agent/v1/orders?wait={wait}", headers=self.headers)

    def answer(self, order_id, status="succeeded", result=None, error=None):
        body = {"status": status, "result": result or {}}
        if error:
            body["error"] = error
        return self.client.post(
            f"/api/agent/v1/orders/{order_id}/result", json=body, headers=self.headers
        )


def session(key="1", user="alice", state="active", kind="console"):
    return {"session_key": key, "username": user, "state": state, "kind": kind}


@pytest.fixture
def fleet(app):
    """An organization with an enrollment token; make_agent() builds enrolled agents."""
    with app.app_context():
        org = factories.create_org("Acme")
        group = factories.group_of(org)
        _, raw = create_enrollment_token(group, "tests")
        db.session.commit()
        return {"org_id": org.id, "group_id": group.id, "token": raw}


@pytest.fixture
def make_agent(app, fleet):
    def make(enroll=True, **facts):
        agent = Agent(app.test_client(), fleet["token"], **facts)
        if enroll:
            assert agent.enroll().status_code == 201
        return agent

    return make


def group(app, group_id):
    with app.app_context():
        return db.session.get(ReportingGroup, group_id)


def org(app, org_id):
    with app.app_context():
        return db.session.get(Organization, org_id)
