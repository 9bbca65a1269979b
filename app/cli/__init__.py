"""`flask` commands: seed-demo, create-admin, audit verify, api-token create|revoke,
mfa reset."""

from __future__ import annotations

import getpass
import sys

import click
from flask import Flask
from flask.cli import AppGroup

from app import audit
from app.demo import generate_password, seed_demo
from app.extensions import db
from app.models import ApiToken, Organization
from app.people import api_tokens, mfa
from app.people.users import UserError, create_user, find_user_by_email, set_password

audit_cli = AppGroup("audit", help="Audit log commands.")
token_cli = AppGroup("api-token", help="Personal API tokens for automation.")
mfa_cli = AppGroup("mfa", help="Second-factor (MFA) support for operators of the portal.")


@click.command("seed-demo")
def seed_demo_command():
    """Seed the demo organization (prints the generated passwords once)."""
    rows = seed_demo()
    if rows is None:
        click.echo("The demo is already seeded (its passwords were printed when it was).")
        return
    click.echo("Demo users (passwords are shown only now; only their hashes are stored):")
    width = max(len(r[1]) for r in rows)
    role_width = max(len(r[0]) for r in rows)
    for role, email, secret in rows:
        click.echo(f"  {role:<{role_width}} {email:<{width}}  {secret}")


@click.command("create-admin")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
def create_admin_command(email: str, name: str, generate: bool):
    """Create a platform admin, or make an existing user one (password from a prompt)."""
    if generate:
        secret = generate_password(20)
    elif sys.stdin.isatty():
        secret = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != secret:
            raise click.ClickException("the passwords differ")
    else:
        secret = sys.stdin.readline().rstrip("\n")
    try:
        user = find_user_by_email(email)
        if user is None:
            user = create_user(email, secret, name=name, platform_admin=True)
            action = "created"
        else:
            user.is_platform_admin = True
            set_password(user, secret)
            action = "promoted"
        audit.record(
            "user.platform_admin_" + action,
            organization_id=None,
            target=user,
            actor_label="cli",
            details={"email": user.email, "via": "cli"},
        )
        db.session.commit()
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Platform admin {user.email} {action}.")
    if generate:
        click.echo(f"Password (shown once): {secret}")


@audit_cli.command("verify")
def audit_verify_command():
    """Recompute every audit chain; exit 1 if any event was modified or deleted."""
    reports = audit.verify_all()
    bad = [r for r in reports if not r.ok]
    for r in reports:
        start = f" from checkpoint #{r.checkpoint_seq}" if r.checkpoint_seq else ""
        click.echo(f"{r.chain}: {r.events} event(s){start} {'OK' if r.ok else 'TAMPERED'}")
        for problem in r.problems:
            click.echo(f"  - {problem}")
    if bad:
        raise click.ClickException(f"{len(bad)} chain(s) failed verification")


@token_cli.command("create")
@click.argument("email")
@click.option("--org", "org_slug", required=True, help="Organization slug the token acts in.")
@click.option("--name", required=True, help="What the token is for.")
@click.option(
    "--days",
    default=api_tokens.DEFAULT_DAYS,
    show_default=True,
    help=f"Lifetime in days (1-{api_tokens.MAX_DAYS}).",
)
def token_create_command(email: str, org_slug: str, name: str, days: int):
    """Create a personal API token for EMAIL and print it once."""
    user = find_user_by_email(email)
    org = db.session.execute(
        db.select(Organization).where(Organization.slug == org_slug)
    ).scalar_one_or_none()
    if user is None or org is None:
        raise click.ClickException("no such user or organization")
    try:
        token, raw = api_tokens.create_token(user, org.id, name, days, actor=user)
    except api_tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Token {token.name} ({token.prefix}…), expires {token.expires_at:%Y-%m-%d}.")
    click.echo("Shown once; store it now:")
    click.echo(raw)


@token_cli.command("revoke")
@click.argument("prefix")
def token_revoke_command(prefix: str):
    """Revoke the token whose shown prefix is PREFIX."""
    tokens = (
        db.session.execute(
            db.select(ApiToken).where(ApiToken.prefix == prefix, ApiToken.revoked_at.is_(None))
        )
        .scalars()
        .all()
    )
    if len(tokens) != 1:
        raise click.ClickException(f"{len(tokens)} live tokens have that prefix")
    api_tokens.revoke(tokens[0], actor=tokens[0].user)
    db.session.commit()
    click.echo(f"Revoked {tokens[0].name}.")


@mfa_cli.command("reset")
@click.argument("email")
def mfa_reset_command(email: str):
    """Remove EMAIL's authenticator and recovery codes (lost phone and codes) and end
    their sessions; they enroll again at their next sign-in if their organization
    requires it. Check who is asking before you run this."""
    user = find_user_by_email(email)
    if user is None:
        raise click.ClickException("no such user")
    if not mfa.is_enrolled(user.id):
        raise click.ClickException(f"{user.email} has no authenticator set up")
    mfa.remove(user, reason="reset_by_operator", actor_label="cli")
    db.session.commit()
    click.echo(f"MFA reset for {user.email}; their sessions were ended.")


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_admin_command)
    app.cli.add_command(audit_cli)
    app.cli.add_command(token_cli)

    from app.cli.ra import ra_cli

    app.cli.add_command(ra_cli)
    app.cli.add_command(mfa_cli)
