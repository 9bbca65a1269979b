from flask import Blueprint

from app.agent_settings.registry import REGISTRY
from app.models import utcnow
from app.permissions import PERMISSIONS
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
    }


from app.portal import (  # noqa: E402,F401
    enrollment,
    people,
    security_settings,
    settings,
    tokens,
    views,
    workspaces,
)
