"""Checking an activation file as the relay (and `flask ra verify`) do: signature against
the published keys, header, and claims."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import current_app
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.assistance.files import AUDIENCE, TYP
from app.assistance.keys import ALG, eddsa, public_key_set

LEEWAY_S = 30


class ActivationInvalid(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def verify_token(
    token: str, keys: KeySet | None = None, now: float | None = None
) -> dict[str, Any]:
    """Claims of a valid activation token; ActivationInvalid otherwise (410 when expired)."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 16384:
        raise ActivationInvalid(
            401, "invalid_activation", "The activation is not a signed activation file."
        )
    keys = keys if keys is not None else public_key_set()
    try:
        with eddsa():
            obj = jws.deserialize_compact(token, keys, algorithms=[ALG])
    except (JoseError, ValueError, KeyError, TypeError):
        raise ActivationInvalid(
            401,
            "invalid_activation",
            "The activation file's signature is not valid for any published key.",
        ) from None
    header = obj.headers()
    if header.get("typ") != TYP or header.get("alg") != ALG:
        raise ActivationInvalid(
            401, "invalid_activation", f"Not an activation file (typ {header.get('typ')!r})."
        )
    try:
        claims = json.loads(obj.payload)
    except ValueError:
        raise ActivationInvalid(401, "invalid_activation", "Unreadable claims.") from None
    if not isinstance(claims, dict):
        raise ActivationInvalid(401, "invalid_activation", "Unreadable claims.")
    if claims.get("iss") != current_app.config["PORTAL_URL"]:
        raise ActivationInvalid(401, "invalid_activation", "The file was issued by another portal.")
    if claims.get("aud") != AUDIENCE:
        raise ActivationInvalid(
            401, "invalid_activation", "The file is not meant for the remote assistance client."
        )
    now = now or time.time()
    try:
        exp, nbf = float(claims["exp"]), float(claims["nbf"])
    except (KeyError, TypeError, ValueError):
        raise ActivationInvalid(
            401, "invalid_activation", "The file has no validity period."
        ) from None
    if now > exp + LEEWAY_S:
        raise ActivationInvalid(410, "expired", "The activation file has expired.")
    if now + LEEWAY_S < nbf:
        raise ActivationInvalid(401, "invalid_activation", "The activation file is not valid yet.")
    return claims
