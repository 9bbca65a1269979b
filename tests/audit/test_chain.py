import itertools
import threading

import pytest
from sqlalchemy import delete, select, text, update

from app.audit import AuditLogImmutable
from app.audit import chain as audit
from app.extensions import db
from app.models import AuditEvent
from tests import factories


@pytest.fixture
def org_with_events(app):
    with app.app_context():
        org = factories.create_org("Acme")
        for i in range(3):
            audit.record("test.event", organization_id=org.id, details={"n": i})
        db.session.commit()
        return org.id


def _events(org_id):
    return (
        db.session.execute(
            select(AuditEvent).where(AuditEvent.organization_id == org_id).order_by(AuditEvent.seq)
        )
        .scalars()
        .all()
    )


def test_events_are_chained_per_organization(app, org_with_events):
    with app.app_context():
        other = factories.create_org("Other")
        events = _events(org_with_events)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert events[0].prev_hash == audit.GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
        # Another organization starts its own chain.
        assert _events(other.id)[0].seq == 1
        assert all(r.ok for r in audit.verify_all())


def test_verify_cli_passes_on_an_untouched_log(app, org_with_events):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"org:{org_with_events}" in result.output and "OK" in result.output


def test_verify_cli_detects_a_modified_event(app, org_with_events):
    with app.app_context():
        target = _events(org_with_events)[1]
        seq, target_id = target.seq, target.id
        # Tampering straight in the database, as an attacker with SQL access would.
        db.session.execute(
            update(AuditEvent).where(AuditEvent.id == target.id).values(actor="someone else")
        )
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code != 0
    assert f"event #{seq} (id {target_id}) was modified" in result.output


def test_verify_detects_a_deleted_event_in_the_middle(app, org_with_events):
    with app.app_context():
        target = _events(org_with_events)[1]
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == target.id))
        db.session.commit()
        report = audit.verify_chain(f"org:{org_with_events}")
    assert not report.ok
    assert any("missing" in p for p in report.problems)


def test_verify_detects_the_newest_event_deleted(app, org_with_events):
    with app.app_context():
        newest = _events(org_with_events)[-1]
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == newest.id))
        db.session.commit()
        report = audit.verify_chain(f"org:{org_with_events}")
    assert any("newest event(s) missing" in p for p in report.problems)


def test_verify_detects_a_rewritten_details_field(app, org_with_events):
    with app.app_context():
        target = _events(org_with_events)[0]
        table = AuditEvent.__table__
        db.session.execute(table.update().where(table.c.id == target.id).values(details={"n": 99}))
        db.session.commit()
        assert not audit.verify_chain(f"org:{org_with_events}").ok


def test_orm_refuses_to_change_or_delete_events(app, org_with_events):
    with app.app_context():
        event = _events(org_with_events)[0]
        event.action = "rewritten"
        with pytest.raises(AuditLogImmutable):
            db.session.flush()
        db.session.rollback()
        event = _events(org_with_events)[0]
        db.session.delete(event)
        with pytest.raises(AuditLogImmutable):
            db.session.flush()
        db.session.rollback()
        assert db.session.execute(text("SELECT count(*) FROM audit_events")).scalar() > 0


def test_concurrent_appenders_each_get_their_own_place_in_the_chain(app):
    """Several requests recording at the same moment (the fuzzer found this on SQLite,
    which has no row locks): every event is appended, with consecutive seqs."""
    with app.app_context():
        org_id = factories.create_org("Busy").id
    barrier, errors = threading.Barrier(4), []

    def append(n):
        with app.app_context():
            barrier.wait()
            for i in range(5):
                try:
                    audit.record(
                        "test.concurrent", organization_id=org_id, details={"n": n, "i": i}
                    )
                    db.session.commit()
                except Exception as exc:  # collected and asserted below
                    errors.append(repr(exc))
                    db.session.rollback()
            db.session.remove()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        seqs = sorted(
            db.session.execute(
                select(AuditEvent.seq).where(AuditEvent.action == "test.concurrent")
            ).scalars()
        )
        assert len(seqs) == 20 and seqs == list(range(seqs[0], seqs[0] + 20))
        assert audit.verify_chain(audit.chain_for(org_id)).ok
