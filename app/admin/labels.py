"""How /admin names columns and shows values: human words in the reader's language and
times in their zone (exports keep ISO 8601)."""

from __future__ import annotations

from datetime import datetime

from flask_admin.model import typefmt
from flask_babel import lazy_gettext as _l

from app.i18n import time_tag

COLUMN_LABELS = {
    "name": _l("Name"),
    "slug": _l("Short name"),
    "created_at": _l("Created"),
    "organization": _l("Organization"),
    "product": _l("Product"),
    "reporting_group": _l("Reporting group"),
    "hostname": _l("Hostname"),
    "os_name": _l("Operating system"),
    "os_version": _l("OS version"),
    "agent_version": _l("FlexxAgent version"),
    "environment": _l("FlexxAgent environment"),
    "kind": _l("Kind"),
    "last_checkin_at": _l("Last check-in"),
    "agent_restarted_at": _l("Agent restarted"),
    "hardware_id": _l("Hardware ID"),
    "builtin_key": _l("Built-in"),
    "permissions": _l("Permissions"),
    "limited_to_groups": _l("Limited to reporting groups"),
    "user.email": _l("E-mail"),
    "user.name": _l("Name"),
    "role": _l("Role"),
    "email": _l("E-mail"),
    "is_platform_admin": _l("Platform admin"),
    "active": _l("Active"),
    "last_login_at": _l("Last sign-in"),
    "audit_retention_days": _l("Audit retention (days)"),
    "mfa_policy": _l("Second factor policy"),
    "time_zone": _l("Time zone"),
}


def _when(view, value: datetime, name: str):
    return time_tag(value)


DATETIME_FORMATTERS = {**typefmt.BASE_FORMATTERS, datetime: _when}
