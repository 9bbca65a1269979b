"""Permission strings and the built-in roles every organization starts with (SPEC §1)."""

from __future__ import annotations

# permission -> plain-language label shown to admins
PERMISSIONS: dict[str, str] = {
    "org.manage": "Manage the organization (products, reporting groups, enrollment, SSO)",
    "product.configure": "Configure products' FlexxAgent settings",
    "group.configure": "Configure reporting groups' FlexxAgent settings",
    "roles.manage": "Create, edit and delete roles",
    "roles.assign": "Assign roles to users",
    "users.manage": "Add, edit and deactivate users",
    "devices.view": "See devices and user sessions",
    "ra.start": "Start remote assistance",
    "ra.manage": "End or revoke any remote assistance in the groups one can see",
    "audit.view": "Read the audit log",
}

ALL_PERMISSIONS = frozenset(PERMISSIONS)

# key -> (display name, permissions). The key never changes; the name is what users see.
BUILTIN_ROLES: dict[str, tuple[str, frozenset[str]]] = {
    "org_admin": ("Organization Admin", ALL_PERMISSIONS),
    "product_owner": (
        "Product Owner",
        frozenset({"product.configure", "group.configure", "devices.view"}),
    ),
    "helpdesk_lead": (
        "Helpdesk Lead",
        frozenset({"roles.assign", "devices.view", "ra.start", "ra.manage", "audit.view"}),
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
