from flask import Blueprint
from flask_babel import get_locale
from flask_login import current_user

from app.agent_settings.registry import REGISTRY
from app.agent_settings.schedule import format_schedule
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


def _pending_approvals() -> int:
    """Requests waiting for the signed-in member's decision (once per request)."""
    from flask import g

    from app.assistance.approvals import pending_count

    if "pending_approvals" not in g:
        g.pending_approvals = pending_count(current_membership._get_current_object())
    return g.pending_approvals


@bp.app_template_filter("schedule_text")
def schedule_text(windows) -> str:
    """A stored schedule in the reader's language ("lun-vie 08:00-18:00", en dashes)."""
    return format_schedule(windows, get_locale() or "en")


EXAMPLE_SCHEDULE = [
    {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"},
    {"days": ["sat"], "from": "09:00", "to": "13:00"},
]


def schedule_example() -> str:
    return format_schedule(EXAMPLE_SCHEDULE, get_locale() or "en")


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
        "pending_approvals": _pending_approvals,
        "session_state_label": lambda code: label("session_state", code),
        "refusal_label": lambda code: label("refusal", code),
        "settings_visible": settings_visible,
        "admin_visible": admin_visible,
        "permission_labels": PERMISSIONS,
        "registry": REGISTRY,
        "schedule_example": schedule_example,
        "now": utcnow,
        "retention_min": AUDIT_RETENTION_MIN_DAYS,
        "retention_max": AUDIT_RETENTION_MAX_DAYS,
    }


from app.portal import (  # noqa: E402,F401
    approvals,
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
