"""`TenantModelView`: the one base of every Flask-Admin view of tenant-owned rows.

A platform admin sees every organization. Anyone else sees the current organization
only, and only with the view's permission. The scoping holds for list, count, details,
edit, delete, export, bulk actions, relation dropdowns and AJAX lookups; a posted
organization is ignored. Every change is one audit event in the same transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_admin.actions import action
from flask_admin.babel import lazy_gettext
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from app import audit
from app.admin.labels import COLUMN_LABELS, DATETIME_FORMATTERS
from app.core.listing import MAX_ID, FilterError, int_arg
from app.extensions import db
from app.tenancy import get_current_org, has_permission

log = logging.getLogger(__name__)

# Never copied into audit details.
SECRET_ATTRIBUTES = frozenset({"password_hash", "token_hash"})


def scope_org_id() -> int | None:
    """None for platform admins (no scoping); else the current organization's id.
    Callers have checked access first, so a non-admin always has an organization."""
    if current_user.is_platform_admin:
        return None
    org = get_current_org()
    if org is None:
        abort(403)
    return org.id


def scoped_query(model):
    query = db.session.query(model)
    org_id = scope_org_id()
    if org_id is not None and hasattr(model, "organization_id"):
        query = query.filter(model.organization_id == org_id)
    return query


def _parse_pk(ident: Any) -> int:
    try:
        pk = int(ident)
    except (TypeError, ValueError):
        abort(404)
    if not 1 <= pk <= MAX_ID:
        abort(404)
    return pk


def changes_of(model) -> dict[str, dict[str, Any]]:
    """Column changes pending on `model` as {attr: {"before": x, "after": y}}."""
    changes = {}
    state = inspect(model)
    for attr in state.mapper.column_attrs:
        if attr.key in SECRET_ATTRIBUTES:
            continue
        hist = state.attrs[attr.key].history
        if hist.has_changes():
            before = hist.deleted[0] if hist.deleted else None
            after = hist.added[0] if hist.added else None
            if before != after:
                changes[attr.key] = {"before": before, "after": after}
    # A relation set through a form (a device's reporting group) changes its foreign key
    # only at flush: record it from the relationship's own history.
    for rel in state.mapper.relationships:
        if rel.direction.name != "MANYTOONE":
            continue
        hist = state.attrs[rel.key].history
        if not hist.added:
            continue
        before = hist.deleted[0] if hist.deleted else None
        after = hist.added[0]
        if before is not after:
            changes[rel.key] = {"before": str(before) if before else None, "after": str(after)}
            changes[f"{rel.key}_id"] = {
                "before": getattr(before, "id", None),
                "after": getattr(after, "id", None),
            }
    return changes


class AdminForm(FlaskForm):
    """Base of every admin form, carrying Flask-WTF's CSRF token.

    `CSRFProtect` checks every POST of the app, admin included. Flask-Admin's own
    `SecureForm` would add a second, different token under the same field name
    (`csrf_token`), so no browser submission could satisfy both: create and edit failed
    validation, and delete and bulk actions were refused with 400. With this base there is
    one token, rendered once by `hidden_tag()`, which both checks accept.
    """

    def __init__(self, formdata=None, obj=None, prefix="", **kwargs):
        # Flask-Admin passes the form data itself (None on GET), and its Unique validator
        # reads `_obj`.
        self._obj = obj
        super().__init__(formdata=formdata, obj=obj, prefix=prefix, **kwargs)


class TenantAjaxLoader(QueryAjaxModelLoader):
    def get_query(self):
        return scoped_query(self.model)

    def get_one(self, pk):
        return self.get_query().filter(self.model.id == _parse_pk(pk)).one_or_none()


class AccessMixin:
    """Who may open a view: platform admins, or members holding `required_permission`."""

    required_permission: str = "org.manage"
    platform_only = False

    def is_accessible(self) -> bool:
        if not current_user.is_authenticated:
            return False
        if current_user.is_platform_admin:
            return True
        return not self.platform_only and has_permission(self.required_permission)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.path))
        abort(403)


class SecureIndexView(AccessMixin, AdminIndexView):
    def is_accessible(self) -> bool:
        if not current_user.is_authenticated:
            return False
        return current_user.is_platform_admin or any(
            has_permission(p)
            for p in ("org.manage", "users.manage", "roles.manage", "roles.assign")
        )

    @expose("/")
    def index(self):
        return self.render("admin/portal_index.html")


class TenantModelView(AccessMixin, ModelView):
    form_base_class = AdminForm
    can_export = True
    can_view_details = True
    page_size = 50
    # Relation dropdowns and AJAX loaders list rows of the scoped organization only.
    form_excluded_columns = ("organization_id", "created_at")
    # Flask-Admin's fast path would skip on_model_delete and its audit event.
    fast_mass_delete = False
    audit_entity = ""
    # False for the platform-only views of rows that belong to no single organization.
    tenant_owned = True
    # Human labels and local times (app/admin/labels.py).
    column_labels = COLUMN_LABELS
    column_type_formatters = DATETIME_FORMATTERS
    list_template = "admin/portal_list.html"

    def __init__(self, model, *args, **kwargs):
        super().__init__(model, db, *args, **kwargs)

    # --- scoping of every read -------------------------------------------------
    def get_query(self):
        return scoped_query(self.model)

    def get_count_query(self):
        query = super().get_count_query()
        org_id = scope_org_id()
        if org_id is not None and self.tenant_owned:
            query = query.filter(self.model.organization_id == org_id)
        return query

    def get_one(self, id):
        row = self.get_query().filter(self.model.id == _parse_pk(id)).one_or_none()
        if row is None:
            abort(404)
        return row

    def _get_list_extra_args(self):
        # Flask-Admin reads these with type=int, unbounded: a page beyond the database's
        # integer range would reach it as an OFFSET it refuses. 400 naming the argument.
        for name in ("page", "page_size", "sort", "desc"):
            value = int_arg(request.args, name)
            if value is not None and value < 0:
                raise FilterError(name, f"{name} is 0 or more")
        return super()._get_list_extra_args()

    def _create_ajax_loader(self, name, options):
        attr = getattr(self.model, name)
        remote_model = attr.property.mapper.class_
        return TenantAjaxLoader(name, db, remote_model, **options)

    def handle_action(self, return_view=None):
        # A bulk action naming any row outside the scope is refused as a whole.
        ids = request.form.getlist("rowid")
        pks = {_parse_pk(i) for i in ids}
        found = self.get_query().filter(self.model.id.in_(pks)).count() if pks else 0
        if found != len(pks):
            abort(404)
        return super().handle_action(return_view)

    @action(
        "delete",
        lazy_gettext("Delete"),
        lazy_gettext("Are you sure you want to delete selected records?"),
    )
    def action_delete(self, ids):
        # Flask-Admin filters with the raw strings; PostgreSQL will not compare them
        # with integer ids.
        return super().action_delete([_parse_pk(i) for i in ids])

    def _export_csv(self, return_url):
        response = super()._export_csv(return_url)
        # Flask-Admin streams the file after the request has ended, when the database
        # session is closed and related rows (a membership's user) can no longer load.
        # Render it now, while the session is open.
        response.get_data()
        return response

    def handle_view_exception(self, exc: Exception) -> bool:
        # Never show a database error (with its SQL) to the user.
        if isinstance(exc, IntegrityError):
            log.warning("admin change refused by the database: %s", type(exc.orig).__name__)
            flash(
                _(
                    "This change conflicts with other records (a duplicate name, or rows that "
                    "still depend on it) and was not saved."
                ),
                "error",
            )
            return True
        return super().handle_view_exception(exc)

    # --- forms -----------------------------------------------------------------
    def _scope_form(self, form, editing: bool):
        for field in form:
            factory = getattr(field, "query_factory", None)
            if factory is None:
                continue
            remote = factory().column_descriptions[0]["entity"]
            field.query_factory = lambda remote=remote: scoped_query(remote)
        # Organization admins never choose an organization, and no row changes tenant.
        if (editing or scope_org_id() is not None) and hasattr(form, "organization"):
            del form.organization
        return form

    def create_form(self, obj=None):
        return self._scope_form(super().create_form(obj), editing=False)

    def edit_form(self, obj=None):
        return self._scope_form(super().edit_form(obj), editing=True)

    # --- writes ----------------------------------------------------------------
    def organization_of(self, model) -> int:
        """The organization a new or edited row belongs to (never the posted one for
        organization admins)."""
        org_id = scope_org_id()
        if org_id is not None:
            return org_id
        org = getattr(model, "organization", None)
        return org.id if org is not None else model.organization_id

    def entity_name(self) -> str:
        return self.audit_entity or self.model.__tablename__.rstrip("s")

    def on_model_change(self, form, model, is_created):
        model.organization_id = self.organization_of(model)
        changes = changes_of(model)
        db.session.flush()
        action = "created" if is_created else "updated"
        audit.record(
            f"{self.entity_name()}.{action}",
            organization_id=model.organization_id,
            target=model,
            details={"changes": changes, "via": "admin"},
        )

    def on_model_delete(self, model):
        audit.record(
            f"{self.entity_name()}.deleted",
            organization_id=model.organization_id,
            target=model,
            details={"name": str(model), "via": "admin"},
        )
