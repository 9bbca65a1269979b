"""Users and memberships."""

from __future__ import annotations

from sqlalchemy import func, select

from app import audit
from app.core.passwords import hash_password, password_problem
from app.extensions import db
from app.models import Membership, Organization, Role, User


class UserError(ValueError):
    """A user operation was refused; the message says why."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(
        select(User).where(func.lower(User.email) == normalize_email(email))
    ).scalar_one_or_none()


def create_user(
    email: str, password: str | None, *, name: str = "", platform_admin: bool = False
) -> User:
    """Create a user (caller commits). The password, if given, must be acceptable."""
    email = normalize_email(email)
    if find_user_by_email(email) is not None:
        raise UserError(f"a user with e-mail {email} already exists")
    if password is not None and (problem := password_problem(password)):
        raise UserError(problem)
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password) if password is not None else None,
        is_platform_admin=platform_admin,
    )
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    if problem := password_problem(password):
        raise UserError(problem)
    user.password_hash = hash_password(password)


def add_membership(
    user: User, org: Organization, role: Role, *, actor: User | None = None, via: str = ""
) -> Membership:
    if role.organization_id != org.id:
        raise UserError("the role belongs to another organization")
    membership = Membership(user=user, organization_id=org.id, role=role)
    db.session.add(membership)
    db.session.flush()
    details = {"user": user.email, "role": role.name}
    if via:
        details["via"] = via
    audit.record(
        "membership.created",
        organization_id=org.id,
        target=membership,
        actor=actor,
        details=details,
    )
    return membership


def membership_of(user: User, org_id: int) -> Membership | None:
    return db.session.execute(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organization_id == org_id
        )
    ).scalar_one_or_none()
