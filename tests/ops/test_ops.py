"""Liveness, readiness, metrics and request ids: what load balancers, Prometheus and log
shippers see."""

from __future__ import annotations

import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from app.core import periodic
from app.extensions import db
from app.ops.instrument import JsonFormatter
from tests import factories


def _samples(text: str) -> dict:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_needs_a_recent_worker_heartbeat(app, client):
    """No worker has reported yet: not ready (starts would never be signed)."""
    waiting = client.get("/readyz")
    assert waiting.status_code == 503 and waiting.headers["Retry-After"]
    checks = waiting.get_json()["checks"]
    assert checks["database"]["ok"] and checks["redis"]["ok"]
    assert not checks["worker"]["ok"]
    with app.app_context():
        periodic.beat(factories_now())
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"


def factories_now():
    from app.models import utcnow

    return utcnow()


def test_readyz_reports_redis_down(app, services):
    broken = create_app("test", REDIS_URL="redis://127.0.0.1:1/0")
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"]["ok"] is False


def test_readyz_reports_a_schema_behind_the_code(app, client):
    with app.app_context():
        current = db.session.execute(db.text("SELECT version_num FROM alembic_version")).scalar()
        db.session.execute(db.text("UPDATE alembic_version SET version_num = 'b6_auth'"))
        db.session.commit()
    try:
        with app.app_context():
            periodic.beat(factories_now())
        response = client.get("/readyz")
        assert response.status_code == 503
        assert "code expects" in response.get_json()["checks"]["database"]["detail"]
    finally:
        with app.app_context():
            db.session.execute(
                db.text("UPDATE alembic_version SET version_num = :v"), {"v": current}
            )
            db.session.commit()


def test_metrics_count_requests_by_route_and_read_the_database(app, client):
    with app.app_context():
        factories.create_org("Acme")
    client.get("/api/v1/health")
    client.get("/api/v1/devices/12345")
    text = client.get("/metrics").get_data(as_text=True)
    samples = _samples(text)
    health = (
        "portal_http_requests_total",
        (("method", "GET"), ("route", "/api/v1/health"), ("status", "200")),
    )
    assert samples.get(health, 0) >= 1
    assert any(
        name == "portal_http_requests_total" and dict(labels).get("status") == "401"
        for name, labels in samples
    )
    assert samples[("portal_database_up", ())] == 1
    assert ("portal_last_sweep_timestamp_seconds", ()) in samples


def _production(**env):
    import os

    from app.config import load_config

    return create_app(load_config("production", {**os.environ, "SECRET_KEY": "x" * 40, **env}))


def test_metrics_need_the_token_in_production(app, services):
    closed = _production()
    assert closed.test_client().get("/metrics").status_code == 404
    guarded = _production(METRICS_TOKEN="s3cret-metrics")
    client = guarded.test_client()
    assert client.get("/metrics").status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert ok.status_code == 200 and b"portal_http_requests_total" in ok.data


def test_every_response_carries_a_request_id_and_keeps_a_sane_one(client):
    fresh = client.get("/healthz").headers["X-Request-ID"]
    assert len(fresh) == 32
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a.42"
    hostile = client.get("/healthz", headers={"X-Request-ID": "x\\r\\ninjected: 1" * 10})
    assert hostile.headers["X-Request-ID"] != "x\\r\\ninjected: 1" * 10


def test_json_logs_carry_the_request_id(app):
    formatter = JsonFormatter()
    with app.test_request_context("/healthz", headers={"X-Request-ID": "abc-123"}):
        app.preprocess_request()
        record = logging.LogRecord(
            "app.test", logging.WARNING, __file__, 1, "hello %s", ("x",), None
        )
        line = json.loads(formatter.format(record))
    assert line["message"] == "hello x" and line["request_id"] == "abc-123"
    assert line["level"] == "WARNING" and line["logger"] == "app.test"
