import pytest
from sqlalchemy import event, select

from app.agent_settings.resolution import effective_settings
from app.agent_settings.service import SettingChange, apply_changes, describe
from app.extensions import db
from app.models import Product, ReportingGroup, Role
from app.people.organizations import builtin_role, create_reporting_group
from tests import factories


@pytest.fixture
def admin(app, browser):
    with app.app_context():
        org = factories.create_org("Acme")
        email = factories.create_member(org, "org_admin").email
        ids = {
            "org": org.id,
            "product": factories.product_of(org).id,
            "group": factories.group_of(org).id,
            "lead": builtin_role(org.id, "helpdesk_lead").id,
            "operator": builtin_role(org.id, "operator").id,
        }
    browser.login(email, factories.PASSWORD)
    return ids


def _group(app, group_id):
    return db.session.get(ReportingGroup, group_id)


def test_product_page_sets_values_per_role_and_enforces(app, browser, admin):
    url = f"/settings/products/{admin['product']}/agent-settings"
    response = browser.submit(
        url,
        {
            "val:remote_assistance.types": "set",
            "types:remote_assistance.types": ["interactive", "unattended"],
            f"val:flexxible_tools@{admin['lead']}": "on",
            "val:audio_redirection": "off",
            "enforce:audio_redirection": "1",
            "val:proxy_url": "set",
            "text:proxy_url": "http://proxy.acme.example:3128",
        },
    )
    assert response.status_code == 302
    assert "Settings saved." in browser.get(url).get_data(as_text=True)
    with app.app_context():
        stored = describe(db.session.get(Product, admin["product"]))
    assert stored["remote_assistance.types"]["value"] == ["interactive", "unattended"]
    assert stored["flexxible_tools"]["by_role"] == {
        str(admin["lead"]): {"value": True, "enforced": False}
    }
    assert stored["audio_redirection"] == {"value": False, "set": True, "enforced": True}
    assert stored["proxy_url"]["value"] == "http://proxy.acme.example:3128"


def test_group_page_shows_inherited_values_provenance_and_locks(app, browser, admin):
    with app.app_context():
        product = db.session.get(Product, admin["product"])
        apply_changes(
            product,
            [
                SettingChange("remote_assistance.types", ["interactive"]),
                SettingChange("audio_redirection", False, enforced=True),
            ],
        )
        db.session.commit()
    html = browser.get(f"/settings/reporting-groups/{admin['group']}/agent-settings").get_data(
        as_text=True
    )
    assert "inherited from product Workspaces" in html
    assert '<span class="badge locked">Locked</span> enforced by product Workspaces' in html
    assert 'name="val:audio_redirection"' not in html  # locked: no input
    assert 'name="val:proxy_url"' in html
    assert "registry default" in html


def test_group_page_refuses_dynamic_with_other_types_and_keeps_the_data(app, browser, admin):
    url = f"/settings/reporting-groups/{admin['group']}/agent-settings"
    browser.submit(url, {"val:audio_redirection": "on"})
    response = browser.submit(
        url,
        {
            "val:remote_assistance.types": "set",
            "types:remote_assistance.types": ["dynamic", "interactive"],
            "val:audio_redirection": "off",
        },
    )
    assert response.status_code == 400
    assert "dynamic cannot be combined" in response.get_data(as_text=True)
    with app.app_context():
        stored = describe(_group(app, admin["group"]))
    assert stored["remote_assistance.types"]["set"] is False
    assert stored["audio_redirection"]["value"] is True  # the refused save changed nothing


def test_group_page_refuses_an_invalid_proxy_url(app, browser, admin):
    url = f"/settings/reporting-groups/{admin['group']}/agent-settings"
    response = browser.submit(url, {"val:proxy_url": "set", "text:proxy_url": "proxy:8080"})
    assert response.status_code == 400
    assert "is not a valid proxy URL" in response.get_data(as_text=True)


def test_bulk_form_applies_values_to_the_chosen_groups_only(app, browser, admin):
    with app.app_context():
        product = db.session.get(Product, admin["product"])
        second = create_reporting_group(product, "Second").id
        third = create_reporting_group(product, "Third").id
        db.session.commit()
    response = browser.submit(
        f"/settings/reporting-groups/bulk?group_ids={admin['group']}&group_ids={second}",
        {
            "group_ids": [str(admin["group"]), str(second)],
            "val:remote_assistance.types": "set",
            "types:remote_assistance.types": ["dynamic"],
            "val:audio_redirection": "keep",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        for gid, expected in ((admin["group"], ["dynamic"]), (second, ["dynamic"]), (third, None)):
            assert describe(_group(app, gid))["remote_assistance.types"]["value"] == expected
            assert describe(_group(app, gid))["audio_redirection"]["set"] is False


def test_bulk_form_with_another_orgs_group_is_404_and_changes_nothing(app, browser, admin):
    with app.app_context():
        other = factories.create_org("Other")
        foreign = factories.group_of(other).id
    response = browser.submit(
        "/settings/reporting-groups/bulk",
        {"group_ids": [str(admin["group"]), str(foreign)], "val:audio_redirection": "on"},
    )
    assert response.status_code == 404
    with app.app_context():
        assert describe(_group(app, admin["group"]))["audio_redirection"]["set"] is False
        assert describe(_group(app, foreign))["audio_redirection"]["set"] is False


def test_effective_preview_for_a_role(app, browser, admin):
    with app.app_context():
        apply_changes(
            _group(app, admin["group"]), [SettingChange("flexxible_tools", True, admin["lead"])]
        )
        db.session.commit()
    base = f"/settings/reporting-groups/{admin['group']}/effective"
    lead = browser.get(f"{base}?role={admin['lead']}").get_data(as_text=True)
    operator = browser.get(f"{base}?role={admin['operator']}").get_data(as_text=True)
    assert "for Helpdesk Lead" in lead
    assert "for Helpdesk Lead" not in operator
    assert browser.get(f"{base}?role=999999").status_code == 404


def test_history_shows_before_and_after(app, browser, admin):
    url = f"/settings/reporting-groups/{admin['group']}/agent-settings"
    browser.submit(url, {"val:proxy_url": "set", "text:proxy_url": "http://one:1"})
    browser.submit(url, {"val:proxy_url": "set", "text:proxy_url": "http://two:2"})
    html = browser.get(url + "/history").get_data(as_text=True)
    # In words: the setting's label and the values as people read them.
    assert html.count('<td data-label="Setting">Proxy URL</td>') == 2
    assert "proxy_url" not in html
    assert ">http://one:1<" in html and ">http://two:2<" in html
    assert "<em>inherited</em>" in html  # the first change's "before"


def test_other_orgs_settings_pages_are_404(app, browser, admin):
    with app.app_context():
        other = factories.create_org("Other")
        product, group = factories.product_of(other).id, factories.group_of(other).id
    for url in (
        f"/settings/products/{product}/agent-settings",
        f"/settings/products/{product}/agent-settings/history",
        f"/settings/reporting-groups/{group}/agent-settings",
        f"/settings/reporting-groups/{group}/agent-settings/history",
        f"/settings/reporting-groups/{group}/effective",
    ):
        assert browser.get(url).status_code == 404, url
    response = browser.submit(
        "/profile",
        {"val:audio_redirection": "on"},
        post_url=f"/settings/reporting-groups/{group}/agent-settings",
    )
    assert response.status_code == 404
    with app.app_context():
        assert effective_settings(_group(app, group), None)["audio_redirection"].source == "default"


class QueryCounter:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args, **kwargs):
        self.count += 1


def _grow(app, org_id, product_id, n):
    """Add n groups, n custom roles and values for every key on each."""
    with app.app_context():
        product = db.session.get(Product, product_id)
        for i in range(n):
            group = create_reporting_group(product, f"Grown {n}-{i}")
            role = Role(organization_id=org_id, name=f"Custom {n}-{i}")
            role.set_permissions({"devices.view"})
            db.session.add(role)
            db.session.flush()
            apply_changes(
                group,
                [
                    SettingChange("audio_redirection", True),
                    SettingChange("flexxible_tools", True, role.id),
                    SettingChange("proxy_url", "http://p:1"),
                ],
            )
            apply_changes(product, [SettingChange("flexxible_tools", True, role.id)])
        db.session.commit()


def _count_queries(app, browser, urls):
    from app.extensions import db as _db

    counts = []
    with app.app_context():
        engine = _db.engine
    for url in urls:
        with QueryCounter(engine) as counter:
            assert browser.get(url).status_code == 200, url
        counts.append(counter.count)
    return counts


def test_settings_pages_and_api_use_a_constant_number_of_queries(app, browser, admin, monkeypatch):
    group = admin["group"]
    urls = [
        f"/settings/reporting-groups/{group}/agent-settings",
        f"/api/v1/reporting-groups/{group}/effective-settings?role={admin['lead']}",
        "/settings/reporting-groups",
    ]
    browser.get(urls[0])  # warm caches (session touch, etc.)
    small = _count_queries(app, browser, urls)
    _grow(app, admin["org"], admin["product"], 12)
    # One more key in the registry must not add queries either.
    from app.agent_settings import registry

    extra = registry.SettingDef("extra_flag", "Extra", "bool", False, "test", True, registry._bool)
    monkeypatch.setattr(registry, "SETTINGS", (*registry.SETTINGS, extra))
    monkeypatch.setattr(registry, "REGISTRY", {**registry.REGISTRY, "extra_flag": extra})
    large = _count_queries(app, browser, urls)
    assert all(c > 0 for c in small)
    assert large == small, (small, large)
    with app.app_context():
        assert db.session.execute(select(ReportingGroup.id)).scalars().all().__len__() == 13


def test_a_schedule_saved_from_the_form_is_shown_in_the_readers_language(app, browser, admin):
    url = f"/settings/reporting-groups/{admin['group']}/agent-settings"
    response = browser.submit(
        url,
        {
            "val:remote_assistance.access_windows": "set",
            "text:remote_assistance.access_windows": "Mon-Fri 8-18; Sat 9:00-13:00",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        stored = describe(_group(app, admin["group"]))["remote_assistance.access_windows"]
    assert stored["value"][0] == {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "from": "08:00",
        "to": "18:00",
    }
    html = browser.get(url).get_data(as_text=True)
    assert 'value="Mon\u2013Fri 08:00\u201318:00; Sat 09:00\u201313:00"' in html
    assert "Times in UTC (the organization's time zone)" in html
    browser.submit(url, {"language": "es"}, post_url="/language")
    html = browser.get(url).get_data(as_text=True)
    assert 'value="lun\u2013vie 08:00\u201318:00; sáb 09:00\u201313:00"' in html
    history = browser.get(url + "/history").get_data(as_text=True)
    assert "lun\u2013vie 08:00\u201318:00" in history
    effective = browser.get(f"/settings/reporting-groups/{admin['group']}/effective")
    assert "lun\u2013vie 08:00\u201318:00" in effective.get_data(as_text=True)


def test_a_bad_schedule_is_refused_without_losing_the_other_edits(app, browser, admin):
    url = f"/settings/reporting-groups/{admin['group']}/agent-settings"
    response = browser.submit(
        url,
        {
            "val:proxy_url": "set",
            "text:proxy_url": "http://proxy.acme.example:3128",
            "val:remote_assistance.access_windows": "set",
            "text:remote_assistance.access_windows": "Mon-Fri 08:00-18:00; Funday 9-13",
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "“Funday” is not a day of the week" in html
    assert 'value="http://proxy.acme.example:3128"' in html  # the other edit is kept
    assert 'value="Mon-Fri 08:00-18:00; Funday 9-13"' in html  # and the bad one, to fix
    assert 'class="cell has-error"' in html
    with app.app_context():
        stored = describe(_group(app, admin["group"]))
    assert stored["proxy_url"]["set"] is False
    assert stored["remote_assistance.access_windows"]["set"] is False


def test_bulk_form_sets_a_schedule_on_several_groups(app, browser, admin):
    with app.app_context():
        product = db.session.get(Product, admin["product"])
        second = create_reporting_group(product, "Second").id
        db.session.commit()
    response = browser.submit(
        f"/settings/reporting-groups/bulk?group_ids={admin['group']}&group_ids={second}",
        {
            "group_ids": [str(admin["group"]), str(second)],
            "val:remote_assistance.access_windows": "set",
            "text:remote_assistance.access_windows": "Sat-Sun 10:00-12:00",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        for gid in (admin["group"], second):
            value = describe(_group(app, gid))["remote_assistance.access_windows"]["value"]
            assert value == [{"days": ["sat", "sun"], "from": "10:00", "to": "12:00"}]
