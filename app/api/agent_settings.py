"""FlexxAgent settings endpoints."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from sqlalchemy.orm import joinedload

from app.agent_settings.resolution import effective_settings
from app.agent_settings.service import (
    SettingChange,
    SettingsError,
    apply_changes,
    describe,
)
from app.api import bp
from app.api.auth import require
from app.api.schemas import SettingsPutBody, settings_field
from app.errors import json_error
from app.extensions import db
from app.models import Product, ReportingGroup, Role
from app.tenancy import get_group_preview_or_404, get_in_org_or_404
from app.web_input import parse


@bp.errorhandler(SettingsError)
def settings_refused(exc: SettingsError):
    db.session.rollback()
    return json_error(exc.status, exc.message, exc.code, field=exc.field)


def parse_put(body: SettingsPutBody) -> list[SettingChange]:
    """The validated body → changes. Omitted keys stay as they are."""
    changes = []
    for key, spec in body.settings.items():
        if "value" in spec.model_fields_set:
            changes.append(SettingChange(key, spec.value, None, spec.enforced))
        for role_key, role_spec in spec.by_role.items():
            changes.append(SettingChange(key, role_spec.value, int(role_key), role_spec.enforced))
    return changes


def _put(scope) -> list[dict[str, Any]]:
    body = parse(SettingsPutBody, code="invalid_body", field_of=settings_field)
    changes = apply_changes(scope, parse_put(body))
    db.session.commit()
    return changes


def _product_json(product: Product) -> dict[str, Any]:
    return {"product": {"id": product.id, "name": product.name}, "settings": describe(product)}


def _group_json(group: ReportingGroup) -> dict[str, Any]:
    return {
        "reporting_group": {
            "id": group.id,
            "name": group.name,
            "product": {"id": group.product.id, "name": group.product.name},
        },
        "settings": describe(group),
        "effective": {k: v.as_dict() for k, v in effective_settings(group, None).items()},
    }


@bp.get("/products/<int:product_id>/agent-settings")
@require("product.configure", "group.configure")
def get_product_settings(product_id: int):
    return jsonify(_product_json(get_in_org_or_404(Product, product_id)))


@bp.put("/products/<int:product_id>/agent-settings")
@require("product.configure")
def put_product_settings(product_id: int):
    product = get_in_org_or_404(Product, product_id)
    changes = _put(product)
    return jsonify({**_product_json(product), "changes": changes})


def _group(group_id: int) -> ReportingGroup:
    return get_in_org_or_404(ReportingGroup, group_id, joinedload(ReportingGroup.product))


@bp.get("/reporting-groups/<int:group_id>/agent-settings")
@require("group.configure", "product.configure")
def get_group_settings(group_id: int):
    return jsonify(_group_json(_group(group_id)))


@bp.put("/reporting-groups/<int:group_id>/agent-settings")
@require("group.configure")
def put_group_settings(group_id: int):
    group = _group(group_id)
    changes = _put(group)
    return jsonify({**_group_json(group), "changes": changes})


@bp.get("/reporting-groups/<int:group_id>/effective-settings")
@require("devices.view", "group.configure", "product.configure")
def get_effective_settings(group_id: int):
    group = get_group_preview_or_404(group_id, joinedload(ReportingGroup.product))
    role = None
    raw_role = request.args.get("role")
    if raw_role not in (None, ""):
        try:
            role_id = int(raw_role)
        except ValueError:
            return json_error(400, f"role must be a role id, got {raw_role!r}", "invalid_role")
        role = get_in_org_or_404(Role, role_id)
    settings = effective_settings(group, role)
    return jsonify(
        {
            "reporting_group": {"id": group.id, "name": group.name},
            "role": {"id": role.id, "name": role.name} if role else None,
            "settings": {k: v.as_dict() for k, v in settings.items()},
        }
    )
