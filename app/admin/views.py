"""The Flask-Admin views of the Portal's tenancy objects."""

from __future__ import annotations

from flask import flash
from flask_admin.contrib.sqla.fields import QuerySelectField
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField, EmailField, PasswordField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from app import audit
from app.admin.base import (
    AdminForm,
    TenantModelView,
    changes_of,
    scope_org_id,
    scoped_query,
)
from app.admin.labels import COLUMN_LABELS
from app.core.passwords import password_problem
from app.extensions import db
from app.models import Device, Membership, Organization, ReportingGroup, Role
from app.people.offboarding import end_membership_access, end_user_access
from app.people.organizations import create_builtin_roles, slugify
from app.people.permissions import PERMISSIONS
from app.people.role_rules import (
    RoleChangeRefused,
    check_grant,
    check_removal,
    check_role_delete,
    check_role_edit,
    role_group_names,
)
from app.people.signin import end_all_sessions
from app.people.users import UserError, create_user, find_user_by_email, set_password
from app.portal.labels import label


def _role_label(role: Role) -> str:
    # Platform admins pick among every organization's roles: say whose.
    return role.name if scope_org_id() is not None else f"{role.organization.name} / {role.name}"


class OrganizationView(TenantModelView):
    platform_only = True
    tenant_owned = False
    can_delete = False
    column_list = ("name", "slug", "created_at")
    column_searchable_list = ("name", "slug")
    form_columns = ("name", "slug")
    form_args = {"slug": {"validators": [Optional(), Length(max=64)]}}

    def on_model_change(self, form, model, is_created):
        if not model.slug:
            model.slug = slugify(model.name)
        changes = changes_of(model)
        if is_created:
            create_builtin_roles(model)
        db.session.flush()
        audit.record(
            "organization.created" if is_created else "organization.updated",
            organization_id=model.id,
            target=model,
            details={"changes": changes, "via": "admin"},
        )


class ProductView(TenantModelView):
    column_list = ("organization", "name", "created_at")
    column_searchable_list = ("name",)
    form_columns = ("organization", "name")
    form_args = {"name": {"validators": [DataRequired(), Length(max=120)]}}

    def on_model_delete(self, model):
        groups = db.session.query(ReportingGroup).filter_by(product_id=model.id).count()
        if groups:
            raise ValidationError(
                f"{model.name} still has {groups} reporting group(s); delete them or move "
                "them to another product first."
            )
        super().on_model_delete(model)


class ReportingGroupView(TenantModelView):
    column_list = ("organization", "product", "name", "created_at")
    column_searchable_list = ("name",)
    form_columns = ("product", "name")
    # Looked up as you type (an organization may have many products); the loader is
    # scoped like every other query of the view.
    form_ajax_refs = {"product": {"fields": ("name",)}}
    form_args = {
        "product": {"validators": [DataRequired()]},
        "name": {"validators": [DataRequired(), Length(max=120)]},
    }
    audit_entity = "reporting_group"

    def organization_of(self, model) -> int:
        # The (scoped) product decides; a composite foreign key enforces it too.
        return model.product.organization_id

    def on_model_delete(self, model):
        devices = db.session.query(Device).filter_by(reporting_group_id=model.id).count()
        if devices:
            raise ValidationError(
                f"{model.name} still has {devices} device(s); move them to another reporting "
                "group first."
            )
        super().on_model_delete(model)


class DeviceView(TenantModelView):
    """Devices: moving one to another reporting group is an admin action (audited)."""

    can_create = False
    column_list = (
        "organization",
        "hostname",
        "reporting_group",
        "os_name",
        "agent_version",
        "kind",
        "last_checkin_at",
    )
    column_searchable_list = ("hostname",)
    form_columns = ("reporting_group",)
    form_args = {
        "reporting_group": {"validators": [DataRequired()], "label": _l("Reporting group")}
    }
    column_formatters = {
        "kind": lambda view, context, model, name: label("device_kind", model.kind)
    }
    column_details_exclude_list = ("token_hash", "sessions_hash")
    column_export_exclude_list = ("token_hash", "sessions_hash")

    def organization_of(self, model) -> int:
        return model.reporting_group.organization_id


class RoleForm(AdminForm):
    organization = QuerySelectField(
        _l("Organization"),
        query_factory=lambda: scoped_query(Organization),
        validators=[DataRequired()],
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    permission_set = SelectMultipleField(
        _l("Permissions"), choices=sorted(PERMISSIONS.items()), validate_choice=True
    )


class RoleView(TenantModelView):
    required_permission = "roles.manage"
    column_list = ("organization", "name", "builtin_key", "permissions", "limited_to_groups")
    column_labels = {**COLUMN_LABELS, "limited_to_groups": _l("Reporting groups")}
    column_searchable_list = ("name",)
    column_formatters = {
        "permissions": lambda v, c, m, n: ", ".join(sorted(m.permissions)),
        "limited_to_groups": lambda v, c, m, n: (
            "all" if m.group_limit is None else role_group_names(m.group_limit)
        ),
    }
    column_export_list = ("name", "builtin_key", "permissions", "limited_to_groups")
    column_formatters_export = column_formatters

    def get_create_form(self):
        return RoleForm

    def get_edit_form(self):
        return RoleForm

    def on_form_prefill(self, form, id):
        form.permission_set.data = sorted(self.get_one(id).permissions)

    def on_model_change(self, form, model, is_created):
        # The group limit is edited in the portal (Settings → Roles); it is kept here, and
        # new roles made here cover every group.
        wanted = set(form.permission_set.data or [])
        before = sorted(model.permissions) if not is_created else []
        model.organization_id = self.organization_of(model)
        try:
            check_role_edit(current_user._get_current_object(), model, wanted)
        except RoleChangeRefused as exc:
            raise ValidationError(str(exc)) from None
        model.set_permissions(wanted)
        changes = changes_of(model)
        if before != sorted(wanted):
            changes["permissions"] = {"before": before, "after": sorted(wanted)}
        db.session.flush()
        audit.record(
            "role.created" if is_created else "role.updated",
            organization_id=model.organization_id,
            target=model,
            details={"changes": changes, "via": "admin"},
        )

    def on_model_delete(self, model):
        # Moving members to a replacement role is offered in the portal only.
        try:
            check_role_delete(current_user._get_current_object(), model)
        except RoleChangeRefused as exc:
            raise ValidationError(str(exc)) from None
        super().on_model_delete(model)


class MembershipCreateForm(AdminForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    password = PasswordField(
        _l("Initial password (new users only)"), validators=[Optional(), Length(max=1024)]
    )
    role = QuerySelectField(
        _l("Role"),
        query_factory=lambda: scoped_query(Role),
        get_label=_role_label,
        validators=[DataRequired()],
    )


class MembershipEditForm(AdminForm):
    role = QuerySelectField(
        _l("Role"),
        query_factory=lambda: scoped_query(Role),
        get_label=_role_label,
        validators=[DataRequired()],
    )


class MembershipView(TenantModelView):
    """Users of an organization, each with their role there."""

    required_permission = "users.manage"
    name = "Users"
    column_list = ("user.email", "user.name", "role", "organization", "created_at")
    column_searchable_list = ("user.email", "user.name")
    column_sortable_list = (("user.email", "user.email"), "created_at")

    def get_create_form(self):
        return MembershipCreateForm

    def get_edit_form(self):
        return MembershipEditForm

    def create_model(self, form):
        role: Role = form.role.data
        try:
            actor = current_user._get_current_object()
            check_grant(actor, role.organization_id, role)
            user = find_user_by_email(form.email.data)
            if user is not None and not actor.is_platform_admin:
                # Adding an existing account would put someone in an organization without
                # their consent: they join by accepting an invitation instead.
                raise UserError(
                    "That e-mail cannot be added here. Invite it from Settings → Invitations: "
                    "the person accepts by signing in to their account."
                )
            if user is None:
                if not form.password.data:
                    raise UserError("A new user needs an initial password.")
                user = create_user(form.email.data, form.password.data, name=form.name.data or "")
            elif any(m.organization_id == role.organization_id for m in user.memberships):
                raise UserError(f"{user.email} is already a member of this organization.")
            membership = Membership(user=user, organization_id=role.organization_id, role=role)
            db.session.add(membership)
            db.session.flush()
            audit.record(
                "membership.created",
                organization_id=membership.organization_id,
                target=membership,
                details={"user": user.email, "role": role.name, "via": "admin"},
            )
            db.session.commit()
        except (UserError, RoleChangeRefused) as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False
        return membership

    def update_model(self, form, model):
        before = model.role.name
        try:
            check_grant(
                current_user._get_current_object(),
                model.organization_id,
                form.role.data,
                target=model,
            )
        except RoleChangeRefused as exc:
            flash(str(exc), "error")
            return False
        model.role = form.role.data
        if model.role.organization_id != model.organization_id:
            flash(_("That role belongs to another organization."), "error")
            db.session.rollback()
            return False
        audit.record(
            "membership.updated",
            organization_id=model.organization_id,
            target=model,
            details={
                "user": model.user.email,
                "changes": {"role": {"before": before, "after": model.role.name}},
                "via": "admin",
            },
        )
        db.session.commit()
        return True

    def on_model_delete(self, model):
        actor = current_user._get_current_object()
        try:
            check_removal(actor, model)
        except RoleChangeRefused as exc:
            raise ValidationError(str(exc)) from None
        ended = end_membership_access(model, actor)
        audit.record(
            "membership.deleted",
            organization_id=model.organization_id,
            target=model,
            details={"user": model.user.email, "role": model.role.name, "via": "admin", **ended},
        )


class UserForm(AdminForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    is_platform_admin = BooleanField(_l("Platform admin"))
    active = BooleanField(_l("Active"), default=True)
    new_password = PasswordField(_l("New password"), validators=[Optional(), Length(max=1024)])

    def validate_new_password(self, field):
        if field.data and (problem := password_problem(field.data)):
            raise ValidationError(problem)


class UserView(TenantModelView):
    """Every user account (platform admins only)."""

    platform_only = True
    tenant_owned = False
    can_delete = False
    column_list = ("email", "name", "is_platform_admin", "active", "last_login_at")
    column_searchable_list = ("email", "name")
    form = UserForm
    column_export_exclude_list = ("password_hash",)
    column_details_exclude_list = ("password_hash",)

    def create_model(self, form):
        try:
            user = create_user(
                form.email.data,
                form.new_password.data or None,
                name=form.name.data or "",
                platform_admin=form.is_platform_admin.data,
            )
            user.active = form.active.data
            audit.record(
                "user.created",
                organization_id=None,
                target=user,
                details={"email": user.email, "via": "admin"},
            )
            db.session.commit()
        except UserError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False
        return user

    def update_model(self, form, model):
        model.name = form.name.data or ""
        model.is_platform_admin = form.is_platform_admin.data
        model.active = form.active.data
        try:
            if form.new_password.data:
                set_password(model, form.new_password.data)
        except UserError as exc:
            flash(str(exc), "error")
            return False
        changes = changes_of(model)
        if form.new_password.data:
            changes["password"] = "reset"  # noqa: S105 (a marker, never the password)
        ended = {}
        if "active" in changes and not model.active:
            # Deactivated: every session and API token of the account ends now.
            ended = end_user_access(model, current_user._get_current_object())
        elif form.new_password.data:
            end_all_sessions(model.id)
        audit.record(
            "user.updated",
            organization_id=None,
            target=model,
            details={"changes": changes, "via": "admin", **ended},
        )
        db.session.commit()
        return True
