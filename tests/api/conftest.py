import pytest

from app.extensions import db
from app.people import api_tokens
from tests import factories


@pytest.fixture
def tokens(app):
    """Return make(role_key, org=None) -> (bearer headers, org id)."""

    def make(role_key="org_admin", org_name=None, days=30):
        with app.app_context():
            org = factories.create_org(org_name)
            user = factories.create_member(org, role_key)
            _, raw = api_tokens.create_token(user, org.id, "tests", days)
            db.session.commit()
            return {"Authorization": f"Bearer {raw}"}, org.id

    return make
