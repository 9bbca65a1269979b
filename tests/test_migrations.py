from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db


def test_migrations_match_models(app):
    """The schema built by `flask db upgrade` is exactly what the models declare."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_migration_check_sees_a_missing_column(app):
    """The comparison above is able to fail: a model column absent from the DB shows up."""
    import sqlalchemy as sa

    metadata = sa.MetaData()
    for table in db.metadata.sorted_tables:
        table.to_metadata(metadata)
    sa.Table("organizations", metadata, sa.Column("extra", sa.Integer), extend_existing=True)
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert any(d[0] == "add_column" and d[3].name == "extra" for d in diff)


def test_access_windows_migration_goes_down_and_up_again(app):
    """e14_windows adds its columns and index, removes them on downgrade, and comes back."""
    import sqlalchemy as sa
    from alembic.script import ScriptDirectory
    from flask_migrate import downgrade, upgrade

    def columns():
        return {c["name"] for c in sa.inspect(db.engine).get_columns("assistances")}

    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        below = ScriptDirectory.from_config(config).get_revision("e14_windows").down_revision
        try:
            downgrade(revision=below)
            db.engine.dispose()
            assert not {"window_closes_at", "window_warned_minutes"} & columns()
        finally:
            upgrade()
            db.engine.dispose()
        assert {"window_closes_at", "window_warned_minutes"} <= columns()
        indexes = {i["name"] for i in sa.inspect(db.engine).get_indexes("assistances")}
        assert "ix_assistances_window_closes_at" in indexes
