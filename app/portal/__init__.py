from flask import Blueprint

from app.agent_settings.registry import REGISTRY
from app.models import utcnow
from app.models.organization import AUDIT_RETENTION_MAX_DAYS, AUDIT_RETENTION_MIN_DAYS
from app.people.permissions import PERMISSIONS
from app.tenancy import available_memberships, current_membership, current_org, has_permission

bp = Blueprint("portal", __name__)


@bp.app_context_processor
def portal_context():
    return {
        "available_memberships": available_memberships,
        "current_membership": current_membership,
        "current_org": current_org,
        "has_permission": has_permission,
        "permission_labels": PERMISSIONS,
        "registry": REGISTRY,
        "now": utcnow,
        "retention_min": AUDIT_RETENTION_MIN_DAYS,
        "retention_max": AUDIT_RETENTION_MAX_DAYS,
    }


from app.portal import (  # noqa: E402,F401
    assistances,
    audit,
    enrollment,
    people,
    roles,
    security_settings,
    settings,
    tokens,
    views,
    workspaces,
)
