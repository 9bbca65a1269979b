"""people: roles limited to reporting groups, audit retention and checkpoints

Revision ID: c6_people
Revises: a5_assistance
Create Date: 2026-11-21 06:10:26.874254

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c6_people'
down_revision = "a5_assistance"
branch_labels = None
depends_on = None

RETENTION_CHECK = "audit_retention_days BETWEEN 30 AND 3650"
ORG_ADMIN_CHECK = "NOT (limited_to_groups AND builtin_key = 'org_admin')"


def _add_checked_column(table, column, sqlite_column_sql, check_name, check_sql):
    """Add a column and its CHECK constraint to an existing table.

    On SQLite, adding a table constraint means recreating the table (batch mode), and
    dropping a parent table with foreign keys on would cascade-delete its children. A
    column constraint added in place with ALTER TABLE avoids the copy."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {sqlite_column_sql} "
            f"CONSTRAINT {check_name} CHECK ({check_sql})"
        )
    else:
        op.add_column(table, column)
        op.create_check_constraint(op.f(check_name), table, check_sql)


def _drop_checked_column(table, column, check_name):
    if op.get_bind().dialect.name == "sqlite":
        # The CHECK is the column's own: SQLite (>= 3.35) drops both in place.
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_constraint(op.f(check_name), table, type_="check")
        op.drop_column(table, column)


def upgrade():
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('chain', sa.String(length=40), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('pruned_before', sa.DateTime(), nullable=False),
    sa.Column('events_pruned', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('events_pruned > 0', name=op.f('ck_audit_checkpoints_events_pruned')),
    sa.CheckConstraint('seq > 0', name=op.f('ck_audit_checkpoints_seq')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints')),
    sa.UniqueConstraint('chain', 'seq', name=op.f('uq_audit_checkpoints_chain_seq'))
    )
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_checkpoints_organization_id'), ['organization_id'], unique=False)

    op.create_table('role_reporting_groups',
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('reporting_group_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_role_reporting_groups_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporting_group_id', 'organization_id'], ['reporting_groups.id', 'reporting_groups.organization_id'], name=op.f('fk_role_reporting_groups_reporting_group_id_organization_id_reporting_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id', 'organization_id'], ['roles.id', 'roles.organization_id'], name=op.f('fk_role_reporting_groups_role_id_organization_id_roles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('role_id', 'reporting_group_id', name=op.f('pk_role_reporting_groups'))
    )
    with op.batch_alter_table('role_reporting_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_reporting_groups_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_role_reporting_groups_reporting_group_id'), ['reporting_group_id'], unique=False)

    _add_checked_column(
        'organizations',
        sa.Column('audit_retention_days', sa.Integer(), server_default='365', nullable=False),
        "audit_retention_days INTEGER DEFAULT '365' NOT NULL",
        'ck_organizations_audit_retention_days',
        RETENTION_CHECK,
    )
    _add_checked_column(
        'roles',
        sa.Column('limited_to_groups', sa.Boolean(), server_default=sa.false(), nullable=False),
        "limited_to_groups BOOLEAN DEFAULT 0 NOT NULL",
        'ck_roles_org_admin_unlimited',
        ORG_ADMIN_CHECK,
    )


def downgrade():
    _drop_checked_column('roles', 'limited_to_groups', 'ck_roles_org_admin_unlimited')
    _drop_checked_column(
        'organizations', 'audit_retention_days', 'ck_organizations_audit_retention_days'
    )

    with op.batch_alter_table('role_reporting_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_reporting_groups_reporting_group_id'))
        batch_op.drop_index(batch_op.f('ix_role_reporting_groups_organization_id'))

    op.drop_table('role_reporting_groups')
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_checkpoints_organization_id'))

    op.drop_table('audit_checkpoints')
