"""Flask-Admin at /admin. Built per app so every test app gets its own views."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from app.admin.base import SecureIndexView
from app.admin.views import (
    DeviceView,
    MembershipView,
    OrganizationView,
    ProductView,
    ReportingGroupView,
    RoleView,
    UserView,
)
from app.models import Device, Membership, Organization, Product, ReportingGroup, Role, User


def init_admin(app: Flask) -> Admin:
    admin = Admin(
        app,
        name=_l("Administration"),
        url="/admin",
        index_view=SecureIndexView(url="/admin"),
        # The portal's own look (templates/admin/portal_base.html, static/css/admin.css).
        theme=Bootstrap4Theme(
            swatch=app.config["FLASK_ADMIN_SWATCH"], base_template="admin/portal_base.html"
        ),
    )
    admin.add_view(
        OrganizationView(Organization, name=_l("Organizations"), endpoint="organizations")
    )
    admin.add_view(ProductView(Product, name=_l("Products"), endpoint="products"))
    admin.add_view(
        ReportingGroupView(ReportingGroup, name=_l("Reporting groups"), endpoint="reporting_groups")
    )
    admin.add_view(DeviceView(Device, name=_l("Devices"), endpoint="devices"))
    admin.add_view(MembershipView(Membership, name=_l("Users"), endpoint="memberships"))
    admin.add_view(RoleView(Role, name=_l("Roles"), endpoint="roles"))
    admin.add_view(UserView(User, name=_l("All users"), endpoint="users"))
    return admin
