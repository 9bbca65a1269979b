"""assistance: access windows (when an unattended assistance's window closes, and the
last warning sent before it)

Revision ID: e14_windows
Revises: e14_governance
Create Date: 2026-12-01 10:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e14_windows"
down_revision = "e14_governance"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("assistances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("window_closes_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("window_warned_minutes", sa.Integer(), nullable=True))
        batch_op.create_index("ix_assistances_window_closes_at", ["window_closes_at"], unique=False)


def downgrade():
    with op.batch_alter_table("assistances", schema=None) as batch_op:
        batch_op.drop_index("ix_assistances_window_closes_at")
        batch_op.drop_column("window_warned_minutes")
        batch_op.drop_column("window_closes_at")
