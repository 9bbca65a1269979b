"""The activation file formats (SPEC §4), exactly.

`.flxra`: the file is one compact JWS. `.exe`: launcher bytes ‖ JWS bytes ‖ JWS length
(4 bytes, big-endian) ‖ `FLXRA001`.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from typing import Any

from flask import current_app
from joserfc import jws

from app.assistance.keys import ALG, Signer, eddsa
from app.models import Assistance

TYP = "flxra+jwt"
AUDIENCE = "flexx-ra-client"
TRAILER = b"FLXRA001"
STAND_IN_LAUNCHER = (
    b"MZ-STAND-IN: this is not a Windows program. A real deployment sets RA_LAUNCHER_PATH to "
    b"the FlexxAgent remote assistance launcher; the signed activation token follows.\n"
)


def claims_for(assistance: Assistance, now: float | None = None) -> dict[str, Any]:
    cfg = current_app.config
    now = int(now or time.time())
    operator = assistance.operator
    return {
        "iss": cfg["PORTAL_URL"],
        "aud": AUDIENCE,
        "sub": str(assistance.id),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "nbf": now,
        "exp": now + cfg["RA_FILE_MAX_LIFETIME_SECONDS"],
        "sid": assistance.sid,
        "ra_type": assistance.type,
        "device": {"id": assistance.device_id, "hostname": assistance.device.hostname},
        "relay": {"url": cfg["RELAY_URL"], "proxy_url": assistance.proxy_url},
        "audio_redirection": assistance.audio_redirection,
        "tools": list(assistance.tools),
        "file_kind": assistance.file_kind,
        "operator": {
            "id": assistance.operator_id,
            "name": (operator.name or operator.email) if operator else "",
        },
    }


def sign(claims: dict[str, Any], signer: Signer) -> str:
    header = {"alg": ALG, "kid": signer.kid, "typ": TYP}
    payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    with eddsa():
        return jws.serialize_compact(header, payload, signer.key, algorithms=[ALG])


_launchers: dict[tuple[str, float], bytes] = {}


def launcher_bytes() -> bytes:
    """The launcher the `.exe` files start with (read once per process while unchanged)."""
    path = current_app.config.get("RA_LAUNCHER_PATH")
    if not path:
        return STAND_IN_LAUNCHER
    key = (path, os.path.getmtime(path))
    if key not in _launchers:
        with open(path, "rb") as fh:
            _launchers.clear()
            _launchers[key] = fh.read()
    return _launchers[key]


def package(token: str, file_kind: str, launcher: bytes | None = None) -> bytes:
    data = token.encode("ascii")
    if file_kind == "flxra":
        return data
    launcher = launcher_bytes() if launcher is None else launcher
    return launcher + data + len(data).to_bytes(4, "big") + TRAILER


def extract_token(content: bytes) -> str:
    """The compact JWS inside a `.flxra` or `.exe` activation file."""
    if content.endswith(TRAILER) and len(content) >= len(TRAILER) + 4:
        length = int.from_bytes(content[-len(TRAILER) - 4 : -len(TRAILER)], "big")
        start = len(content) - len(TRAILER) - 4 - length
        if length <= 0 or start < 0:
            raise ValueError("malformed .exe activation file trailer")
        content = content[start : start + length]
    try:
        return content.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ValueError("not an activation file") from None


def filename(assistance: Assistance) -> str:
    host = re.sub(r"[^A-Za-z0-9._-]", "_", assistance.device.hostname)[:60]
    return f"remote-assistance-{assistance.id}-{host}.{assistance.file_kind}"
