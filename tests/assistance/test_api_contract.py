"""What the three APIs answer is what the OpenAPI document says: real calls (success and
refusals) checked against their operation's documented status, media type and schema."""

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from app.extensions import db
from app.fleet.enrollment import create_enrollment_token
from app.models import Device, Organization, Role
from tests import factories
from tests.assistance.helpers import (
    answer,
    deliver,
    ready_unattended,
    sign,
    start,
    token_of,
)

pytestmark = pytest.mark.usefixtures("as_worker")


class Contract:
    def __init__(self, client):
        self.client = client
        self.doc = client.get("/api/v1/openapi.json").get_json()
        self.checked = set()

    def call(self, method, template, status=None, headers=None, **params):
        path = template.format(**params.pop("path", {}))
        response = getattr(self.client, method)(path, headers=headers or {}, **params)
        if status is not None:
            assert response.status_code == status, (path, response.get_data(as_text=True))
        self.conforms(template, method, response)
        return response

    def conforms(self, template, method, response):
        operation = self.doc["paths"][template][method]
        documented = operation["responses"]
        code = str(response.status_code)
        assert code in documented, f"{method.upper()} {template} answered undocumented {code}"
        content = documented[code].get("content")
        if content is None:
            assert not response.data
            return
        assert response.mimetype in content, (template, code, response.mimetype)
        if response.mimetype == "application/json":
            schema = {**content["application/json"]["schema"], "components": self.doc["components"]}
            Draft202012Validator(schema, format_checker=FormatChecker()).validate(
                response.get_json()
            )
        self.checked.add((template, method, code))


@pytest.fixture
def contract(client):
    return Contract(client)


def test_operator_api_answers_as_documented(app, client, world, contract):
    op, lead = world["tokens"]["operator"], world["tokens"]["lead"]
    with app.app_context():
        org = db.session.get(Organization, world["org"])
        group_id = db.session.get(Device, world["laptop"]).reporting_group_id
        role_id = db.session.query(Role).filter_by(organization_id=org.id).first().id
        product_id = db.session.get(Device, world["laptop"]).reporting_group.product_id
        admin_headers = _admin(org)
    contract.call("get", "/api/v1/devices", 200, op)
    contract.call("get", "/api/v1/devices", 400, op, query_string={"page": "0"})
    contract.call(
        "get", "/api/v1/devices/{device_id}", 200, op, path={"device_id": world["laptop"]}
    )
    contract.call("get", "/api/v1/devices/{device_id}", 404, op, path={"device_id": 999999})
    contract.call("get", "/api/v1/sessions", 200, op)
    assistance_id, token, password, _ = ready_unattended(app, client, world)
    a = {"assistance_id": assistance_id}
    contract.call("get", "/api/v1/assistances/{assistance_id}", 200, op, path=a)
    contract.call("get", "/api/v1/assistances", 200, lead, query_string={"live": "1"})
    contract.call("post", "/api/v1/assistances/{assistance_id}/reveal", 409, op, path=a)
    contract.call("get", "/api/v1/assistances/{assistance_id}/activation-file", 200, op, path=a)
    contract.call(
        "post",
        "/api/v1/assistances",
        409,
        op,
        json={"device_id": world["linux"], "type": "unattended"},
    )
    contract.call(
        "post",
        "/api/v1/assistances",
        403,
        world["tokens"]["auditor"],
        json={"device_id": world["laptop"], "type": "unattended"},
    )
    contract.call("post", "/api/v1/assistances", 400, op, json={"type": "unattended"})
    started = contract.call(
        "post",
        "/api/v1/assistances",
        202,
        op,
        json={"device_id": world["laptop"], "type": "interactive"},
    )
    contract.call(
        "post",
        "/api/v1/assistances/{assistance_id}/tools",
        403,
        op,
        path={"assistance_id": started.get_json()["id"]},
        json={"tool": "cmd"},
    )
    contract.call(
        "post", "/api/v1/assistances/{assistance_id}/end", 200, lead, path=a, json={"revoke": True}
    )
    contract.call("post", "/api/v1/assistances/{assistance_id}/end", 409, op, path=a)
    contract.call("get", "/api/v1/audit", 200, admin_headers)
    contract.call("get", "/api/v1/audit", 400, admin_headers, query_string={"to": "9999-12-31"})
    contract.call("get", "/api/v1/roles", 200, admin_headers)
    contract.call("get", "/api/v1/members", 200, admin_headers)
    contract.call(
        "put",
        "/api/v1/members/{membership_id}/role",
        404,
        admin_headers,
        path={"membership_id": 999999},
        json={"role_id": role_id},
    )
    g = {"group_id": group_id}
    contract.call(
        "get", "/api/v1/reporting-groups/{group_id}/agent-settings", 200, admin_headers, path=g
    )
    contract.call(
        "put",
        "/api/v1/reporting-groups/{group_id}/agent-settings",
        200,
        admin_headers,
        path=g,
        json={"settings": {"proxy_url": {"value": "http://proxy.example:3128"}}},
    )
    contract.call(
        "get",
        "/api/v1/reporting-groups/{group_id}/effective-settings",
        200,
        op,
        path=g,
        query_string={"role": role_id},
    )
    contract.call(
        "get",
        "/api/v1/products/{product_id}/agent-settings",
        200,
        admin_headers,
        path={"product_id": product_id},
    )
    contract.call("get", "/api/v1/devices", 401, {"Authorization": "Bearer rap_nope"})
    # The revoked assistance's file no longer connects.
    contract.call(
        "post", "/api/relay/v1/connect", 410, json={"activation": token, "password": password}
    )


def test_agent_and_relay_apis_answer_as_documented(app, client, world, contract):
    with app.app_context():
        group = db.session.get(Device, world["laptop"]).reporting_group
        _, enrollment = create_enrollment_token(group, "contract")
        db.session.commit()
    facts = factories.agent_facts("hw-contract", "PC-CONTRACT")
    enrolled = contract.call(
        "post", "/api/agent/v1/enroll", 201, json={"enrollment_token": enrollment, **facts}
    )
    contract.call(
        "post", "/api/agent/v1/enroll", 401, json={"enrollment_token": "enr_nope", **facts}
    )
    device = {"Authorization": f"Bearer {enrolled.get_json()['device_token']}"}
    checkin = {
        "agent_version": "24.10.1",
        "agent_instance_id": "i-1",
        "os_name": "Windows 11",
        "os_version": "23H2",
        "sessions": [],
    }
    contract.call("post", "/api/agent/v1/checkin", 200, device, json=checkin)
    contract.call("post", "/api/agent/v1/checkin", 400, device, json={**checkin, "sessions": "x"})
    contract.call("post", "/api/agent/v1/checkin", 401, json=checkin)
    contract.call("get", "/api/agent/v1/orders", 200, device, query_string={"wait": "0"})
    contract.call("get", "/api/agent/v1/orders", 400, device, query_string={"wait": "31"})
    contract.call(
        "post",
        "/api/agent/v1/orders/{order_id}/result",
        404,
        device,
        path={"order_id": 999999},
        json={"status": "succeeded"},
    )

    body = start(client, world, "server", "unattended")
    orders = contract.call("get", "/api/agent/v1/orders", 200, device, query_string={"wait": "0"})
    assert orders.get_json() == {"orders": []}  # orders are per device
    answer(app, deliver(app, world["server"])[0]["id"], result={})
    token = token_of(sign(app, body["id"]))
    password = client.post(
        f"/api/v1/assistances/{body['id']}/reveal", headers=world["tokens"]["operator"]
    ).get_json()["password"]
    contract.call(
        "post", "/api/relay/v1/connect", 401, json={"activation": token, "password": "wrong"}
    )
    connected = contract.call(
        "post", "/api/relay/v1/connect", 200, json={"activation": token, "password": password}
    )
    cid = {"connection_id": connected.get_json()["connection_id"]}
    contract.call(
        "post", "/api/relay/v1/connect", 409, json={"activation": token, "password": password}
    )
    contract.call("post", "/api/relay/v1/heartbeat", 204, json=cid)
    contract.call("post", "/api/relay/v1/disconnect", 200, json=cid)
    contract.call("post", "/api/relay/v1/heartbeat", 410, json=cid)
    contract.call("post", "/api/relay/v1/disconnect", 404, json=cid)
    contract.call("post", "/api/relay/v1/connect", 400, json={"activation": 5})
    contract.call("get", "/.well-known/jwks.json", 200)


def _admin(org):
    return factories.api_headers(factories.create_member(org, "org_admin"), org)
