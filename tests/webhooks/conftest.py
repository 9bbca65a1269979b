import pytest

from tests.e2e.conftest import processes  # noqa: F401  (real child processes)
from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver():
    made = []

    def make(**kw) -> Receiver:
        r = Receiver(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


@pytest.fixture
def config(app):
    """Set app.config values for one test: config(WEBHOOK_…=…)."""
    saved = {}

    def set_(**values):
        for key, value in values.items():
            saved.setdefault(key, app.config[key])
            app.config[key] = value

    yield set_
    app.config.update(saved)


@pytest.fixture
def acme(app):
    """Acme with an Organization Admin; returns (org id, admin user id)."""
    from tests import factories

    with app.app_context():
        org = factories.create_org("Acme")
        admin = factories.create_member(org, "org_admin", email="admin@acme.example")
        return org.id, admin.id
