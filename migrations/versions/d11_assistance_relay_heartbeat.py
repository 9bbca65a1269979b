"""assistance: the RA client's last relay heartbeat

A connection with no heartbeat for three RELAY_HEARTBEAT_SECONDS is a disconnection
(SPEC §5). Connections open at upgrade time count their connect as the last heartbeat.

Revision ID: d11_heartbeat
Revises: d11_ra_manage
Create Date: 2026-11-30 15:58:15.852168

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd11_heartbeat'
down_revision = 'd11_ra_manage'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assistances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_heartbeat_at', sa.DateTime(), nullable=True))
        batch_op.create_index(
            'ix_assistances_state_heartbeat', ['state', 'last_heartbeat_at'], unique=False
        )
    op.execute(
        "UPDATE assistances SET last_heartbeat_at = connected_at WHERE state = 'connected'"
    )


def downgrade():
    with op.batch_alter_table('assistances', schema=None) as batch_op:
        batch_op.drop_index('ix_assistances_state_heartbeat')
        batch_op.drop_column('last_heartbeat_at')
