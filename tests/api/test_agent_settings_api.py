from sqlalchemy import select

from app.extensions import db
from app.models import Product, ReportingGroup, Role


def _ids(app, org_id):
    with app.app_context():
        product = db.session.execute(
            select(Product.id).where(Product.organization_id == org_id)
        ).scalar_one()
        group = db.session.execute(
            select(ReportingGroup.id).where(ReportingGroup.organization_id == org_id)
        ).scalar_one()
        roles = dict(
            db.session.execute(
                select(Role.builtin_key, Role.id).where(Role.organization_id == org_id)
            ).all()
        )
    return product, group, roles


def test_put_then_get_product_settings(app, client, tokens):
    headers, org_id = tokens()
    product, _, roles = _ids(app, org_id)
    body = {
        "settings": {
            "remote_assistance.types": {"value": ["unattended", "interactive"]},
            "flexxible_tools": {
                "by_role": {str(roles["helpdesk_lead"]): {"value": True, "enforced": True}}
            },
            "proxy_url": {"value": "http://proxy.acme:3128"},
        }
    }
    response = client.put(f"/api/v1/products/{product}/agent-settings", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    data = client.get(f"/api/v1/products/{product}/agent-settings", headers=headers).get_json()
    settings = data["settings"]
    assert settings["remote_assistance.types"]["value"] == ["interactive", "unattended"]
    assert settings["flexxible_tools"]["by_role"] == {
        str(roles["helpdesk_lead"]): {"value": True, "enforced": True}
    }
    assert settings["proxy_url"]["value"] == "http://proxy.acme:3128"
    assert settings["audio_redirection"] == {"value": None, "set": False, "enforced": False}


def test_group_put_and_effective_settings_with_provenance(app, client, tokens):
    headers, org_id = tokens()
    product, group, roles = _ids(app, org_id)
    client.put(
        f"/api/v1/products/{product}/agent-settings",
        headers=headers,
        json={
            "settings": {
                "audio_redirection": {"value": False, "enforced": True},
                "remote_assistance.types": {"value": ["interactive"]},
            }
        },
    )
    response = client.put(
        f"/api/v1/reporting-groups/{group}/agent-settings",
        headers=headers,
        json={
            "settings": {"flexxible_tools": {"by_role": {str(roles["operator"]): {"value": True}}}}
        },
    )
    assert response.status_code == 200
    assert response.get_json()["changes"][0]["role"] == "Operator"
    effective = client.get(
        f"/api/v1/reporting-groups/{group}/effective-settings?role={roles['operator']}",
        headers=headers,
    ).get_json()
    s = effective["settings"]
    assert s["flexxible_tools"]["value"] is True and s["flexxible_tools"]["source"] == "group_role"
    assert s["audio_redirection"]["locked"] is True
    assert s["audio_redirection"]["source_label"] == "enforced by product Workspaces"
    assert s["remote_assistance.types"]["source"] == "product"
    without_role = client.get(
        f"/api/v1/reporting-groups/{group}/effective-settings", headers=headers
    ).get_json()
    assert without_role["role"] is None
    assert without_role["settings"]["flexxible_tools"]["value"] is False


def test_errors_name_the_field_and_use_fitting_statuses(app, client, tokens):
    headers, org_id = tokens()
    _, group, _ = _ids(app, org_id)
    url = f"/api/v1/reporting-groups/{group}/agent-settings"
    cases = [
        (
            {"settings": {"remote_assistance.types": {"value": ["dynamic", "unattended"]}}},
            400,
            "invalid_value",
            "remote_assistance.types",
        ),
        ({"settings": {"proxy_url": {"value": "not a url"}}}, 400, "invalid_value", "proxy_url"),
        ({"settings": {"nope": {"value": 1}}}, 400, "unknown_setting", "nope"),
        (
            {"settings": {"audio_redirection": {"value": True, "enforced": True}}},
            400,
            "enforce_on_group",
            "audio_redirection",
        ),
        (
            {"settings": {"flexxible_tools": {"by_role": {"abc": {"value": True}}}}},
            400,
            "invalid_body",
            "flexxible_tools@abc",
        ),
        (
            {"settings": {"flexxible_tools": {"by_role": {"999999": {"value": True}}}}},
            400,
            "unknown_role",
            "flexxible_tools@999999",
        ),
        ({"settings": []}, 400, "invalid_body", "settings"),
        ([1, 2], 400, "invalid_body", "settings"),
        (
            {"settings": {"audio_redirection": {"value": "yes"}}},
            400,
            "invalid_value",
            "audio_redirection",
        ),
    ]
    for body, status, code, field in cases:
        response = client.put(url, json=body, headers=headers)
        assert response.status_code == status, (body, response.get_json())
        error = response.get_json()["error"]
        assert (error["code"], error.get("field")) == (code, field), body
        assert error["message"]
    not_json = client.put(url, data="{", headers={**headers, "Content-Type": "application/json"})
    assert not_json.status_code == 400
    assert not_json.get_json()["error"]["code"] == "invalid_body"
    # Nothing of the refused requests was stored.
    stored = client.get(url, headers=headers).get_json()["settings"]
    assert all(not v["set"] for v in stored.values())


def test_locked_value_is_409(app, client, tokens):
    headers, org_id = tokens()
    product, group, _ = _ids(app, org_id)
    client.put(
        f"/api/v1/products/{product}/agent-settings",
        headers=headers,
        json={"settings": {"audio_redirection": {"value": False, "enforced": True}}},
    )
    response = client.put(
        f"/api/v1/reporting-groups/{group}/agent-settings",
        headers=headers,
        json={"settings": {"audio_redirection": {"value": True}}},
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "enforced_by_product"


def test_other_organizations_ids_are_404(app, client, tokens):
    headers, _ = tokens(org_name="Mine")
    _, other_org = tokens(org_name="Theirs")
    product, group, roles = _ids(app, other_org)
    for method, url in [
        ("get", f"/api/v1/products/{product}/agent-settings"),
        ("put", f"/api/v1/products/{product}/agent-settings"),
        ("get", f"/api/v1/reporting-groups/{group}/agent-settings"),
        ("put", f"/api/v1/reporting-groups/{group}/agent-settings"),
        ("get", f"/api/v1/reporting-groups/{group}/effective-settings"),
    ]:
        response = getattr(client, method)(
            url, headers=headers, json={"settings": {"audio_redirection": {"value": True}}}
        )
        assert response.status_code == 404, (method, url)
        assert response.get_json()["error"]["code"] == "not_found"
    # A role of another organization in the query is 404 too.
    with app.app_context():
        mine = db.session.execute(
            select(ReportingGroup.id)
            .join(ReportingGroup.organization)
            .where(ReportingGroup.organization.has(name="Mine"))
        ).scalar_one()
    response = client.get(
        f"/api/v1/reporting-groups/{mine}/effective-settings?role={roles['operator']}",
        headers=headers,
    )
    assert response.status_code == 404
    bad = client.get(f"/api/v1/reporting-groups/{mine}/effective-settings?role=x", headers=headers)
    assert bad.status_code == 400
    with app.app_context():
        stored = db.session.execute(select(Product)).scalars().all()
        assert len(stored) == 2
        from app.models.agent_setting import AgentSettingValue

        assert db.session.query(AgentSettingValue).count() == 0


def test_put_is_recorded_with_actor_in_the_audit_log(app, client, tokens):
    headers, org_id = tokens()
    product, _, _ = _ids(app, org_id)
    client.put(
        f"/api/v1/products/{product}/agent-settings",
        headers=headers,
        json={"settings": {"audio_redirection": {"value": True}}},
    )
    with app.app_context():
        from app.models import AuditEvent

        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "agent_settings.changed")
        ).scalar_one()
        assert event.actor.endswith(".example")
        assert event.details["changes"][0]["after"] == {"value": True, "enforced": False}
