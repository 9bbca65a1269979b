"""`remote_assistance.access_windows` through the settings API: the JSON form (or the
text), stored normalized, inherited and locked like every setting; bad values are 400s
that say what is wrong."""

from app.agent_settings.schedule import DAYS
from tests.api.test_agent_settings_api import _ids

KEY = "remote_assistance.access_windows"
OFFICE = [
    {"days": list(DAYS[:5]), "from": "08:00", "to": "18:00"},
    {"days": ["sat"], "from": "09:00", "to": "13:00"},
]


def test_product_schedule_is_stored_normalized_and_inherited_by_groups(app, client, tokens):
    headers, org_id = tokens()
    product, group, _ = _ids(app, org_id)
    given = [
        {"days": ["sat"], "from": "09:00", "to": "13:00"},
        {"days": ["fri", "thu", "wed", "tue", "mon"], "from": "08:00", "to": "18:00"},
    ]
    response = client.put(
        f"/api/v1/products/{product}/agent-settings",
        json={"settings": {KEY: {"value": given, "enforced": True}}},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["settings"][KEY] == {"value": OFFICE, "set": True, "enforced": True}
    data = client.get(f"/api/v1/reporting-groups/{group}/agent-settings", headers=headers)
    effective = data.get_json()["effective"][KEY]
    assert effective["value"] == OFFICE and effective["locked"] is True
    # Locked: the group cannot override it.
    refused = client.put(
        f"/api/v1/reporting-groups/{group}/agent-settings",
        json={"settings": {KEY: {"value": []}}},
        headers=headers,
    )
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "enforced_by_product"


def test_group_takes_the_text_form_too_and_null_inherits(app, client, tokens):
    headers, org_id = tokens()
    _, group, _ = _ids(app, org_id)
    url = f"/api/v1/reporting-groups/{group}/agent-settings"
    body = {"settings": {KEY: {"value": "lun-vie 8-18; sáb 9-13"}}}
    response = client.put(url, json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["settings"][KEY]["value"] == OFFICE
    assert response.get_json()["effective"][KEY]["source"] == "group"
    response = client.put(url, json={"settings": {KEY: {"value": None}}}, headers=headers)
    assert response.get_json()["effective"][KEY]["value"] == []  # default: any time


def test_bad_schedules_are_400_naming_the_setting_with_a_clear_message(app, client, tokens):
    headers, org_id = tokens()
    _, group, _ = _ids(app, org_id)
    url = f"/api/v1/reporting-groups/{group}/agent-settings"
    cases = [
        ({"days": ["mon"], "from": "8", "to": "18:00"}, "times as HH:MM"),
        ({"days": ["moon"], "from": "08:00", "to": "18:00"}, "“moon” is not a day of the week"),
        ({"days": ["mon"], "from": "08:00", "to": "08:00"}, "opens and closes at the same time"),
        ({"days": ["mon"], "from": "08:00", "to": "18:00", "x": 1}, 'exactly "days"'),
        ({"days": "mon", "from": "08:00", "to": "18:00"}, "non-empty list of days"),
    ]
    for window, says in cases:
        response = client.put(url, json={"settings": {KEY: {"value": [window]}}}, headers=headers)
        assert response.status_code == 400, window
        error = response.get_json()["error"]
        assert (error["code"], error["field"]) == ("invalid_value", KEY)
        assert says in error["message"], error["message"]
    for value, says in ((True, "list of windows"), ("Mon 9", "“9” is not a time range")):
        response = client.put(url, json={"settings": {KEY: {"value": value}}}, headers=headers)
        assert response.status_code == 400
        assert says in response.get_json()["error"]["message"]
    assert client.get(url, headers=headers).get_json()["settings"][KEY]["set"] is False


def test_the_schedule_never_reaches_agents(app, client, tokens):
    from app.agent_settings.cache import compute
    from app.agent_settings.service import SettingChange, apply_changes
    from app.extensions import db
    from app.models import ReportingGroup

    _, org_id = tokens()
    _, group, _ = _ids(app, org_id)
    with app.app_context():
        row = db.session.get(ReportingGroup, group)
        apply_changes(row, [SettingChange(KEY, OFFICE)])
        db.session.commit()
        assert KEY not in compute(row)
