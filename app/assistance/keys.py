"""Ed25519 signing keys for activation files.

The private half is a PEM file in SIGNING_KEYS_DIR, readable only by the worker (and the key
CLI); the public half is a row in `signing_keys`, which the web process publishes at
/.well-known/jwks.json. A web process refuses to load private keys at all.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from joserfc.jwk import KeySet, OKPKey
from sqlalchemy import or_, select

from app.extensions import db
from app.models import SigningKey, utcnow

ALG = "EdDSA"


class SigningUnavailable(RuntimeError):
    """No private key here: this is not a worker, or no key was generated."""


@contextmanager
def eddsa():
    # The file format fixes alg "EdDSA" (SPEC §4); RFC 9864 prefers "Ed25519" for new
    # designs, which joserfc signals with a warning we acknowledge here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="EdDSA is deprecated")
        yield


def keys_dir() -> str:
    return current_app.config["SIGNING_KEYS_DIR"] or os.path.join(
        current_app.instance_path, "signing-keys"
    )


def _require_signer() -> None:
    if current_app.config.get("PROCESS_ROLE") != "worker":
        raise SigningUnavailable("only the worker process may load signing keys")


def generate_key() -> SigningKey:
    """Create a key pair: private PEM on disk (0600), public JWK in the database; the new
    key signs from now on. Caller commits."""
    _require_signer()
    key = OKPKey.generate_key("Ed25519")
    kid = key.thumbprint()
    directory = keys_dir()
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, f"{kid}.pem")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.as_pem(private=True))
    row = SigningKey(
        kid=kid, public_jwk={**key.as_dict(private=False), "kid": kid, "alg": ALG, "use": "sig"}
    )
    db.session.add(row)
    return row


def rotate() -> SigningKey:
    """A new signing key; older ones stay published until every file they signed expired."""
    now = utcnow()
    lifetime = timedelta(seconds=current_app.config["RA_FILE_MAX_LIFETIME_SECONDS"])
    for row in db.session.execute(
        select(SigningKey).where(SigningKey.retired_at.is_(None))
    ).scalars():
        row.retired_at = now
        row.published_until = now + lifetime
    return generate_key()


def active_key() -> SigningKey | None:
    return (
        db.session.execute(
            select(SigningKey)
            .where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc())
        )
        .scalars()
        .first()
    )


def load_private(kid: str) -> OKPKey:
    _require_signer()
    path = os.path.join(keys_dir(), f"{kid}.pem")
    try:
        with open(path, "rb") as fh:
            return OKPKey.import_key(fh.read())
    except FileNotFoundError:
        raise SigningUnavailable(f"private key {kid} is not in {keys_dir()}") from None


@dataclass(frozen=True)
class Signer:
    """The active key's id and its private half, loaded once per worker process."""

    kid: str
    key: OKPKey


_loaded: dict[tuple[str, str], OKPKey] = {}


def signer() -> Signer:
    """The key that signs now (generated on first use; the private key is read from disk
    once per process)."""
    row = ensure_key()
    cache_key = (keys_dir(), row.kid)
    if cache_key not in _loaded:
        _loaded[cache_key] = load_private(row.kid)
    return Signer(row.kid, _loaded[cache_key])


def ensure_key() -> SigningKey:
    """The active key, generating one if there is none (first start of a worker)."""
    row = active_key()
    if row is None or not os.path.exists(os.path.join(keys_dir(), f"{row.kid}.pem")):
        row = generate_key() if row is None else rotate()
        db.session.commit()
    return row


def published_keys() -> list[SigningKey]:
    now = utcnow()
    return list(
        db.session.execute(
            select(SigningKey)
            .where(or_(SigningKey.retired_at.is_(None), SigningKey.published_until > now))
            .order_by(SigningKey.created_at)
        ).scalars()
    )


def jwks() -> dict:
    """The public JWKS: never a private part."""
    return {
        "keys": [{k: v for k, v in row.public_jwk.items() if k != "d"} for row in published_keys()]
    }


def public_key_set() -> KeySet:
    return KeySet.import_key_set(jwks())
