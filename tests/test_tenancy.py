import pytest
from werkzeug.exceptions import NotFound

from app.models import Product
from app.tenancy import get_in_org_or_404
from tests import factories


def test_org_scoped_lookup_returns_own_rows_and_404s_foreign_ones(app):
    with app.app_context():
        a, b = factories.create_org("A"), factories.create_org("B")
        email = factories.create_member(a, "org_admin").email
        own, foreign = factories.product_of(a).id, factories.product_of(b).id
    # Run the helper inside a signed-in request.
    with app.test_request_context("/"):
        from flask import session
        from flask_login import login_user

        from app.extensions import db
        from app.models import AuthSession, User
        from app.people.signin import start_session
        from app.security import SESSION_TOKEN_KEY

        user = db.session.query(User).filter_by(email=email).one()
        session[SESSION_TOKEN_KEY] = start_session(user, "127.0.0.1", "test")
        db.session.commit()
        login_user(user)
        assert get_in_org_or_404(Product, own).id == own
        with pytest.raises(NotFound):
            get_in_org_or_404(Product, foreign)
        with pytest.raises(NotFound):
            get_in_org_or_404(Product, "not-a-number")
        assert db.session.query(AuthSession).count() == 1


def test_device_online_derives_from_last_checkin(app):
    from datetime import timedelta

    from app.models import Device, utcnow

    now = utcnow()
    device = Device(last_checkin_at=now - timedelta(seconds=170))
    assert device.is_online(60, now)
    device.last_checkin_at = now - timedelta(seconds=181)
    assert not device.is_online(60, now)
    assert not Device(last_checkin_at=None).is_online(60, now)
