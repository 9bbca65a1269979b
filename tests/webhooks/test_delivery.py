"""Delivering the outbox, in this process, against a real HTTP receiver on 127.0.0.1:
retries with exponential backoff until a 2xx, in order; one worker per endpoint; failures
without an answer; disabling after the failure period with the owner told; the sweep."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

from rq import Queue
from sqlalchemy import select, update

from app.core.jobs import QUEUE_WEBHOOKS
from app.extensions import db, redis_store
from app.models import (
    AuditEvent,
    Membership,
    Organization,
    Role,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from app.webhooks import delivery
from app.webhooks import endpoints as service
from tests import factories
from tests.webhooks.helpers import deliveries, endpoint, endpoint_row, events


def run(app, hook) -> int:
    with app.app_context():
        return delivery.deliver_endpoint(hook)


def time_passes(app, hook, seconds: float) -> None:
    """Move the endpoint's clock: its backoff and failure period began `seconds` earlier."""
    with app.app_context():
        row = db.session.get(WebhookEndpoint, hook)
        if row.retry_at:
            row.retry_at -= timedelta(seconds=seconds)
        if row.failing_since:
            row.failing_since -= timedelta(seconds=seconds)
        db.session.commit()


def test_fails_three_times_then_delivered_in_order_with_exponential_backoff(
    app, acme, receiver, config
):
    config(WEBHOOK_BACKOFF_BASE_SECONDS=10, WEBHOOK_BACKOFF_MAX_SECONDS=3600)
    org_id, _ = acme
    r = receiver(failures=3)
    hook, secret = endpoint(app, org_id, r.url, ["role.*"])
    events(app, org_id, "role.created", "role.updated", "role.deleted")

    waits = []
    for attempt in (1, 2, 3):
        before = utcnow()
        assert run(app, hook) == 0
        row = endpoint_row(app, hook)
        waits.append(round((row.retry_at - before).total_seconds()))
        first = deliveries(app, hook)[0]
        assert (first.attempts, first.last_status_code, first.state) == (attempt, 500, "pending")
        assert [d.attempts for d in deliveries(app, hook)[1:]] == [0, 0]  # the rest waits
        assert run(app, hook) == 0  # backing off: nothing is tried before retry_at
        time_passes(app, hook, waits[-1])
    assert waits == [10, 20, 40]

    assert run(app, hook) == 3
    assert [d.state for d in deliveries(app, hook)] == ["delivered"] * 3
    assert endpoint_row(app, hook).failing_since is None
    got = [(x.status, x.payload["type"]) for x in r.received]
    assert got == [
        (500, "role.created"),
        (500, "role.created"),
        (500, "role.created"),
        (204, "role.created"),
        (204, "role.updated"),
        (204, "role.deleted"),
    ]
    ids = {x.headers["X-Portal-Delivery"] for x in r.received[:4]}
    assert len(ids) == 1 and len({x.body for x in r.received[:4]}) == 1  # same on each retry
    assert all(x.signature_ok(secret) for x in r.received)
    assert all(x.headers["X-Portal-Event"] == x.payload["type"] for x in r.received)
    assert all(x.headers["X-Portal-Delivery"] == x.payload["id"] for x in r.received)


def test_the_backoff_is_capped(app, config):
    config(WEBHOOK_BACKOFF_BASE_SECONDS=10, WEBHOOK_BACKOFF_MAX_SECONDS=3600)
    with app.app_context():
        assert [delivery.backoff_seconds(n) for n in (1, 2, 3, 9, 10, 500)] == [
            10,
            20,
            40,
            2560,
            3600,
            3600,
        ]


def test_a_redirect_is_not_followed_and_counts_as_a_failure(app, acme, receiver):
    org_id, _ = acme
    r = receiver(failures=1, fail_status=302)
    hook, _ = endpoint(app, org_id, r.url, ["role.*"])
    events(app, org_id, "role.updated")
    run(app, hook)
    (first,) = deliveries(app, hook)
    assert first.state == "pending" and first.last_status_code == 302
    assert "redirects are not followed" in first.last_error
    assert len(r.received) == 1


def test_no_answer_is_a_failure_that_says_why(app, acme, receiver, config):
    config(WEBHOOK_TIMEOUT_SECONDS=1)
    org_id, _ = acme
    slow = receiver(delay=3)
    closed = receiver()
    closed.stop()
    slow_hook, _ = endpoint(app, org_id, slow.url, ["role.*"])
    closed_hook, _ = endpoint(app, org_id, closed.url, ["role.*"])
    events(app, org_id, "role.updated")
    run(app, slow_hook)
    run(app, closed_hook)
    assert deliveries(app, slow_hook)[0].last_error == "no answer in time"
    assert deliveries(app, closed_hook)[0].last_error == "connection refused"
    assert deliveries(app, closed_hook)[0].last_status_code is None


def test_disabled_after_failing_for_the_period_and_the_owner_is_told(
    app, acme, receiver, config, outbox
):
    config(WEBHOOK_DISABLE_AFTER_SECONDS=3600, WEBHOOK_BACKOFF_BASE_SECONDS=60)
    org_id, admin_id = acme
    r = receiver(failures=1000, fail_status=503)
    hook, _ = endpoint(app, org_id, r.url, ["role.*"], admin_id=admin_id)
    events(app, org_id, "role.created", "role.updated")
    run(app, hook)
    assert endpoint_row(app, hook).enabled  # failing, not for long enough
    time_passes(app, hook, 3600)
    run(app, hook)

    row = endpoint_row(app, hook)
    assert row.enabled is False and "HTTP 503" in row.disabled_reason
    with app.app_context():
        disabled = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "webhook.disabled")
        ).scalar_one()
        assert disabled.actor == "system" and disabled.details["reason"] == "failing"
    (mail,) = outbox.messages()
    assert mail["To"] == "admin@acme.example"
    assert mail["Subject"].startswith("Webhook disabled: http://127.0.0.1:")
    assert f"/settings/webhooks/{hook}" in outbox.last_body("admin@acme.example")
    tried = len(r.received)
    assert run(app, hook) == 0 and len(r.received) == tried  # disabled: nothing is sent
    events(app, org_id, "role.deleted")  # a disabled endpoint gets no new events
    assert len(deliveries(app, hook)) == 2

    r.failures = 0
    with app.app_context():
        service.set_enabled(db.session.get(WebhookEndpoint, hook), None, True)
        db.session.commit()
    assert run(app, hook) == 2  # what was queued is sent, in order
    assert [x.payload["type"] for x in r.delivered()] == ["role.created", "role.updated"]


def test_when_the_creator_may_no_longer_manage_webhooks_the_admins_are_told(
    app, acme, receiver, config, outbox
):
    config(WEBHOOK_DISABLE_AFTER_SECONDS=1)
    org_id, _admin_id = acme
    with app.app_context():
        org = db.session.get(Organization, org_id)
        factories.create_member(org, "org_admin", email="second@acme.example")
        factories.create_member(org, "auditor", email="auditor@acme.example")
        creator = factories.create_member(org, "helpdesk_lead", email="lead@acme.example")
        creator_id = creator.id
    r = receiver(failures=10)
    hook, _ = endpoint(app, org_id, r.url, ["role.*"], admin_id=creator_id)
    events(app, org_id, "role.updated")
    run(app, hook)
    time_passes(app, hook, 15)
    run(app, hook)
    assert sorted(m["To"] for m in outbox.messages()) == [
        "admin@acme.example",
        "second@acme.example",
    ]
    with app.app_context():  # the creator, holding the permission again, is the owner
        lead = db.session.execute(
            select(Membership).where(Membership.user_id == creator_id)
        ).scalar_one()
        lead.role = db.session.execute(
            select(Role).where(Role.organization_id == org_id, Role.builtin_key == "org_admin")
        ).scalar_one()
        db.session.commit()
        from app.webhooks.notices import owners

        assert [u.email for u in owners(db.session.get(WebhookEndpoint, hook))] == [
            "lead@acme.example"
        ]


def test_two_workers_never_deliver_one_endpoint_at_once(app, acme, receiver):
    org_id, _ = acme
    r = receiver(delay=0.2)
    hook, _ = endpoint(app, org_id, r.url, ["role.*"])
    events(app, org_id, *[f"role.updated_{n}" for n in range(6)])
    results = []

    def worker():
        results.append(run(app, hook))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(results) == 6
    got = [x.payload["type"] for x in r.received]
    assert got == [f"role.updated_{n}" for n in range(6)]  # each once, in order
    starts = [x.at for x in r.received]
    assert all(b - a >= 0.15 for a, b in itertools.pairwise(starts))  # one at a time


def test_a_lease_held_elsewhere_is_respected_and_a_lapsed_one_is_taken(app, acme, receiver):
    org_id, _ = acme
    r = receiver()
    hook, _ = endpoint(app, org_id, r.url, ["role.*"])
    events(app, org_id, "role.updated")
    with app.app_context():
        db.session.execute(
            update(WebhookEndpoint).values(
                lease_owner="another-worker", lease_until=utcnow() + timedelta(seconds=30)
            )
        )
        db.session.commit()
    assert run(app, hook) == 0 and r.received == []
    with app.app_context():  # that worker was killed: its lease lapses
        db.session.execute(
            update(WebhookEndpoint).values(lease_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert run(app, hook) == 1
    assert endpoint_row(app, hook).lease_owner is None


def test_the_sweep_wakes_each_due_endpoint_once(app, acme, config):
    org_id, _ = acme
    config(WEBHOOK_ALLOW_PRIVATE_NETWORKS=True)
    due, _ = endpoint(app, org_id, "http://127.0.0.1:9/a", ["role.*"])
    backing_off, _ = endpoint(app, org_id, "http://127.0.0.1:9/b", ["role.*"])
    idle, _ = endpoint(app, org_id, "http://127.0.0.1:9/c", ["sso.*"])
    events(app, org_id, "role.updated")
    with app.app_context():
        db.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == backing_off)
            .values(retry_at=utcnow() + timedelta(minutes=5))
        )
        db.session.commit()
        redis_store.client.flushdb()  # Redis lost every queued job
        assert delivery.due_endpoints() == [due]
        assert delivery.sweep() == 1
        assert delivery.sweep() == 1  # still due, but a job is already waiting
        queue = Queue(QUEUE_WEBHOOKS, connection=redis_store.client)
        jobs = queue.get_jobs()
        assert [(j.func_name, j.args) for j in jobs] == [(delivery.JOB, (due,))]
    assert idle not in (due, backing_off)


def test_delivered_rows_are_pruned_after_the_retention(app, acme, receiver, config):
    config(WEBHOOK_LOG_RETENTION_DAYS=30)
    org_id, _ = acme
    r = receiver()
    hook, _ = endpoint(app, org_id, r.url, ["role.*"])
    events(app, org_id, "role.created", "role.updated")
    run(app, hook)
    events(app, org_id, "role.deleted")  # pending
    with app.app_context():
        first = db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.seq)).scalar()
        first.delivered_at = utcnow() - timedelta(days=31)
        db.session.commit()
        assert delivery.prune() == 1
    assert [d.event_type for d in deliveries(app, hook)] == ["role.updated", "role.deleted"]
