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
