"""The demo seed: a custom role limited to one reporting group, and a user holding it."""

from sqlalchemy import select

from app.demo import DEMO_LIMITED_USER, seed_demo
from app.extensions import db
from app.models import ReportingGroup, Role
from app.people.users import find_user_by_email, membership_of


def test_demo_has_a_kiosk_operator_limited_to_kiosks(app):
    with app.app_context():
        rows = seed_demo()
        role = db.session.execute(select(Role).where(Role.name == "Kiosk Operator")).scalar_one()
        kiosks = db.session.execute(
            select(ReportingGroup).where(ReportingGroup.name == "Kiosks")
        ).scalar_one()
        assert set(role.permissions) == {"devices.view", "ra.start"}
        assert role.group_limit == {kiosks.id}
        user = find_user_by_email(DEMO_LIMITED_USER)
        assert membership_of(user, role.organization_id).role_id == role.id
        printed = {email: label for label, email, _ in rows}
        assert printed[DEMO_LIMITED_USER] == "Kiosk Operator (Kiosks only)"
        assert len(rows) == 7 and all(len(secret) >= 16 for *_, secret in rows)
