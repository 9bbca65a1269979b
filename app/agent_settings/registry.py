"""The registry of FlexxAgent settings. Adding a setting is one entry here; storage and
resolution are generic over it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l

from app.agent_settings import schedule

RA_TYPES = ("interactive", "unattended", "dynamic")
PROXY_SCHEMES = ("http", "https", "socks4", "socks5")


class SettingValueError(ValueError):
    """A value a setting does not accept; the message says why and what would fix it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


@dataclass(frozen=True)
class SettingDef:
    key: str
    label: str
    kind: str  # "ra_types" | "bool" | "url" | "schedule": how screens render it
    default: Any
    description: str
    per_role: bool
    parse: Callable[[str, Any], Any]
    # False for governance settings: the portal enforces them; agents are never told.
    reaches_agent: bool = True

    def validate(self, value: Any) -> Any:
        """The normalized value, or SettingValueError."""
        return self.parse(self.key, value)


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise SettingValueError(key, f"{key} must be true or false")


def _ra_types(key: str, value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise SettingValueError(
            key, f"{key} must be a list of {', '.join(RA_TYPES)} (empty disables RA)"
        )
    unknown = sorted(set(value) - set(RA_TYPES))
    if unknown:
        raise SettingValueError(
            key,
            f"unknown remote assistance type(s): {', '.join(unknown)}; use {', '.join(RA_TYPES)}",
        )
    types = sorted(set(value), key=RA_TYPES.index)
    if "dynamic" in types and len(types) > 1:
        raise SettingValueError(
            key,
            "dynamic cannot be combined with other types: a dynamic group decides between "
            "interactive and unattended itself. Choose dynamic alone, or interactive and/or "
            "unattended.",
        )
    return types


def _proxy_url(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SettingValueError(key, f"{key} must be a URL or empty")
    value = value.strip()
    if value == "":
        return ""
    hint = "e.g. http://proxy.example.com:8080, or empty to use the OS proxy"
    if len(value) > 2048 or any(c.isspace() or ord(c) < 32 for c in value):
        raise SettingValueError(key, f"{value[:80]!r} is not a valid proxy URL ({hint})")
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        raise SettingValueError(key, f"the proxy URL has an invalid port ({hint})") from None
    if parts.scheme.lower() not in PROXY_SCHEMES or not parts.hostname:
        raise SettingValueError(
            key,
            f"{value[:80]!r} is not a valid proxy URL: it needs a scheme "
            f"({', '.join(PROXY_SCHEMES)}) and a host ({hint})",
        )
    if parts.username or parts.password:
        raise SettingValueError(
            key,
            "the proxy URL must not contain credentials: settings are not secret "
            "storage (they reach agents, activation files and the audit log)",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingValueError(key, f"a proxy URL has no path, query or fragment ({hint})")
    if port == 0:
        raise SettingValueError(key, f"the proxy URL has an invalid port ({hint})")
    return f"{parts.scheme.lower()}://{parts.netloc}"


def _schedule(key: str, value: Any) -> list[dict[str, Any]]:
    try:
        return schedule.parse(value)
    except schedule.ScheduleError as exc:
        raise SettingValueError(key, str(exc)) from None


SETTINGS: tuple[SettingDef, ...] = (
    SettingDef(
        key="remote_assistance.types",
        label=_l("Remote assistance"),
        kind="ra_types",
        default=[],
        description=_l(
            "Which remote assistance types operators may start on the group's "
            "devices. Empty disables remote assistance; dynamic stands alone."
        ),
        per_role=False,
        parse=_ra_types,
    ),
    SettingDef(
        key="flexxible_tools",
        label=_l("Flexxible Tools"),
        kind="bool",
        default=False,
        description=_l(
            "Let operators of this role launch CMD, PowerShell, registry editor and "
            "task manager elevated during an interactive assistance."
        ),
        per_role=True,
        parse=_bool,
    ),
    SettingDef(
        key="audio_redirection",
        label=_l("Audio redirection"),
        kind="bool",
        default=False,
        description=_l(
            "Redirect the device's audio to the operator (off, so an operator "
            "cannot hear a user's call)."
        ),
        per_role=False,
        parse=_bool,
    ),
    SettingDef(
        key="proxy_url",
        label=_l("Proxy URL"),
        kind="url",
        default="",
        description=_l("The agent's Proxy_Url. Empty: use the OS proxy, else autodetect."),
        per_role=False,
        parse=_proxy_url,
    ),
    SettingDef(
        key="remote_assistance.approval_required",
        label=_l("Approval required"),
        kind="bool",
        default=False,
        description=_l(
            "A remote assistance started by this role waits until a member who may "
            "approve (never the requester) says yes."
        ),
        per_role=True,
        parse=_bool,
        reaches_agent=False,
    ),
    SettingDef(
        key="remote_assistance.reason_required",
        label=_l("Reason required"),
        kind="bool",
        default=False,
        description=_l(
            "Operators must say why they start a remote assistance (and may give a "
            "ticket number); both are kept on the assistance and in the audit log."
        ),
        per_role=False,
        parse=_bool,
        reaches_agent=False,
    ),
    SettingDef(
        key="remote_assistance.access_windows",
        label=_l("Access windows"),
        kind="schedule",
        default=[],
        description=_l(
            "When remote assistance may be started, in the organization's time zone "
            "(empty: any time). An unattended assistance is ended when its window closes."
        ),
        per_role=False,
        parse=_schedule,
        reaches_agent=False,
    ),
)

REGISTRY: dict[str, SettingDef] = {s.key: s for s in SETTINGS}


def get_setting(key: str) -> SettingDef:
    try:
        return REGISTRY[key]
    except KeyError:
        raise SettingValueError(
            key, f"unknown setting {key!r}; known settings: {', '.join(REGISTRY)}"
        ) from None
