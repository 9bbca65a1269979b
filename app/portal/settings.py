"""Portal → Settings: the organization's products and reporting groups, and their
FlexxAgent settings (SPEC §3 menu paths)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import audit
from app.agent_settings import registry
from app.agent_settings.resolution import StoredValues
from app.agent_settings.service import (
    SettingsError,
    apply_changes,
    apply_to_groups,
    stored_values,
)
from app.extensions import db
from app.i18n import is_time_zone, time_zones
from app.models import AuditEvent, Product, ReportingGroup, Role
from app.portal import bp
from app.portal.settings_form import cell_name, cells, parse_form
from app.tenancy import (
    current_org,
    get_group_preview_or_404,
    get_in_org_or_404,
    has_permission,
    permission_required,
)

SETTINGS_READERS = ("org.manage", "product.configure", "group.configure")


def _roles() -> list[Role]:
    return list(
        db.session.execute(
            select(Role).where(Role.organization_id == current_org.id).order_by(Role.id)
        ).scalars()
    )


def _groups(ids=None) -> list[ReportingGroup]:
    stmt = (
        select(ReportingGroup)
        .options(joinedload(ReportingGroup.product))
        .where(ReportingGroup.organization_id == current_org.id)
        .order_by(ReportingGroup.name)
    )
    if ids is not None:
        stmt = stmt.where(ReportingGroup.id.in_(ids))
    return list(db.session.execute(stmt).scalars())


def _group(group_id: int) -> ReportingGroup:
    return get_in_org_or_404(ReportingGroup, group_id, joinedload(ReportingGroup.product))


def _history(target_type: str, target_id: int) -> list[AuditEvent]:
    return list(
        db.session.execute(
            select(AuditEvent)
            .where(
                AuditEvent.organization_id == current_org.id,
                AuditEvent.action == "agent_settings.changed",
                AuditEvent.target_type == target_type,
                AuditEvent.target_id == str(target_id),
            )
            .order_by(AuditEvent.seq.desc())
            .limit(200)
        ).scalars()
    )


def _save(apply, redirect_to: str, fail_template: str, **context):
    """Apply a settings form; on refusal show the page again with the message (400/409)."""
    try:
        changed = apply()
    except SettingsError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        # Every other edit of the form is shown again as it was sent, not lost.
        context["posted"] = request.form
        return render_template(fail_template, error_field=exc.field, **context), exc.status
    db.session.commit()
    flash(_("Settings saved.") if changed else _("Nothing changed."), "success")
    return redirect(redirect_to)


@bp.route("/settings/")
@permission_required(
    *SETTINGS_READERS, "roles.manage", "roles.assign", "users.manage", "webhooks.manage"
)
def settings_home():
    if any(has_permission(p) for p in SETTINGS_READERS):
        return redirect(url_for("portal.organization_settings"))
    if has_permission("roles.manage"):
        return redirect(url_for("portal.roles"))
    if has_permission("roles.assign"):
        return redirect(url_for("portal.members"))
    if has_permission("users.manage"):
        return redirect(url_for("portal.invitation_list"))
    return redirect(url_for("portal.webhooks"))


@bp.route("/settings/organization")
@permission_required(*SETTINGS_READERS)
def organization_settings():
    products = list(
        db.session.execute(
            select(Product).where(Product.organization_id == current_org.id).order_by(Product.name)
        ).scalars()
    )
    return render_template(
        "settings/organization.html",
        products=products,
        tab=request.args.get("tab", "products"),
        days=None,
        time_zones=time_zones(),
    )


@bp.route("/settings/organization/time-zone", methods=["POST"])
@permission_required("org.manage")
def organization_time_zone():
    """The zone times are shown in to members who chose none of their own."""
    zone = request.form.get("time_zone", "")
    if not is_time_zone(zone):
        abort(400, description=_("Choose a time zone from the list."))
    org = current_org._get_current_object()
    if org.time_zone != zone:
        audit.record(
            "organization.time_zone_changed",
            organization_id=org.id,
            target=org,
            details={"before": org.time_zone, "after": zone},
        )
        org.time_zone = zone
        db.session.commit()
        flash(_("Time zone saved."), "success")
    else:
        flash(_("Nothing changed."), "success")
    return redirect(url_for("portal.organization_settings")), 303


def _settings_page(scope, roles, template: str, redirect_to: str, can_edit: bool, **context):
    """GET shows a product's or group's settings form; POST applies it (products may
    enforce values, groups may not)."""
    context.update(roles=roles, can_edit=can_edit, cells=cells(roles), cell_name=cell_name)
    if request.method == "POST":
        if not can_edit:
            abort(403)
        allow_enforce = isinstance(scope, Product)
        return _save(
            lambda: apply_changes(scope, parse_form(request.form, roles, allow_enforce)),
            redirect_to,
            template,
            **context,
        )
    return render_template(template, **context)


@bp.route("/settings/products/<int:product_id>/agent-settings", methods=["GET", "POST"])
@permission_required("product.configure", "group.configure")
def product_agent_settings(product_id: int):
    product = get_in_org_or_404(Product, product_id)
    return _settings_page(
        product,
        _roles(),
        "settings/product_agent_settings.html",
        url_for("portal.product_agent_settings", product_id=product.id),
        has_permission("product.configure"),
        product=product,
        stored=stored_values(product),
    )


@bp.route("/settings/products/<int:product_id>/agent-settings/history")
@permission_required("product.configure", "group.configure")
def product_settings_history(product_id: int):
    product = get_in_org_or_404(Product, product_id)
    return render_template(
        "settings/history.html",
        scope_label=f"product {product.name}",
        events=_history("Product", product.id),
        back=url_for("portal.product_agent_settings", product_id=product.id),
    )


@bp.route("/settings/reporting-groups")
@permission_required(*SETTINGS_READERS)
def reporting_groups():
    groups = _groups()
    values = StoredValues.load(groups)
    summary = {g.id: values.resolve(g, None) for g in groups}
    return render_template("settings/reporting_groups.html", groups=groups, summary=summary)


@bp.route("/settings/reporting-groups/<int:group_id>/agent-settings", methods=["GET", "POST"])
@permission_required("group.configure", "product.configure")
def group_agent_settings(group_id: int):
    group = _group(group_id)
    roles = _roles()
    values = StoredValues.load([group], [r.id for r in roles])
    return _settings_page(
        group,
        roles,
        "settings/group_agent_settings.html",
        url_for("portal.group_agent_settings", group_id=group.id),
        has_permission("group.configure"),
        group=group,
        values=values,
        effective={
            None: values.resolve(group, None),
            **{r.id: values.resolve(group, r) for r in roles},
        },
    )


@bp.route("/settings/reporting-groups/<int:group_id>/agent-settings/history")
@permission_required("group.configure", "product.configure")
def group_settings_history(group_id: int):
    group = _group(group_id)
    return render_template(
        "settings/history.html",
        scope_label=f"reporting group {group.name}",
        events=_history("ReportingGroup", group.id),
        back=url_for("portal.group_agent_settings", group_id=group.id),
    )


@bp.route("/settings/reporting-groups/<int:group_id>/effective")
@permission_required("devices.view", "group.configure", "product.configure")
def group_effective_settings(group_id: int):
    group = get_group_preview_or_404(group_id, joinedload(ReportingGroup.product))
    roles = _roles()
    role = None
    if request.args.get("role"):
        role = next((r for r in roles if str(r.id) == request.args["role"]), None)
        if role is None:
            abort(404)
    values = StoredValues.load([group], [role.id] if role else [])
    return render_template(
        "settings/effective.html",
        group=group,
        roles=roles,
        role=role,
        effective=values.resolve(group, role),
        registry=registry.REGISTRY,
    )


@bp.route("/settings/reporting-groups/bulk", methods=["GET", "POST"])
@permission_required("group.configure")
def bulk_group_settings():
    source = request.form if request.method == "POST" else request.args
    ids = [int(i) for i in source.getlist("group_ids") if i.isdigit()]
    all_groups = _groups()
    chosen = [g for g in all_groups if g.id in set(ids)]
    if len(chosen) != len(set(ids)):
        abort(404)  # an id of another organization, or none at all
    roles = _roles()
    context = {
        "groups": all_groups,
        "chosen_ids": {g.id for g in chosen},
        "roles": roles,
        "cells": cells(roles),
        "cell_name": cell_name,
    }
    if request.method == "POST":
        return _save(
            lambda: apply_to_groups(chosen, parse_form(request.form, roles, False)),
            url_for("portal.reporting_groups"),
            "settings/bulk.html",
            **context,
        )
    return render_template("settings/bulk.html", **context)
