"""Audit retention: pruning old events behind a checkpoint keeps the chain verifiable,
and a deletion that pruning did not make is still detected."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from app.audit import AuditLogImmutable
from app.audit import chain as audit
from app.audit.retention import AuditPruneRefused, prune_all, prune_chain
from app.extensions import db
from app.models import AuditCheckpoint, AuditEvent, Organization
from app.tasks.schedule import PERIODIC_JOBS
from tests import factories

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    """The time audit events are recorded and pruned at (tests do not depend on today)."""

    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    from app.audit import retention as audit_retention

    clock = Clock()
    monkeypatch.setattr(audit, "utcnow", clock)
    monkeypatch.setattr(audit_retention, "utcnow", clock)
    return clock


@pytest.fixture
def org_id(app, clock):
    """Acme (365-day retention): created and 5 events 400 days ago, 3 events 10 days ago."""
    with app.app_context():
        clock.now = NOW - timedelta(days=401)
        org = factories.create_org("Acme")
        for i in range(5):
            clock.now = NOW - timedelta(days=400, minutes=-i)
            audit.record("old.event", organization_id=org.id, details={"i": i})
        for i in range(3):
            clock.now = NOW - timedelta(days=10, minutes=-i)
            audit.record("recent.event", organization_id=org.id, details={"i": i})
        clock.now = NOW
        db.session.commit()
        return org.id


def _chain(org_id):
    return f"org:{org_id}"


def _actions(org_id):
    return list(
        db.session.execute(
            select(AuditEvent.action)
            .where(AuditEvent.organization_id == org_id)
            .order_by(AuditEvent.seq)
        ).scalars()
    )


def _prune(org_id, batch=5000):
    pruned = prune_chain(db.session.get(Organization, org_id), None, batch)
    db.session.commit()
    return pruned


def test_pruning_deletes_old_events_behind_a_checkpoint_and_the_chain_verifies(app, org_id):
    with app.app_context():
        old_count = _actions(org_id).count("old.event")
        pruned_through = db.session.execute(
            select(func.max(AuditEvent.seq)).where(
                AuditEvent.organization_id == org_id,
                AuditEvent.occurred_at < NOW - timedelta(days=365),
            )
        ).scalar_one()
        assert _prune(org_id) == pruned_through
        actions = _actions(org_id)
        assert "old.event" not in actions and old_count == 5
        assert actions[:3] == ["recent.event"] * 3 and actions[-1] == "audit.pruned"
        checkpoint = db.session.execute(select(AuditCheckpoint)).scalar_one()
        assert checkpoint.seq == pruned_through and checkpoint.events_pruned == pruned_through
        pruned_event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "audit.pruned")
        ).scalar_one()
        assert pruned_event.details["through_seq"] == checkpoint.seq
        assert pruned_event.details["through_hash"] == checkpoint.hash
        report = audit.verify_chain(_chain(org_id))
        assert report.ok, report.problems
        assert report.checkpoint_seq == checkpoint.seq
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"org:{org_id}: 4 event(s) from checkpoint #{pruned_through} OK" in result.output


def test_nothing_is_pruned_inside_the_retention_period(app, org_id):
    with app.app_context():
        _prune(org_id)
        before = _actions(org_id)
        assert _prune(org_id) == 0
        assert _actions(org_id) == before
        assert db.session.execute(select(func.count()).select_from(AuditCheckpoint)).scalar() == 1


def test_later_prunes_chain_checkpoints_and_still_verify(app, org_id, clock):
    with app.app_context():
        _prune(org_id)
        # A year later the recent events and the first pruning event are old too.
        clock.now = NOW + timedelta(days=400)
        assert _prune(org_id) == 4
        assert _actions(org_id) == ["audit.pruned"]
        assert db.session.execute(select(func.count()).select_from(AuditCheckpoint)).scalar() == 2
        assert audit.verify_chain(_chain(org_id)).ok


def test_batches_prune_a_backlog_in_steps(app, org_id):
    with app.app_context():
        assert _prune(org_id, batch=2) == 2
        assert _prune(org_id, batch=2) == 2
        assert audit.verify_chain(_chain(org_id)).ok
        assert prune_all(batch=2) >= 1
        assert "old.event" not in _actions(org_id)
        assert audit.verify_chain(_chain(org_id)).ok


def test_an_event_deleted_outside_pruning_is_still_detected(app, org_id):
    with app.app_context():
        _prune(org_id)
        victim = (
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.organization_id == org_id, AuditEvent.action == "recent.event")
                .order_by(AuditEvent.seq)
            )
            .scalars()
            .first()
        )
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == victim.id))
        db.session.commit()
        report = audit.verify_chain(_chain(org_id))
    assert not report.ok
    assert any(f"#{victim.seq}" in p and "missing" in p for p in report.problems)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code != 0 and "TAMPERED" in result.output


def test_deleting_the_checkpoint_is_detected(app, org_id):
    with app.app_context():
        _prune(org_id)
        db.session.execute(delete(AuditCheckpoint))
        db.session.commit()
        report = audit.verify_chain(_chain(org_id))
    assert not report.ok
    assert any("#1.." in p and "missing" in p for p in report.problems)


def test_a_checkpoint_forged_to_hide_a_deletion_is_detected(app, org_id):
    """Deleting the oldest events and inserting a matching checkpoint by hand: the
    checkpoint is not confirmed by an audit.pruned event in the chain."""
    with app.app_context():
        oldest = (
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.organization_id == org_id)
                .order_by(AuditEvent.seq)
                .limit(3)
            )
            .scalars()
            .all()
        )
        last = oldest[-1]
        db.session.execute(delete(AuditEvent).where(AuditEvent.id.in_([e.id for e in oldest])))
        db.session.add(
            AuditCheckpoint(
                chain=_chain(org_id),
                organization_id=org_id,
                seq=last.seq,
                hash=last.hash,
                pruned_before=NOW,
                events_pruned=3,
            )
        )
        db.session.commit()
        report = audit.verify_chain(_chain(org_id))
    assert not report.ok
    assert any("not confirmed" in p for p in report.problems)


def test_pruning_refuses_to_delete_tampered_events(app, org_id):
    with app.app_context():
        target = (
            db.session.execute(
                select(AuditEvent)
                .where(AuditEvent.organization_id == org_id, AuditEvent.action == "old.event")
                .order_by(AuditEvent.seq)
            )
            .scalars()
            .first()
        )
        db.session.execute(
            update(AuditEvent).where(AuditEvent.id == target.id).values(actor="someone else")
        )
        db.session.commit()
        before = _actions(org_id)
        with pytest.raises(AuditPruneRefused, match="was modified"):
            prune_chain(db.session.get(Organization, org_id))
        db.session.rollback()
        assert prune_all() == 0  # the job skips the organization, keeping the evidence
        assert _actions(org_id) == before
        assert db.session.execute(select(func.count()).select_from(AuditCheckpoint)).scalar() == 0


def test_retention_is_per_organization(app, org_id, clock):
    with app.app_context():
        clock.now = NOW - timedelta(days=100)
        other = factories.create_org("Other")
        clock.now = NOW
        db.session.commit()
        other_id = other.id
        org = db.session.get(Organization, org_id)
        org.audit_retention_days = 30
        db.session.commit()
        prune_all()
        # Acme keeps 30 days: everything older went; Other keeps 365: nothing went.
        assert set(_actions(org_id)) == {"recent.event", "audit.pruned"}
        assert "audit.pruned" not in _actions(other_id)
        assert all(r.ok for r in audit.verify_all())


def test_the_orm_refuses_to_change_or_delete_checkpoints(app, org_id):
    with app.app_context():
        _prune(org_id)
        checkpoint = db.session.execute(select(AuditCheckpoint)).scalar_one()
        checkpoint.seq = 1
        with pytest.raises(AuditLogImmutable):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.execute(select(AuditCheckpoint)).scalar_one())
        with pytest.raises(AuditLogImmutable):
            db.session.flush()
        db.session.rollback()


def test_the_worker_prunes_periodically(app, org_id):
    from app.tasks.housekeeping import prune_audit_log

    job = next(p for p in PERIODIC_JOBS if p.name == "prune-audit")
    assert job.func == "app.tasks.housekeeping.prune_audit_log"
    with app.app_context():
        assert job.interval() == app.config["AUDIT_PRUNE_INTERVAL_SECONDS"]
        assert prune_audit_log() == 8
        assert "old.event" not in _actions(org_id)
        assert audit.verify_chain(_chain(org_id)).ok
