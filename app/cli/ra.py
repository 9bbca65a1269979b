"""`flask ra …`: signing keys, checking an activation file, and acting as the operator's RA
client against the relay API."""

from __future__ import annotations

import json
import time

import click
import requests
from flask import current_app
from flask.cli import AppGroup
from joserfc.jwk import KeySet

from app.extensions import db

ra_cli = AppGroup("ra", help="Remote assistance: keys, activation files, relay client.")
keys_cli = AppGroup("keys", help="Activation-file signing keys (run where the worker runs).")
ra_cli.add_command(keys_cli)


def _as_signer():
    # The key commands run on the worker's host, with its SIGNING_KEYS_DIR.
    current_app.config["PROCESS_ROLE"] = "worker"


@keys_cli.command("generate")
def keys_generate():
    """Create the first signing key (or another active one)."""
    from app.assistance import keys

    _as_signer()
    row = keys.generate_key()
    db.session.commit()
    click.echo(f"Generated signing key {row.kid} in {keys.keys_dir()}")


@keys_cli.command("rotate")
def keys_rotate():
    """Sign with a new key from now on; old public keys stay published until every file
    they signed has expired."""
    from app.assistance import keys

    _as_signer()
    row = keys.rotate()
    db.session.commit()
    click.echo(
        f"Now signing with {row.kid}; retired keys stay in the JWKS until their files expire."
    )


@keys_cli.command("list")
def keys_list():
    """Signing keys and whether they are published."""
    from app.assistance import keys
    from app.models import SigningKey

    published = {k.kid for k in keys.published_keys()}
    for row in db.session.query(SigningKey).order_by(SigningKey.created_at):
        status = (
            "active"
            if row.retired_at is None
            else (
                f"retired, published until {row.published_until:%Y-%m-%d %H:%M}"
                if row.kid in published
                else "retired, unpublished"
            )
        )
        click.echo(f"{row.kid}  {row.created_at:%Y-%m-%d %H:%M}  {status}")


def _read_token(path: str) -> str:
    from app.assistance.files import extract_token

    with open(path, "rb") as fh:
        content = fh.read()
    try:
        return extract_token(content)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@ra_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--jwks-url",
    help="Fetch the public keys from this JWKS URL (default: <PORTAL_URL>/.well-known/jwks.json).",
)
def verify_command(path: str, jwks_url: str | None):
    """Check an activation file's signature against the JWKS and its claims; print them."""
    from app.assistance.verify import ActivationInvalid, verify_token

    token = _read_token(path)
    url = jwks_url or current_app.config["PORTAL_URL"] + "/.well-known/jwks.json"
    try:
        response = requests.get(url, timeout=10)
        response.raise_for_status()
        keyset = KeySet.import_key_set(response.json())
    except (requests.RequestException, ValueError) as exc:
        raise click.ClickException(f"cannot load the JWKS from {url}: {exc}") from None
    try:
        claims = verify_token(token, keyset)
    except ActivationInvalid as exc:
        raise click.ClickException(f"INVALID ({exc.code}): {exc.message}") from None
    click.echo(
        f"Valid activation file for assistance {claims['sub']} "
        f"(expires {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(claims['exp']))})"
    )
    click.echo(json.dumps(claims, indent=2, sort_keys=True))


@ra_cli.command("connect")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--password", help="The unattended password (asked for when needed).")
@click.option("--portal", help="Relay API base URL (default PORTAL_URL).")
@click.option(
    "--disconnect-after",
    type=float,
    default=None,
    help="Disconnect after this many seconds (default: stay until Ctrl+C).",
)
def connect_command(
    path: str, password: str | None, portal: str | None, disconnect_after: float | None
):
    """Act as the operator's RA client: open the file, give the password, connect, send a
    heartbeat every interval until interrupted (Ctrl+C, SIGTERM), then disconnect."""
    import base64

    token = _read_token(path)
    try:
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    except ValueError:
        raise click.ClickException("not an activation file") from None
    if claims.get("ra_type") == "unattended" and password is None:
        password = click.prompt(f"Password for session {claims.get('sid')}", hide_input=True)
    base = (portal or current_app.config["PORTAL_URL"]).rstrip("/") + "/api/relay/v1"
    body = {"activation": token, **({"password": password} if password else {})}
    try:
        response = requests.post(f"{base}/connect", json=body, timeout=15)
    except requests.RequestException as exc:
        raise click.ClickException(f"relay unreachable: {exc}") from None
    if response.status_code != 200:
        error = (
            response.json().get("error", {})
            if response.headers.get("Content-Type", "").startswith("application/json")
            else {}
        )
        raise click.ClickException(
            f"refused ({response.status_code} {error.get('code', '')}): {error.get('message', '')}"
        )
    result = response.json()
    click.echo(
        f"Connected to {claims['device']['hostname']} (assistance "
        f"{result['assistance_id']}, relay {result['relay_url']})."
    )
    interval = float(
        result.get("heartbeat_interval_s") or current_app.config["RELAY_HEARTBEAT_SECONDS"]
    )
    if not _keep_alive(base, result["connection_id"], interval, disconnect_after):
        raise click.ClickException(
            "The portal ended the connection (missed heartbeats, or the assistance ended)."
        )
    done = requests.post(
        f"{base}/disconnect", json={"connection_id": result["connection_id"]}, timeout=15
    )
    click.echo(f"Disconnected ({done.json().get('state', done.status_code)}).")


def _keep_alive(base: str, connection_id: str, interval: float, seconds: float | None) -> bool:
    """Send a heartbeat every `interval` (SPEC §5) until Ctrl+C, SIGTERM or `seconds`;
    False when the portal says the connection is gone (410)."""
    import signal

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while True:
            left = interval if deadline is None else min(interval, deadline - time.monotonic())
            if left <= 0:
                return True
            time.sleep(left)
            if deadline is not None and time.monotonic() >= deadline:
                return True
            try:
                beat = requests.post(
                    f"{base}/heartbeat", json={"connection_id": connection_id}, timeout=15
                )
            except requests.RequestException as exc:
                click.echo(f"Heartbeat not delivered ({exc}); retrying.", err=True)
                continue
            if beat.status_code == 410:
                return False
            if beat.status_code != 204:
                click.echo(f"Heartbeat refused ({beat.status_code}); retrying.", err=True)
    except KeyboardInterrupt:
        return True
    finally:
        signal.signal(signal.SIGTERM, previous)
