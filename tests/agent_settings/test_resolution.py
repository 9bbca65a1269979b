"""Resolution for every precedence level and the enforced lock (SPEC §3), table-driven."""

import pytest

from app.agent_settings.resolution import effective_for_roles, effective_settings
from app.agent_settings.service import SettingChange, apply_changes
from app.extensions import db
from app.people.organizations import builtin_role
from tests import factories

KEY = "flexxible_tools"  # per role, default off

# Each case: values to store as (scope, role, value, enforced); then the expected effective
# value and source for the Operator role and for the Helpdesk Lead role.
CASES = [
    ("registry default", [], (False, "default"), (False, "default")),
    (
        "product for all roles",
        [("product", None, True, False)],
        (True, "product"),
        (True, "product"),
    ),
    (
        "product for the role beats product for all",
        [("product", None, False, False), ("product", "operator", True, False)],
        (True, "product_role"),
        (False, "product"),
    ),
    (
        "group for all beats product for the role",
        [("product", "operator", True, False), ("group", None, False, False)],
        (False, "group"),
        (False, "group"),
    ),
    (
        "group for the role beats group for all",
        [("group", None, False, False), ("group", "operator", True, False)],
        (True, "group_role"),
        (False, "group"),
    ),
    (
        "enforced product value beats every group value",
        [
            ("product", None, True, True),
            ("group", None, False, False),
            ("group", "operator", False, False),
        ],
        (True, "enforced"),
        (True, "enforced"),
    ),
    (
        "enforced product value for one role locks only that role",
        [("product", "operator", True, True), ("group", None, False, False)],
        (True, "enforced"),
        (False, "group"),
    ),
    (
        "enforced all-roles lock still uses the product's role-specific value",
        [
            ("product", None, False, True),
            ("product", "operator", True, False),
            ("group", "operator", False, False),
        ],
        (True, "enforced"),
        (False, "enforced"),
    ),
]


@pytest.mark.parametrize(("name", "stored", "operator", "lead"), CASES, ids=[c[0] for c in CASES])
def test_precedence(app, name, stored, operator, lead):
    with app.app_context():
        org = factories.create_org()
        product, group = factories.product_of(org), factories.group_of(org)
        roles = {k: builtin_role(org.id, k) for k in ("operator", "helpdesk_lead")}
        # Group values first: once the product locks a key, groups cannot be given one.
        for scope, role_key, value, enforced in sorted(stored, key=lambda s: s[0] != "group"):
            target = product if scope == "product" else group
            role_id = roles[role_key].id if role_key else None
            apply_changes(target, [SettingChange(KEY, value, role_id, enforced)])
        db.session.commit()
        for role_key, (value, source) in (("operator", operator), ("helpdesk_lead", lead)):
            effective = effective_settings(group, roles[role_key])[KEY]
            assert (effective.value, effective.source) == (value, source), role_key
            assert effective.locked == (source == "enforced")


def test_provenance_labels_name_the_product_group_and_role(app):
    with app.app_context():
        org = factories.create_org()
        product, group = factories.product_of(org), factories.group_of(org)
        operator = builtin_role(org.id, "operator")
        apply_changes(product, [SettingChange("proxy_url", "http://proxy:8080")])
        apply_changes(group, [SettingChange(KEY, True, operator.id)])
        apply_changes(product, [SettingChange("audio_redirection", False, enforced=True)])
        db.session.commit()
        settings = effective_settings(group, operator)
        assert settings["proxy_url"].label == "inherited from product Workspaces"
        assert settings[KEY].label == f"set on group {group.name} for Operator"
        assert settings["audio_redirection"].label == "enforced by product Workspaces"
        assert settings["remote_assistance.types"].label == "registry default"
        assert settings["remote_assistance.types"].value == []


def test_non_role_settings_ignore_the_role(app):
    with app.app_context():
        org = factories.create_org()
        group = factories.group_of(org)
        apply_changes(group, [SettingChange("remote_assistance.types", ["dynamic"])])
        db.session.commit()
        for key in ("operator", "auditor"):
            value = effective_settings(group, builtin_role(org.id, key))["remote_assistance.types"]
            assert (value.value, value.source) == (["dynamic"], "group")


def test_without_a_role_only_all_roles_values_count(app):
    with app.app_context():
        org = factories.create_org()
        group = factories.group_of(org)
        operator = builtin_role(org.id, "operator")
        apply_changes(group, [SettingChange(KEY, True, operator.id)])
        db.session.commit()
        assert effective_settings(group, None)[KEY].value is False
        by_role = effective_for_roles(group, [operator])
        assert by_role[operator.id][KEY].value is True
        assert by_role[None][KEY].value is False


def test_other_groups_values_do_not_leak(app):
    with app.app_context():
        org = factories.create_org()
        product = factories.product_of(org)
        from app.people.organizations import create_reporting_group

        other = create_reporting_group(product, "Other group")
        apply_changes(other, [SettingChange("audio_redirection", True)])
        db.session.commit()
        assert effective_settings(factories.group_of(org), None)["audio_redirection"].value is False
