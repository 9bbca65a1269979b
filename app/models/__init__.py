"""Models, one module per aggregate; imported here so metadata is complete."""

from app.models.audit import AuditChainHead, AuditEvent
from app.models.base import Base, utcnow
from app.models.device import DEVICE_KINDS, Device
from app.models.organization import Organization, Product, ReportingGroup
from app.models.role import Role, RolePermission
from app.models.user import AuthSession, Membership, User

__all__ = [
    "DEVICE_KINDS",
    "AuditChainHead",
    "AuditEvent",
    "AuthSession",
    "Base",
    "Device",
    "Membership",
    "Organization",
    "Product",
    "ReportingGroup",
    "Role",
    "RolePermission",
    "User",
    "utcnow",
]
