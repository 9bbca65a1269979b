"""Permission strings and the built-in roles every organization starts with (SPEC §1)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# permission -> plain-language label shown to admins (translated when shown)
PERMISSIONS: dict[str, str] = {
    "org.manage": _l("Manage the organization (products, reporting groups, enrollment, SSO)"),
    "product.configure": _l("Configure products' FlexxAgent settings"),
    "group.configure": _l("Configure reporting groups' FlexxAgent settings"),
    "roles.manage": _l("Create, edit and delete roles"),
    "roles.assign": _l("Assign roles to users"),
    "users.manage": _l("Add, edit and deactivate users"),
    "devices.view": _l("See devices and user sessions"),
    "ra.start": _l("Start remote assistance"),
    "ra.manage": _l("End or revoke any remote assistance in the groups one can see"),
    "ra.approve": _l(
        "Approve or deny other members' remote assistance requests in the groups one can see"
    ),
    "audit.view": _l("Read the audit log"),
    "webhooks.manage": _l("Manage webhooks (endpoints that receive the organization's events)"),
}

ALL_PERMISSIONS = frozenset(PERMISSIONS)

# The built-in roles' names as shown to people whose role still has its original name.
BUILTIN_ROLE_LABELS = {
    "org_admin": _l("Organization Admin"),
    "product_owner": _l("Product Owner"),
    "helpdesk_lead": _l("Helpdesk Lead"),
    "operator": _l("Operator"),
    "auditor": _l("Auditor"),
}

# key -> (display name, permissions). The key never changes; the name is what users see.
BUILTIN_ROLES: dict[str, tuple[str, frozenset[str]]] = {
    "org_admin": ("Organization Admin", ALL_PERMISSIONS),
    "product_owner": (
        "Product Owner",
        frozenset({"product.configure", "group.configure", "devices.view"}),
    ),
    "helpdesk_lead": (
        "Helpdesk Lead",
        frozenset(
            {"roles.assign", "devices.view", "ra.start", "ra.manage", "ra.approve", "audit.view"}
        ),
    ),
    "operator": ("Operator", frozenset({"devices.view", "ra.start"})),
    "auditor": ("Auditor", frozenset({"audit.view", "devices.view"})),
}


def validate_permissions(perms) -> frozenset[str]:
    """Return `perms` as a frozenset, or raise ValueError naming the unknown ones."""
    perms = frozenset(perms)
    unknown = sorted(perms - ALL_PERMISSIONS)
    if unknown:
        raise ValueError("unknown permission(s): " + ", ".join(unknown))
    return perms
