from flask import Blueprint
from flask_login import current_user

from app.agent_settings.registry import REGISTRY
from app.models import utcnow
from app.models.organization import AUDIT_RETENTION_MAX_DAYS, AUDIT_RETENTION_MIN_DAYS
from app.people.permissions import PERMISSIONS
from app.portal.labels import label, role_name, state_badge
from app.tenancy import available_memberships, current_membership, current_org, has_permission

bp = Blueprint("portal", __name__)


SETTINGS_PERMISSIONS = (
    "org.manage",
    "product.configure",
    "group.configure",
    "roles.manage",
    "roles.assign",
    "users.manage",
    "webhooks.manage",
)
# The administration's views need one of these (app/admin); its index alone is empty.
ADMIN_PERMISSIONS = ("org.manage", "users.manage", "roles.manage")


def settings_visible() -> bool:
    """Whether the Settings tab leads anywhere for this person."""
    return any(has_permission(p) for p in SETTINGS_PERMISSIONS)


def admin_visible() -> bool:
    """Whether the Administration tab leads to a view this person may open."""
    return current_user.is_authenticated and (
        current_user.is_platform_admin or any(has_permission(p) for p in ADMIN_PERMISSIONS)
    )


@bp.app_template_filter("ra_type_label")
def ra_type_label(code: str) -> str:
    return label("ra_type", code)


@bp.app_context_processor
def portal_context():
    return {
        "available_memberships": available_memberships,
        "current_membership": current_membership,
        "current_org": current_org,
        "has_permission": has_permission,
        "label": label,
        "role_name": role_name,
        "state_badge": state_badge,
        "session_state_label": lambda code: label("session_state", code),
        "refusal_label": lambda code: label("refusal", code),
        "settings_visible": settings_visible,
        "admin_visible": admin_visible,
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
    search,
    security_settings,
    settings,
    tokens,
    views,
    webhooks,
    workspaces,
)
