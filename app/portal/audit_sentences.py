"""The audit log for people: each event as a sentence in the reader's language, its target
linked, and relay, agent and system events naming the operator of their assistance.

`describer(events)` loads what the page's events mention (two queries) and returns the
function the template calls for each event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Assistance, AuditEvent, Device
from app.portal.labels import label
from app.tenancy import can_see_group

# Program actors: the event was done on behalf of the assistance's operator, or by the
# portal itself.
PROGRAM_ACTORS = ("relay", "agent", "system", "")

SENTENCES: dict[str, str] = {
    "auth.login": _l("%(actor)s signed in"),
    "auth.logout": _l("%(actor)s signed out"),
    "auth.login_failed": _l("A sign-in as %(actor)s failed"),
    "auth.login_refused": _l("A sign-in as %(actor)s was refused"),
    "auth.login_throttled": _l("Sign-ins as %(actor)s were paused after repeated failures"),
    "auth.sso_login": _l("%(actor)s signed in with single sign-on"),
    "auth.sso_refused": _l("A single sign-on as %(actor)s was refused"),
    "auth.mfa_enrolled": _l("%(actor)s set up an authenticator app"),
    "auth.mfa_removed": _l("The authenticator app of %(target)s was removed by %(actor)s"),
    "auth.mfa_failed": _l("%(actor)s gave a wrong second-factor code"),
    "auth.mfa_throttled": _l("Second-factor codes of %(actor)s were paused after failures"),
    "auth.mfa_verified": _l("%(actor)s confirmed a sign-in with the second factor"),
    "auth.mfa_recovery_codes_regenerated": _l("%(actor)s made new recovery codes"),
    "agent_settings.changed": _l("%(actor)s changed the FlexxAgent settings of %(target)s"),
    "api_token.created": _l("%(actor)s created the API token %(target)s"),
    "api_token.revoked": _l("%(actor)s revoked the API token %(target)s"),
    "assistance.started": _l("%(actor)s started remote assistance %(target)s"),
    "assistance.approval_requested": _l(
        "%(actor)s asked for approval to start remote assistance %(target)s"
    ),
    "assistance.approved": _l("%(actor)s approved remote assistance %(target)s"),
    "assistance.denied": _l("%(actor)s denied remote assistance %(target)s"),
    "assistance.approval_expired": _l(
        "The approval request %(target)s expired: nobody decided in time"
    ),
    "assistance.refused": _l(
        "%(actor)s could not start remote assistance on %(target)s: %(reason)s"
    ),
    "assistance.connected": _l("%(actor)s connected to remote assistance %(target)s"),
    "assistance.disconnected": _l("%(actor)s disconnected from remote assistance %(target)s"),
    "assistance.consent_answered": _l("The user answered the consent request of %(target)s"),
    "assistance.failed": _l("Remote assistance %(target)s failed"),
    "assistance.interrupted": _l(
        "Remote assistance %(target)s was interrupted: the agent restarted"
    ),
    "assistance.file_downloaded": _l("%(actor)s downloaded the activation file of %(target)s"),
    "assistance.file_signed": _l("The activation file of %(target)s was signed"),
    "assistance.revealed": _l("%(actor)s was shown the session ID and password of %(target)s"),
    "assistance.service_started": _l("The agent started the assistance service of %(target)s"),
    "assistance.teardown_confirmed": _l("The agent removed the assistance service of %(target)s"),
    "assistance.teardown_unconfirmed": _l(
        "The agent did not confirm removing the assistance service of %(target)s"
    ),
    "assistance.tool_launched": _l("%(actor)s launched %(tool)s during %(target)s"),
    "assistance.wrong_password": _l("A wrong password was given for %(target)s"),
    "assistance.ended": _l("%(actor)s ended remote assistance %(target)s"),
    "assistance.revoked": _l("%(actor)s revoked the credentials of %(target)s"),
    "assistance.expired": _l("Remote assistance %(target)s expired"),
    "assistance.locked": _l(
        "Remote assistance %(target)s was locked after too many wrong passwords"
    ),
    "assistance.window_closing": _l(
        "Remote assistance %(target)s: its access window closes in %(minutes)s minutes"
    ),
    "assistance.window_closed": _l(
        "Remote assistance %(target)s was ended: its access window closed"
    ),
    "audit.exported": _l("%(actor)s exported the audit log"),
    "device.agent_restarted": _l("The FlexxAgent of %(target)s restarted"),
    "device.enrolled": _l("%(target)s enrolled"),
    "device.reenrolled": _l("%(target)s enrolled again"),
    "enrollment_token.created": _l("%(actor)s created the enrollment token %(target)s"),
    "enrollment_token.revoked": _l("%(actor)s revoked the enrollment token %(target)s"),
    "invitation.sent": _l("%(actor)s invited %(target)s"),
    "invitation.resent": _l("%(actor)s sent the invitation of %(target)s again"),
    "invitation.revoked": _l("%(actor)s withdrew the invitation of %(target)s"),
    "invitation.accepted": _l("%(actor)s accepted an invitation"),
    "membership.created": _l("%(actor)s added %(target)s to the organization"),
    "membership.updated": _l("%(actor)s changed the membership of %(target)s"),
    "membership.deleted": _l("%(actor)s removed %(target)s from the organization"),
    "operator_device.registered": _l("%(actor)s registered %(target)s as their operator device"),
    "operator_device.cleared": _l("%(actor)s cleared their operator device"),
    "organization.created": _l("%(actor)s created the organization %(target)s"),
    "organization.updated": _l("%(actor)s changed the organization %(target)s"),
    "organization.audit_retention_changed": _l("%(actor)s changed how long audit events are kept"),
    "organization.mfa_policy_changed": _l("%(actor)s changed who needs a second factor"),
    "organization.time_zone_changed": _l("%(actor)s changed the organization's time zone"),
    "product.created": _l("%(actor)s created the product %(target)s"),
    "reporting_group.created": _l("%(actor)s created the reporting group %(target)s"),
    "role.created": _l("%(actor)s created the role %(target)s"),
    "role.updated": _l("%(actor)s changed the role %(target)s"),
    "role.deleted": _l("%(actor)s deleted the role %(target)s"),
    "sso.configured": _l("%(actor)s changed the single sign-on settings"),
    "user.created": _l("%(actor)s created the account %(target)s"),
    "user.updated": _l("%(actor)s changed the account %(target)s"),
    "user.password_changed": _l("%(actor)s changed their password"),
    "webhook.created": _l("%(actor)s created the webhook %(target)s"),
    "webhook.updated": _l("%(actor)s changed the webhook %(target)s"),
    "webhook.enabled": _l("%(actor)s enabled the webhook %(target)s"),
    "webhook.disabled": _l("%(actor)s disabled the webhook %(target)s"),
    "webhook.secret_rotated": _l("%(actor)s made a new signing secret for the webhook %(target)s"),
    "webhook.test_sent": _l("%(actor)s sent a test event to the webhook %(target)s"),
    "webhook.deleted": _l("%(actor)s deleted the webhook %(target)s"),
}
FALLBACK = _l("%(actor)s: %(action)s %(target)s")


def _name(details: dict[str, Any]) -> str:
    for key in ("name", "hostname", "device", "email", "role", "group", "product", "url"):
        value = details.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


class Describer:
    def __init__(self, events: Sequence[AuditEvent]) -> None:
        assistance_ids = {int(e.target_id) for e in events if _is(e, "Assistance")}
        device_ids = {int(e.target_id) for e in events if _is(e, "Device")}
        self.assistances: dict[int, Assistance] = {}
        if assistance_ids:
            self.assistances = {
                a.id: a
                for a in db.session.execute(
                    select(Assistance)
                    .options(joinedload(Assistance.device), joinedload(Assistance.operator))
                    .where(Assistance.id.in_(sorted(assistance_ids)))
                ).scalars()
            }
        device_ids |= {a.device_id for a in self.assistances.values()}
        self.devices: dict[int, Device] = {}
        if device_ids:
            self.devices = {
                d.id: d
                for d in db.session.execute(
                    select(Device).where(Device.id.in_(sorted(device_ids)))
                ).scalars()
            }

    def actor(self, event: AuditEvent) -> str:
        """Who did it, as people know them: the operator behind their RA client."""
        if event.actor in PROGRAM_ACTORS and _is(event, "Assistance"):
            found = self.assistances.get(int(event.target_id))
            if found is not None and found.operator is not None:
                return found.operator.name or found.operator.email
        if event.actor == "system":
            return _("The portal")
        if event.actor == "relay":
            return _("The RA client")
        return event.actor or _("Someone")

    def target(self, event: AuditEvent) -> Markup:
        details = event.details or {}
        if _is(event, "Assistance"):
            found = self.assistances.get(int(event.target_id))
            host = found.device.hostname if found else details.get("device", "")
            text = f"#{event.target_id}" + (f" ({host})" if host else "")
            if found is not None and can_see_group(found.device.reporting_group_id):
                url = url_for("portal.assistance_page", assistance_id=found.id)
                return Markup('<a href="{}">{}</a>').format(url, text)
            return Markup("{}").format(text)
        if _is(event, "Device"):
            device = self.devices.get(int(event.target_id))
            text = device.hostname if device else (_name(details) or f"#{event.target_id}")
            if device is not None and can_see_group(device.reporting_group_id):
                url = url_for("portal.device", device_id=device.id)
                return Markup('<a href="{}">{}</a>').format(url, text)
            return Markup("{}").format(text)
        links = {
            "Role": ("portal.edit_role", "role_id"),
            "ReportingGroup": ("portal.group_agent_settings", "group_id"),
            "Product": ("portal.product_agent_settings", "product_id"),
            "WebhookEndpoint": ("portal.webhook", "endpoint_id"),
        }
        text = _name(details) or (
            f"{event.target_type} {event.target_id}".strip() if event.target_type else ""
        )
        if (
            event.target_type in links
            and event.target_id.isdigit()
            and not event.action.endswith(".deleted")
        ):
            endpoint, arg = links[event.target_type]
            url = url_for(endpoint, **{arg: int(event.target_id)})
            return Markup('<a href="{}">{}</a>').format(url, text or event.target_id)
        return Markup("{}").format(text)

    def __call__(self, event: AuditEvent) -> Markup:
        details = event.details or {}
        template = SENTENCES.get(event.action, FALLBACK)
        values = {
            "actor": self.actor(event),
            "target": self.target(event),
            "action": event.action,
            "reason": label("refusal", details.get("code")),
            "tool": label("tool", details.get("tool")),
            "minutes": details.get("minutes", ""),
        }
        # The sentence is ours (a catalogue string); every value is escaped by Markup.
        sentence = Markup(str(template)) % values  # noqa: S704
        if event.action in WITH_REASON:
            sentence += _reasons(details)
        return sentence


# Events whose details carry the operator's reason and ticket, or an approver's note.
WITH_REASON = frozenset(
    {
        "assistance.started",
        "assistance.approval_requested",
        "assistance.approved",
        "assistance.denied",
        "assistance.approval_expired",
    }
)


def _reasons(details: dict[str, Any]) -> Markup:
    # Catalogue strings (ours) with the stored text escaped into them.
    labels = {"reason": _l("reason: %(text)s"), "ticket": _l("ticket: %(text)s")}
    labels["note"] = _l("note: %(text)s")
    parts = [
        Markup(str(labels[key])) % {"text": details[key]}  # noqa: S704
        for key in ("reason", "ticket", "note")
        if details.get(key)
    ]
    if not parts:
        return Markup("")
    return Markup(" — ") + Markup("; ").join(parts)


def _is(event: AuditEvent, target_type: str) -> bool:
    return event.target_type == target_type and event.target_id.isdigit()


def describer(events: Sequence[AuditEvent]) -> Callable[[AuditEvent], Markup]:
    return Describer(events)
