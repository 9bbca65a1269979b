"""Talking to an organization's identity provider: which addresses the portal may fetch,
discovery, the OAuth 2 client (authorization code + PKCE), the code exchange with the ID
token's verification, and UserInfo."""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.core.sealing import SealBroken, open_sealed
from app.models import SsoConfig
from app.people.sso import SsoError

log = logging.getLogger(__name__)

SEAL_PURPOSE = "sso-client-secret"
CALLBACK_PATH = "/sso/callback"
SCOPE = "openid email profile"
MAX_RESPONSE_BYTES = 512 * 1024
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
# Who signs in is decided on these; when the ID token lacks one, UserInfo is asked.
NEEDED_CLAIMS = ("email", "email_verified")
# What is taken from UserInfo (never over the ID token's own value).
USERINFO_CLAIMS = ("email", "email_verified", "name")


def same_secret(given: Any, expected: Any) -> bool:
    """Constant-time comparison of a value sent to us with the one we expect (any text,
    whatever its characters: `hmac.compare_digest` refuses non-ASCII `str`)."""
    if not isinstance(given, str) or not expected:
        return False
    return hmac.compare_digest(given.encode(), str(expected).encode())


def check_url(url: str, what: str) -> str:
    """`url` if the portal may fetch it: https (http only to this machine where private
    addresses are allowed), no credentials, and not into a private network in production."""
    allow_private = current_app.config["SSO_ALLOW_PRIVATE_NETWORKS"]
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise SsoError(f"The {what} is not a valid URL.", 400, "bad_url") from None
    if (
        not host
        or parts.username
        or parts.password
        or any(c.isspace() or not c.isprintable() for c in url)
    ):
        raise SsoError(f"The {what} must be a plain https:// URL.", 400, "bad_url")
    try:
        addresses = {
            ipaddress.ip_address(info[4][0].split("%")[0])
            for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        }
    except (socket.gaierror, UnicodeError, ValueError):
        raise SsoError(
            f"The {what} names a host that cannot be found: {host}.", 502, "dns"
        ) from None
    internal = any(
        a.is_private
        or a.is_loopback
        or a.is_link_local
        or a.is_reserved
        or a.is_multicast
        or a.is_unspecified
        for a in addresses
    )
    if internal and not allow_private:
        raise SsoError(
            f"The {what} points into a private network ({host}); use the provider's public "
            "https address.",
            400,
            "private_address",
        )
    loopback_only = all(a.is_loopback for a in addresses)
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_private and loopback_only):
        raise SsoError(f"The {what} must use https://.", 400, "insecure_url")
    return url


def _fetch(url: str, what: str, headers: dict[str, str]) -> tuple[str, bytes]:
    """GET `url` under the outbound rules (checked address, timeout, no redirects, size
    cap); its media type and body."""
    check_url(url, what)
    try:
        with requests.get(
            url,
            timeout=current_app.config["SSO_HTTP_TIMEOUT_SECONDS"],
            allow_redirects=False,
            stream=True,
            headers=headers,
        ) as response:
            body = response.raw.read(MAX_RESPONSE_BYTES + 1, decode_content=True)
            status = response.status_code
            content_type = response.headers.get("Content-Type", "")
    except requests.RequestException as exc:
        log.warning("identity provider unreachable (%s): %s", what, type(exc).__name__)
        raise SsoError(
            "The identity provider could not be reached; try again later.", 502, "unreachable"
        ) from None
    if status != 200 or len(body) > MAX_RESPONSE_BYTES:
        raise SsoError(
            f"The identity provider's {what} answered with status {status}.", 502, "bad_answer"
        )
    return content_type.split(";")[0].strip().lower(), body


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SsoError(f"The identity provider's {what} is not JSON.", 502, "bad_answer")
    return data


def get_json(url: str, what: str) -> dict[str, Any]:
    _, body = _fetch(url, what, {"Accept": "application/json"})
    return _json_object(body, what)


def discover(issuer: str) -> dict[str, Any]:
    """The provider's metadata; its `issuer` must be exactly the configured one."""
    meta = get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery URL")
    if meta.get("issuer") != issuer:
        raise SsoError(
            f"The provider calls itself {str(meta.get('issuer'))[:200]!r}; the issuer must be "
            "exactly that.",
            502,
            "issuer_mismatch",
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(meta.get(key), str):
            raise SsoError(f"The provider's metadata lacks {key}.", 502, "bad_answer")
    return meta


def callback_url() -> str:
    return current_app.config["PORTAL_URL"] + CALLBACK_PATH


def client_secret(config: SsoConfig) -> str:
    if not config.client_secret_sealed:
        raise SsoError("Single sign-on has no client secret yet.", 409, "no_secret")
    try:
        return open_sealed(SEAL_PURPOSE, config.client_secret_sealed)["secret"]
    except SealBroken:
        raise SsoError(
            "The stored client secret cannot be read (the server's key changed); an "
            "administrator must enter it again.",
            409,
            "secret_unreadable",
        ) from None


def oauth_client(config: SsoConfig, secret: str | None = None) -> OAuth2Session:
    return OAuth2Session(
        client_id=config.client_id,
        client_secret=secret,
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name)
        scope=SCOPE,
        redirect_uri=callback_url(),
        code_challenge_method="S256",
    )


def sign_in_claims(
    config: SsoConfig, meta: dict[str, Any], code: str, pending: dict[str, Any]
) -> dict[str, Any]:
    """Redeem the code and return the person's claims: the verified ID token's and, for the
    needed ones it lacks, UserInfo's (OIDC Core §5.4: a conformant provider that issues an
    access token may put `email` in UserInfo only)."""
    token = _redeem_code(config, meta, code, pending)
    claims = _verify_id_token(config, meta, token.get("id_token"), pending)
    access_token = token.get("access_token")
    endpoint = meta.get("userinfo_endpoint")
    if (
        any(name not in claims for name in NEEDED_CLAIMS)
        and isinstance(access_token, str)
        and isinstance(endpoint, str)
    ):
        try:
            info = fetch_userinfo(endpoint, access_token, str(claims["sub"]))
        except SsoError as exc:
            exc.email = email_of(claims)
            raise
        claims = {**{k: info[k] for k in USERINFO_CLAIMS if k in info}, **claims}
    return claims


def email_of(claims: dict[str, Any]) -> str:
    """The e-mail address the claims give, normalized; "" when there is none."""
    email = str(claims.get("email") or "").strip().lower()
    return email if "@" in email else ""


def _redeem_code(
    config: SsoConfig, meta: dict[str, Any], code: str, pending: dict[str, Any]
) -> dict[str, Any]:
    check_url(meta["token_endpoint"], "token endpoint")
    client = oauth_client(config, client_secret(config))
    try:
        return client.fetch_token(
            meta["token_endpoint"],
            grant_type="authorization_code",
            code=code,
            code_verifier=pending["verifier"],
            timeout=current_app.config["SSO_HTTP_TIMEOUT_SECONDS"],
            allow_redirects=False,
        )
    except OAuthError as exc:
        log.info("token endpoint refused the code: %s", exc.error)
        raise SsoError(
            "The identity provider did not accept the sign-in; start again.", 401, "token_refused"
        ) from None
    except (requests.RequestException, ValueError) as exc:
        log.warning("token endpoint failed: %s", type(exc).__name__)
        raise SsoError(
            "The identity provider could not be reached; try again later.", 502, "unreachable"
        ) from None
    finally:
        client.close()


def _verify_id_token(
    config: SsoConfig, meta: dict[str, Any], id_token: Any, pending: dict[str, Any]
) -> dict[str, Any]:
    if not isinstance(id_token, str):
        raise SsoError("The identity provider sent no ID token.", 401, "no_id_token")
    keys = get_json(meta["jwks_uri"], "key set")
    try:
        decoded = jwt.decode(id_token, KeySet.import_key_set(keys), algorithms=ID_TOKEN_ALGORITHMS)
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": config.issuer},
            aud={"essential": True, "value": config.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        log.info("ID token refused: %s", type(exc).__name__)
        raise SsoError(
            "The identity provider's ID token is not valid for this portal.",
            401,
            "id_token_invalid",
        ) from None
    claims = decoded.claims
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != config.client_id:
        raise SsoError("The ID token was issued to another client.", 401, "id_token_invalid")
    if not same_secret(claims.get("nonce"), pending.get("nonce")):
        raise SsoError(
            "The ID token does not belong to this sign-in (nonce mismatch). Start again.",
            401,
            "nonce_mismatch",
        )
    return claims


def fetch_userinfo(endpoint: str, access_token: str, subject: str) -> dict[str, Any]:
    """The UserInfo answer for `access_token`, which must be about `subject` (the ID
    token's `sub`, OIDC Core §5.3.2). Plain JSON only: a signed (JWT) answer is refused."""
    media_type, body = _fetch(
        endpoint,
        "UserInfo endpoint",
        {"Accept": "application/json", "Authorization": f"Bearer {access_token}"},
    )
    if media_type == "application/jwt":
        raise SsoError(
            "The identity provider answers UserInfo with a signed JWT, which this portal does "
            "not accept. Configure the provider (its client registration) to answer UserInfo "
            "with plain JSON.",
            502,
            "userinfo_signed",
        )
    info = _json_object(body, "UserInfo answer")
    if info.get("sub") != subject:
        raise SsoError(
            "The identity provider's UserInfo answer is about someone else than its ID token "
            "(subject mismatch). Start again.",
            401,
            "userinfo_subject_mismatch",
        )
    return info
