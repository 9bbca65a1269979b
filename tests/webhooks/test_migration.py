"""The e14_webhooks migration up and down, on a database of its own: SQLite always, and the
session's PostgreSQL server when the suite runs on one. Existing Organization Admin roles
get webhooks.manage; the downgrade takes the tables and the permission away again."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db

BEFORE, REVISION = "e14_windows", "e14_webhooks"


def _databases(services) -> list[str]:
    found = ["sqlite"]
    if services["database_url"].startswith("postgresql"):
        found.append("postgresql")
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch(request, services, tmp_path):
    """The URL of an empty database of the parametrized kind."""
    if request.param not in _databases(services):
        pytest.skip("the suite runs on SQLite here")
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    server = sa.make_url(services["database_url"])
    name = f"mig_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _rows(sql: str, **params) -> list[tuple]:
    return [tuple(r) for r in db.session.execute(sa.text(sql), params).all()]


def _tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def test_upgrade_grants_webhooks_manage_and_downgrade_takes_everything_away(scratch):
    app = create_app("test", SQLALCHEMY_DATABASE_URI=scratch)
    with app.app_context():
        try:
            upgrade(revision=BEFORE)
            assert "webhook_endpoints" not in _tables()
            for org_id, name in ((1, "Acme"), (2, "Globex")):
                db.session.execute(
                    sa.text(
                        "INSERT INTO organizations (id, name, slug, audit_retention_days, "
                        "created_at, mfa_policy, time_zone) "
                        "VALUES (:id, :name, :slug, 365, '2026-01-01 00:00:00', 'off', 'UTC')"
                    ),
                    {"id": org_id, "name": name, "slug": name.lower()},
                )
            for role_id, key in ((1, "org_admin"), (2, "helpdesk_lead"), (3, None)):
                db.session.execute(
                    sa.text(
                        "INSERT INTO roles (id, organization_id, name, builtin_key, "
                        "limited_to_groups, created_at) "
                        "VALUES (:id, 1, :name, :key, false, '2026-01-01 00:00:00')"
                    ),
                    {"id": role_id, "name": key or "Custom", "key": key},
                )
            db.session.execute(
                sa.text("INSERT INTO role_permissions VALUES (1, 'org.manage'), (3, 'ra.start')")
            )
            db.session.commit()

            upgrade(revision=REVISION)
            assert {"webhook_endpoints", "webhook_deliveries"} <= _tables()
            assert _rows(
                "SELECT role_id FROM role_permissions WHERE permission = 'webhooks.manage'"
            ) == [(1,)]
            db.session.execute(
                sa.text(
                    "INSERT INTO webhook_endpoints (id, organization_id, url, secret_sealed, "
                    "secret_prefix, events, enabled, disabled_reason, created_at, updated_at) "
                    "VALUES (1, 1, 'https://x.example/', :sealed, 'whsec_abcd', '[\"*\"]', "
                    "true, '', :now, :now)"
                ),
                {"sealed": b"sealed", "now": "2026-01-01 00:00:00"},
            )
            db.session.execute(
                sa.text(
                    "INSERT INTO webhook_deliveries (delivery_id, endpoint_id, organization_id, "
                    "seq, event_type, body, state, attempts, created_at, last_error) "
                    "VALUES ('d-1', 1, 1, 7, 'role.updated', '{}', 'pending', 0, :now, '')"
                ),
                {"now": "2026-01-01 00:00:00"},
            )
            db.session.commit()
            with pytest.raises(sa.exc.IntegrityError):  # another tenant's endpoint: refused
                db.session.execute(
                    sa.text(
                        "INSERT INTO webhook_deliveries (delivery_id, endpoint_id, "
                        "organization_id, seq, event_type, body, state, attempts, created_at, "
                        "last_error) VALUES ('d-2', 1, 2, 8, 'x', '{}', 'pending', 0, "
                        "'2026-01-01 00:00:00', '')"
                    )
                )
            db.session.rollback()

            downgrade(revision=BEFORE)
            assert "webhook_endpoints" not in _tables()
            assert "webhook_deliveries" not in _tables()
            assert _rows("SELECT permission FROM role_permissions ORDER BY role_id") == [
                ("org.manage",),
                ("ra.start",),
            ]
            upgrade()  # and up again, to the head
            assert "webhook_endpoints" in _tables()
        finally:
            db.session.remove()
            db.engine.dispose()
