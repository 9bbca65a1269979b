"""Encryption at rest for short-lived secrets (order payload fields, pending passwords).

Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from SECRET_KEY by HKDF, so web and
worker processes that share the configuration can open what the other sealed. Changing
SECRET_KEY makes sealed values unreadable, which only affects secrets in flight.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class SealBroken(RuntimeError):
    """A sealed value cannot be opened (tampered, or sealed under another SECRET_KEY)."""


def _fernet(purpose: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"ra-portal-sealing",
        info=purpose.encode(),
    ).derive(current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(purpose: str, value: dict[str, Any]) -> bytes:
    return _fernet(purpose).encrypt(json.dumps(value, separators=(",", ":")).encode())


def open_sealed(purpose: str, token: bytes) -> dict[str, Any]:
    try:
        return json.loads(_fernet(purpose).decrypt(token))
    except InvalidToken:
        raise SealBroken(purpose) from None
