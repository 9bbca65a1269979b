"""Flask-Admin at /admin. Built per app so every test app gets its own views."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

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
        name="Portal admin",
        url="/admin",
        index_view=SecureIndexView(url="/admin"),
        theme=Bootstrap4Theme(swatch=app.config["FLASK_ADMIN_SWATCH"]),
    )
    admin.add_view(OrganizationView(Organization, name="Organizations", endpoint="organizations"))
    admin.add_view(ProductView(Product, name="Products", endpoint="products"))
    admin.add_view(
        ReportingGroupView(ReportingGroup, name="Reporting groups", endpoint="reporting_groups")
    )
    admin.add_view(DeviceView(Device, name="Devices", endpoint="devices"))
    admin.add_view(MembershipView(Membership, name="Users", endpoint="memberships"))
    admin.add_view(RoleView(Role, name="Roles", endpoint="roles"))
    admin.add_view(UserView(User, name="All users", endpoint="users"))
    return admin
