from app.extensions import db
from app.people.organizations import builtin_role
from app.people.users import add_membership
from tests import factories


def test_member_of_two_orgs_switches_between_them(app, browser):
    with app.app_context():
        acme, globex = factories.create_org("Acme"), factories.create_org("Globex")
        user = factories.create_member(acme, "operator")
        add_membership(user, globex, builtin_role(globex.id, "auditor"))
        db.session.commit()
        email, globex_id = user.email, globex.id
    browser.login(email, factories.PASSWORD)
    home = browser.get("/").get_data(as_text=True)
    assert "<h1>Acme</h1>" in home and "Operator" in home
    browser.submit("/", {"org_id": globex_id}, post_url="/switch-org")
    home = browser.get("/").get_data(as_text=True)
    assert "<h1>Globex</h1>" in home and "Auditor" in home


def test_switching_to_an_org_you_are_not_in_is_404(app, browser):
    with app.app_context():
        acme, other = factories.create_org("Acme"), factories.create_org("Other")
        email, other_id = factories.create_member(acme).email, other.id
    browser.login(email, factories.PASSWORD)
    response = browser.submit("/", {"org_id": other_id}, post_url="/switch-org")
    assert response.status_code == 404
    assert "<h1>Acme</h1>" in browser.get("/").get_data(as_text=True)
