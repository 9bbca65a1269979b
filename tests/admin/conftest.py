import pytest

from tests.admin.support import build_tenant
from tests.factories import PASSWORD


@pytest.fixture
def tenants(app):
    """Organizations Alpha and Bravo, each with products, groups, roles and members."""
    with app.app_context():
        return build_tenant("Alpha"), build_tenant("Bravo")


@pytest.fixture
def alpha(tenants):
    return tenants[0]


@pytest.fixture
def bravo(tenants):
    return tenants[1]


@pytest.fixture
def alpha_admin(browser, alpha):
    """A browser signed in as Alpha's organization admin."""
    response = browser.login(alpha.admin_email, PASSWORD)
    assert response.status_code == 302
    return browser
