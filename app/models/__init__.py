"""Models, one module per aggregate; imported here so metadata is complete."""

from app.models.agent_setting import AgentSettingValue
from app.models.api_token import ApiToken
from app.models.assistance import Assistance, OperatorDevice, SigningKey
from app.models.audit import AuditChainHead, AuditCheckpoint, AuditEvent
from app.models.base import Base, utcnow
from app.models.device import DEVICE_KINDS, Device, DeviceSession
from app.models.fleet import AgentOrder, EnrollmentToken
from app.models.invitation import Invitation
from app.models.mfa import RecoveryCode, TotpCredential
from app.models.operations import PeriodicTask, WorkerHeartbeat
from app.models.organization import Organization, Product, ReportingGroup
from app.models.role import Role, RolePermission, RoleReportingGroup
from app.models.sso import SsoConfig, SsoDomain, SsoIdentity
from app.models.user import AuthSession, Membership, User
from app.models.webhook import WebhookDelivery, WebhookEndpoint

__all__ = [
    "DEVICE_KINDS",
    "AgentOrder",
    "AgentSettingValue",
    "ApiToken",
    "Assistance",
    "AuditChainHead",
    "AuditCheckpoint",
    "AuditEvent",
    "AuthSession",
    "Base",
    "Device",
    "DeviceSession",
    "EnrollmentToken",
    "Invitation",
    "Membership",
    "OperatorDevice",
    "Organization",
    "PeriodicTask",
    "Product",
    "RecoveryCode",
    "ReportingGroup",
    "Role",
    "RolePermission",
    "RoleReportingGroup",
    "SigningKey",
    "SsoConfig",
    "SsoDomain",
    "SsoIdentity",
    "TotpCredential",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WorkerHeartbeat",
    "utcnow",
]
