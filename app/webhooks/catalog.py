"""Which events webhooks carry, and endpoint filters.

An event's type is the action of the audit event it reports (`assistance.started`,
`agent_settings.changed`, `role.updated`, …): every change SPEC §5 lists is audited, so the
audit log is the one place events come from. Published are the groups below, whatever
actions they gain later (approvals, access windows); sign-ins, tokens, invitations and the
like stay in the audit log only. `ping` is the test event, sent to one endpoint on request.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

PING = "ping"
ALL = "*"
# prefix -> what people read next to its checkbox (translated when shown)
GROUPS: dict[str, str] = {
    "assistance": _l(
        "Remote assistance: every state change, approvals, refusals, Flexxible Tools launches"
    ),
    "agent_settings": _l("FlexxAgent settings changes (products and reporting groups)"),
    "organization": _l("Organization settings changes (time zone, second factor, retention)"),
    "sso": _l("Single sign-on settings changes"),
    "role": _l("Roles created, changed or deleted"),
    "membership": _l("Members added, given another role, or removed"),
    "webhook": _l("Webhook endpoints created, changed, disabled or deleted"),
}
# Audit actions of published groups that are not events of their own.
UNPUBLISHED = frozenset({"webhook.test_sent"})
MAX_FILTER_ENTRIES = 50
_ENTRY = re.compile(r"^(?:\*|[a-z][a-z_]{0,39}\.\*|[a-z][a-z_]{0,39}(?:\.[a-z][a-z_]{0,59})+)$")


class FilterInvalid(ValueError):
    """An event filter that cannot be saved; the message says which entry and why."""


def group_of(event_type: str) -> str:
    return event_type.split(".", 1)[0]


def is_published(action: str) -> bool:
    return group_of(action) in GROUPS and "." in action and action not in UNPUBLISHED


def matches(event_filter: list[str], event_type: str) -> bool:
    """Does an endpoint with `event_filter` want `event_type`?"""
    for entry in event_filter:
        if entry in (ALL, event_type):
            return True
        if entry.endswith(".*") and group_of(event_type) == entry[:-2]:
            return True
    return False


def normalize_filter(entries: object) -> list[str]:
    """The filter as stored (sorted, without duplicates), or FilterInvalid. Entries are
    `*`, a group (`assistance.*`) or one event type (`assistance.started`) of a group."""
    if not isinstance(entries, list | tuple) or not entries:
        raise FilterInvalid(_("Choose at least one kind of event."))
    if len(entries) > MAX_FILTER_ENTRIES:
        raise FilterInvalid(
            _("An event filter has at most %(count)d entries.", count=MAX_FILTER_ENTRIES)
        )
    found = set()
    for entry in entries:
        if not isinstance(entry, str) or not _ENTRY.match(entry):
            raise FilterInvalid(
                _(
                    "%(entry)s is not an event filter entry: use *, a group such as "
                    "assistance.* or an event type such as assistance.started.",
                    entry=repr(entry)[:60],
                )
            )
        if entry != ALL and (group_of(entry) not in GROUPS or entry in UNPUBLISHED):
            raise FilterInvalid(
                _(
                    "%(entry)s is not published to webhooks; the groups are %(groups)s.",
                    entry=entry,
                    groups=", ".join(f"{g}.*" for g in GROUPS),
                )
            )
        found.add(entry)
    if ALL in found:
        return [ALL]
    return sorted(found)
