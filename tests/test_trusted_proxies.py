"""TRUSTED_PROXIES (SPEC §7): behind N proxies the per-IP throttles see each client's own
address; with 0, X-Forwarded-For is ignored, so a client cannot pick its address."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import AuditEvent
from tests import factories


def _portal(proxies: int):
    portal = create_app(
        "test",
        TRUSTED_PROXIES=proxies,
        LOGIN_MAX_FAILURES_PER_IP=3,
        LOGIN_MAX_FAILURES_PER_ACCOUNT=100,
        RELAY_MAX_CONNECTS_PER_IP=3,
    )
    portal.config["WTF_CSRF_ENABLED"] = False
    return portal.test_client()


def _via_proxy(client, path: str, forwarded_for: str, **body):
    """A POST as the load balancer (10.0.0.1) forwards it for `forwarded_for`."""
    return client.post(
        path,
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
        **body,
    )


def _sign_in(client, forwarded_for: str, email: str = "nobody@example.com"):
    data = {"email": email, "password": "wrong password!"}
    return _via_proxy(client, "/login", forwarded_for, data=data)


def _relay(client, forwarded_for: str):
    body = {"connection_id": "nope"}
    return _via_proxy(client, "/api/relay/v1/disconnect", forwarded_for, json=body)


def test_behind_a_trusted_proxy_each_client_has_its_own_sign_in_throttle(app):
    client = _portal(1)
    for _ in range(3):
        assert _sign_in(client, "203.0.113.7").status_code == 401
    assert _sign_in(client, "203.0.113.7").status_code == 429
    # Another client behind the same load balancer is not locked out.
    assert _sign_in(client, "198.51.100.9").status_code == 401


def test_behind_a_trusted_proxy_each_client_has_its_own_relay_throttle(app):
    client = _portal(1)
    for _ in range(3):
        assert _relay(client, "203.0.113.7").status_code == 404
    assert _relay(client, "203.0.113.7").status_code == 429
    assert _relay(client, "198.51.100.9").status_code == 404


def test_only_the_address_the_trusted_proxy_saw_counts(app):
    """A client behind one proxy cannot pick its address by sending its own header: the
    proxy appends what it saw, and only that last entry is trusted."""
    client = _portal(1)
    for n in range(3):
        assert _sign_in(client, f"1.2.3.{n}, 203.0.113.7").status_code == 401
    assert _sign_in(client, "9.9.9.9, 203.0.113.7").status_code == 429


def test_without_trusted_proxies_the_header_is_ignored(app):
    client = _portal(0)
    for n in range(3):
        assert _sign_in(client, f"203.0.113.{n}").status_code == 401
    # A new X-Forwarded-For value does not escape the throttle of the real address.
    assert _sign_in(client, "198.51.100.9").status_code == 429
    assert _relay(client, "198.51.100.9").status_code == 404


def test_the_audit_log_records_the_clients_address(app):
    with app.app_context():
        email = factories.create_member(factories.create_org()).email
    assert _sign_in(_portal(1), "203.0.113.7", email).status_code == 401
    assert _sign_in(_portal(0), "203.0.113.7", email).status_code == 401
    with app.app_context():
        ips = db.session.execute(
            select(AuditEvent.ip).where(AuditEvent.action == "auth.login_failed")
        ).scalars()
        assert list(ips) == ["203.0.113.7", "10.0.0.1"]


def test_a_negative_proxy_count_refuses_to_start():
    from app.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_config("test", {"TRUSTED_PROXIES": "-1"})
    assert load_config("test", {}).TRUSTED_PROXIES == 0
