import pytest
from sqlalchemy import select

from app.agent_settings.service import (
    SettingChange,
    SettingsError,
    apply_changes,
    apply_to_groups,
    describe,
)
from app.extensions import db
from app.models import AuditEvent
from app.models.agent_setting import AgentSettingValue
from app.people.organizations import builtin_role, create_reporting_group
from tests import factories


@pytest.fixture
def org(app):
    with app.app_context():
        yield factories.create_org()


def _refused(scope, *changes) -> SettingsError:
    with pytest.raises(SettingsError) as exc:
        apply_changes(scope, list(changes))
    db.session.rollback()
    return exc.value


def test_dynamic_combined_with_another_type_is_refused_with_a_clear_message(org):
    error = _refused(
        factories.group_of(org),
        SettingChange("remote_assistance.types", ["dynamic", "interactive"]),
    )
    assert error.code == "invalid_value"
    assert error.field == "remote_assistance.types"
    assert "dynamic cannot be combined" in error.message


@pytest.mark.parametrize(
    "url",
    [
        "ftp://proxy:21",
        "proxy.example.com:8080",
        "http://",
        "http://user:pw@proxy:8080",
        "http://proxy:99999",
        "http://proxy:8080/path",
        "http://pro xy:80",
        42,
    ],
)
def test_invalid_proxy_url_is_refused(org, url):
    error = _refused(factories.product_of(org), SettingChange("proxy_url", url))
    assert error.code == "invalid_value" and error.field == "proxy_url"


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("http://proxy.example.com:8080", "http://proxy.example.com:8080"),
        ("HTTPS://proxy:3128/", "https://proxy:3128"),
        ("  ", ""),
    ],
)
def test_valid_proxy_urls_are_normalized(org, url, stored):
    apply_changes(factories.product_of(org), [SettingChange("proxy_url", url)])
    assert describe(factories.product_of(org))["proxy_url"]["value"] == stored


def test_unknown_key_per_role_misuse_and_foreign_role_are_refused(app, org):
    product = factories.product_of(org)
    assert _refused(product, SettingChange("telemetry", True)).code == "unknown_setting"
    operator = builtin_role(org.id, "operator")
    assert (
        _refused(product, SettingChange("audio_redirection", True, operator.id)).code
        == "not_per_role"
    )
    other = factories.create_org()
    foreign = builtin_role(other.id, "operator")
    assert (
        _refused(product, SettingChange("flexxible_tools", True, foreign.id)).code == "unknown_role"
    )


def test_groups_cannot_enforce(org):
    error = _refused(factories.group_of(org), SettingChange("audio_redirection", False, None, True))
    assert error.code == "enforce_on_group"


def test_group_cannot_override_an_enforced_value(org):
    apply_changes(
        factories.product_of(org), [SettingChange("audio_redirection", False, enforced=True)]
    )
    db.session.commit()
    error = _refused(factories.group_of(org), SettingChange("audio_redirection", True))
    assert error.code == "enforced_by_product" and error.status == 409
    assert "enforced by product Workspaces" in error.message


def test_group_role_override_refused_only_for_the_locked_role(org):
    operator = builtin_role(org.id, "operator")
    lead = builtin_role(org.id, "helpdesk_lead")
    apply_changes(
        factories.product_of(org), [SettingChange("flexxible_tools", False, operator.id, True)]
    )
    db.session.commit()
    group = factories.group_of(org)
    assert (
        _refused(group, SettingChange("flexxible_tools", True, operator.id)).code
        == "enforced_by_product"
    )
    apply_changes(group, [SettingChange("flexxible_tools", True, lead.id)])


def test_a_refusal_stores_nothing(org):
    group = factories.group_of(org)
    _refused(
        group, SettingChange("audio_redirection", True), SettingChange("proxy_url", "nonsense")
    )
    assert db.session.query(AgentSettingValue).count() == 0


def test_change_is_one_audit_event_with_before_and_after(org):
    product = factories.product_of(org)
    apply_changes(product, [SettingChange("proxy_url", "http://a:1")])
    apply_changes(
        product,
        [
            SettingChange("proxy_url", "http://b:2"),
            SettingChange("audio_redirection", False, enforced=True),
        ],
    )
    db.session.commit()
    events = (
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.action == "agent_settings.changed")
            .order_by(AuditEvent.seq)
        )
        .scalars()
        .all()
    )
    assert len(events) == 2
    last = events[-1]
    assert last.target_type == "Product" and last.target_id == str(product.id)
    changes = {c["key"]: c for c in last.details["changes"]}
    assert changes["proxy_url"]["before"] == {"value": "http://a:1", "enforced": False}
    assert changes["proxy_url"]["after"] == {"value": "http://b:2", "enforced": False}
    assert changes["audio_redirection"]["before"] is None
    assert last.details["scope"] == "product"


def test_no_op_records_nothing(org):
    product = factories.product_of(org)
    apply_changes(product, [SettingChange("audio_redirection", True)])
    db.session.commit()
    before = db.session.query(AuditEvent).count()
    assert apply_changes(product, [SettingChange("audio_redirection", True)]) == []
    assert apply_changes(product, [SettingChange("proxy_url", None)]) == []
    assert db.session.query(AuditEvent).count() == before


def test_inherit_removes_the_stored_value(org):
    group = factories.group_of(org)
    apply_changes(group, [SettingChange("audio_redirection", True)])
    diff = apply_changes(group, [SettingChange("audio_redirection", None)])
    assert diff[0]["after"] is None
    assert describe(group)["audio_redirection"] == {"value": None, "set": False, "enforced": False}


def test_bulk_apply_sets_every_chosen_group_with_one_event_each(org):
    product = factories.product_of(org)
    groups = [
        factories.group_of(org),
        create_reporting_group(product, "Second"),
        create_reporting_group(product, "Third"),
    ]
    result = apply_to_groups(groups[:2], [SettingChange("remote_assistance.types", ["dynamic"])])
    db.session.commit()
    assert set(result) == {groups[0].id, groups[1].id}
    assert describe(groups[0])["remote_assistance.types"]["value"] == ["dynamic"]
    assert describe(groups[1])["remote_assistance.types"]["value"] == ["dynamic"]
    assert describe(groups[2])["remote_assistance.types"]["value"] is None
    events = db.session.query(AuditEvent).filter_by(action="agent_settings.changed").all()
    assert sorted(e.target_id for e in events) == sorted(str(g.id) for g in groups[:2])


def test_bulk_apply_is_all_or_nothing_and_names_the_refusing_group(app):
    with app.app_context():
        a = factories.create_org()
        b_product = factories.create_org()  # another product of another org, unused
        del b_product
        product = factories.product_of(a)
        from app.people.organizations import create_product

        locked_product = create_product(a, "Locked")
        locked_group = create_reporting_group(locked_product, "Locked group")
        apply_changes(locked_product, [SettingChange("audio_redirection", False, enforced=True)])
        db.session.commit()
        free_group = factories.group_of(a)
        with pytest.raises(SettingsError) as exc:
            apply_to_groups([free_group, locked_group], [SettingChange("audio_redirection", True)])
        db.session.rollback()
        assert exc.value.message.startswith("Locked group:")
        assert describe(free_group)["audio_redirection"]["set"] is False
        assert product.id != locked_product.id


def test_database_keeps_one_value_per_scope_key_and_role(org):
    from sqlalchemy.exc import IntegrityError

    group = factories.group_of(org)
    for role_id in (None, builtin_role(org.id, "operator").id):
        for _ in range(2):
            db.session.add(
                AgentSettingValue(
                    organization_id=org.id,
                    reporting_group_id=group.id,
                    key="flexxible_tools",
                    role_id=role_id,
                    value=True,
                )
            )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_database_refuses_enforced_group_values(org):
    from sqlalchemy.exc import IntegrityError

    db.session.add(
        AgentSettingValue(
            organization_id=org.id,
            reporting_group_id=factories.group_of(org).id,
            key="audio_redirection",
            value=True,
            enforced=True,
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
