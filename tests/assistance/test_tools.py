"""Flexxible Tools (SPEC §4) are decided for one operator device: the one recorded on the
assistance at start. The file's `tools` claim and every launch use it, whatever the
operator's profile says now."""

import base64
import json

import pytest

from app.agent_settings.service import SettingChange, apply_changes
from app.extensions import db
from app.models import Device, OperatorDevice, ReportingGroup
from app.people.organizations import builtin_role
from tests.assistance.conftest import add_device, org_of
from tests.assistance.helpers import answer, connect, deliver, sign, start, token_of

pytestmark = pytest.mark.usefixtures("as_worker")
ALL_TOOLS = ["cmd", "powershell", "regedit", "taskmgr"]


def _claims(content: bytes) -> dict:
    payload = token_of(content).split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=="))


@pytest.fixture
def lab_device(app, world):
    """An operator device in FlexxAgent environment `lab` (the assisted laptop is `prod`)."""
    with app.app_context():
        office = db.session.get(Device, world["laptop"]).reporting_group
        return add_device(org_of(world["org"]), office, "OPS-LAB", environment="lab")


def _profile_device(app, world, device_id, user="lead"):
    with app.app_context():
        db.session.add(
            OperatorDevice(
                user_id=world[f"{user}_id"], organization_id=world["org"], device_id=device_id
            )
        )
        db.session.commit()


def _connected(app, client, world, operator_device_id, user="lead"):
    chosen = {} if operator_device_id is None else {"operator_device_id": operator_device_id}
    body = start(client, world, "laptop", "interactive", user=user, **chosen)
    answer(app, deliver(app, world["laptop"])[0]["id"], result={"consent": "granted"})
    content = sign(app, body["id"])
    assert connect(client, token_of(content)).status_code == 200
    return body, _claims(content)


def _launch(client, world, assistance_id, user="lead"):
    return client.post(
        f"/api/v1/assistances/{assistance_id}/tools",
        headers=world["tokens"][user],
        json={"tool": "cmd"},
    )


def test_the_claim_granted_tools_so_the_launch_is_accepted(app, client, world, lab_device):
    """Started from a device in the assisted device's environment, while the profile
    names one in another: the file grants the tools, and the launch agrees."""
    _profile_device(app, world, lab_device)
    body, claims = _connected(app, client, world, operator_device_id=world["opsdev"])
    assert claims["tools"] == body["tools"] == ALL_TOOLS
    response = _launch(client, world, body["id"])
    assert response.status_code == 202, response.get_json()
    assert deliver(app, world["laptop"])[-1]["type"] == "tools.launch"


def test_the_claim_granted_none_so_the_launch_is_refused(app, client, world, lab_device):
    """Started from a device in another environment, while the profile names one in the
    same: the file grants nothing, and the launch is refused for the same reason."""
    _profile_device(app, world, world["opsdev"])
    body, claims = _connected(app, client, world, operator_device_id=lab_device)
    assert claims["tools"] == body["tools"] == []
    response = _launch(client, world, body["id"])
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "tools_not_allowed"
    assert "environment lab" in error["message"] and "must match" in error["message"]
    assert [o["type"] for o in deliver(app, world["laptop"])] == []


def test_a_launch_never_exceeds_what_the_file_granted(app, client, world):
    """The flag turned on after the start does not add tools to a running assistance."""
    _profile_device(app, world, world["opsdev"], user="operator")
    body, claims = _connected(app, client, world, None, user="operator")
    assert claims["tools"] == []
    with app.app_context():
        group = db.session.get(
            ReportingGroup, db.session.get(Device, world["laptop"]).reporting_group_id
        )
        operator_role = builtin_role(world["org"], "operator")
        apply_changes(group, [SettingChange("flexxible_tools", True, operator_role.id)])
        db.session.commit()
    response = _launch(client, world, body["id"], user="operator")
    assert response.status_code == 403
    assert "started without Flexxible Tools" in response.get_json()["error"]["message"]
