"""assistance: the ra.manage permission for the built-in Organization Admin and Helpdesk Lead

End or revoke any remote assistance in the groups one can see. New organizations get it
from app.people.permissions.BUILTIN_ROLES; this gives it to the built-in roles of the
organizations that exist already. Custom roles are left as their admins made them.

Revision ID: d11_ra_manage
Revises: d13_i18n
Create Date: 2026-11-30 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd11_ra_manage'
down_revision = "d13_i18n"
branch_labels = None
depends_on = None

PERMISSION = "ra.manage"
ROLES = ("org_admin", "helpdesk_lead")


def upgrade():
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
    # The permission does not exist before this revision: no role may keep it.
    op.execute(
        sa.text("DELETE FROM role_permissions WHERE permission = :permission").bindparams(
            permission=PERMISSION
        )
    )
