"""governance: approval requests, reasons and tickets on assistances; ra.approve

An assistance started by a role whose `remote_assistance.approval_required` is on waits in
`awaiting_approval` (a live state: it holds its device) until a member holding the new
`ra.approve` permission decides. Every assistance may carry the operator's reason and
ticket. The built-in Organization Admin and Helpdesk Lead roles of existing organizations
get `ra.approve`; custom roles are left as their admins made them.

Revision ID: e14_governance
Revises: d11_heartbeat
Create Date: 2026-11-30 19:20:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e14_governance"
down_revision = "d11_heartbeat"
branch_labels = None
depends_on = None

PERMISSION = "ra.approve"
ROLES = ("org_admin", "helpdesk_lead")
ENDED = ("expired", "denied", "failed", "interrupted", "cancelled", "locked")
OLD_LIVE = ("requested", "awaiting_consent", "ready", "connected", "disconnected")
NEW_LIVE = ("awaiting_approval", *OLD_LIVE)


def _in(values) -> str:
    return "state IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _states(live, batch_op) -> None:
    batch_op.drop_constraint("state", type_="check")
    batch_op.create_check_constraint("state", _in((*live, *ENDED)))


def upgrade():
    with op.batch_alter_table("assistances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(500), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("ticket", sa.String(100), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("approval_deadline", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("decided_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("decision_note", sa.String(500), nullable=False, server_default="")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_assistances_decided_by_id_users"),
            "users",
            ["decided_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            "ix_assistances_state_approval", ["state", "approval_deadline"], unique=False
        )
        _states(NEW_LIVE, batch_op)
        batch_op.drop_index(
            "uq_assistances_live_device",
            postgresql_where=sa.text(_in(OLD_LIVE)),
            sqlite_where=sa.text(_in(OLD_LIVE)),
        )
        batch_op.create_index(
            "uq_assistances_live_device",
            ["device_id"],
            unique=True,
            postgresql_where=sa.text(_in(NEW_LIVE)),
            sqlite_where=sa.text(_in(NEW_LIVE)),
        )
    op.execute(
        sa.text(
            "INSERT INTO role_permissions (role_id, permission) "
            "SELECT r.id, :permission FROM roles r "
            "WHERE r.builtin_key IN :roles AND NOT EXISTS ("
            "  SELECT 1 FROM role_permissions p "
            "  WHERE p.role_id = r.id AND p.permission = :permission)"
        ).bindparams(sa.bindparam("roles", ROLES, expanding=True), permission=PERMISSION)
    )


def downgrade():
    op.execute(
        sa.text("DELETE FROM role_permissions WHERE permission = :permission").bindparams(
            permission=PERMISSION
        )
    )
    # Requests still waiting have no state before this revision: they were never started.
    op.execute(
        "UPDATE assistances SET state = 'cancelled', end_reason = 'approval request dropped' "
        "WHERE state = 'awaiting_approval'"
    )
    with op.batch_alter_table("assistances", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_assistances_live_device",
            postgresql_where=sa.text(_in(NEW_LIVE)),
            sqlite_where=sa.text(_in(NEW_LIVE)),
        )
        batch_op.create_index(
            "uq_assistances_live_device",
            ["device_id"],
            unique=True,
            postgresql_where=sa.text(_in(OLD_LIVE)),
            sqlite_where=sa.text(_in(OLD_LIVE)),
        )
        _states(OLD_LIVE, batch_op)
        batch_op.drop_index("ix_assistances_state_approval")
        batch_op.drop_constraint(
            batch_op.f("fk_assistances_decided_by_id_users"), type_="foreignkey"
        )
        for column in (
            "decision_note",
            "decided_at",
            "decided_by_id",
            "approval_deadline",
            "ticket",
            "reason",
        ):
            batch_op.drop_column(column)
