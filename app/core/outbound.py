"""Requests the portal makes to URLs its users chose (webhooks), without becoming a way into
the networks behind it (SSRF).

`check_url` is the rule for a URL itself: http or https (http only where private networks
are allowed), a host, no credentials, no fragment, a bounded length. `post` resolves the
host once, refuses it if any of its addresses is not public (loopback, private, link-local,
shared, multicast, reserved, unspecified; IPv4 inside IPv6 too), and connects to the very
address it checked, sending the name in the Host header and in TLS (SNI and certificate
check): DNS answering differently between the check and the connection (rebinding) cannot
lead anywhere else. No proxy from the environment, no redirects followed, no retries here.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import certifi
import urllib3
from flask_babel import gettext as _
from urllib3.exceptions import HTTPError

MAX_URL_LENGTH = 2000
SCHEMES = ("http", "https")
USER_AGENT = "FlexxAgent-Portal-Webhooks/1"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefused(ValueError):
    """The URL may not be used; `message` says why in words for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def check_url(url: str, allow_private: bool) -> SplitResult:
    """`url` split, if the portal may send to it (not yet resolved: see `resolve`)."""
    if not isinstance(url, str) or not url.strip():
        raise OutboundRefused("bad_url", _("Enter the URL (https://…)."))
    if len(url) > MAX_URL_LENGTH:
        raise OutboundRefused(
            "bad_url", _("The URL is longer than %(count)d characters.", count=MAX_URL_LENGTH)
        )
    if any(c.isspace() or not c.isprintable() for c in url) or not url.isascii():
        raise OutboundRefused(
            "bad_url", _("The URL contains spaces or characters that must be percent-encoded.")
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise OutboundRefused("bad_url", _("This is not a valid URL.")) from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise OutboundRefused("bad_url", _("The URL must start with https:// and name a host."))
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused(
            "bad_url",
            _("The URL must not carry a user name or password: receivers check the signature."),
        )
    if parts.fragment:
        raise OutboundRefused("bad_url", _("The URL must not have a #fragment."))
    if parts.scheme != "https" and not allow_private:
        raise OutboundRefused("insecure_url", _("The URL must use https://."))
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        raise OutboundRefused("bad_url", _("The URL's host name is not valid.")) from None
    literal = _ip_literal(parts.hostname)
    if literal is not None and not allow_private and not is_public(literal):
        raise OutboundRefused("private_address", _private_message(parts.hostname))
    return parts


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return None


def _private_message(host: str) -> str:
    return _(
        "%(host)s is a loopback, private or otherwise non-public address; only public "
        "addresses may be used.",
        host=host,
    )


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Is `address` on the public internet (and not multicast)? IPv4 addresses carried in
    IPv6 (mapped, 6to4, Teredo, NAT64) are judged as the IPv4 address they carry."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int, allow_private: bool) -> list[str]:
    """The addresses of `host`, all of them public unless `allow_private`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise OutboundRefused("dns", _("%(host)s cannot be found.", host=host)) from None
    addresses = []
    for info in infos:
        text = info[4][0].split("%")[0]
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise OutboundRefused("dns", _("%(host)s cannot be found.", host=host))
    if not allow_private and not all(is_public(ipaddress.ip_address(a)) for a in addresses):
        raise OutboundRefused("private_address", _private_message(host))
    return addresses


@dataclass(frozen=True)
class Answer:
    status: int


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _host_header(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return host if parts.port is None else f"{host}:{parts.port}"


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    allow_private: bool,
    ca_certs: str | None = None,
) -> Answer:
    """POST `body` to `url` under the rules above; the answer's status (any status: the
    caller decides what counts). Raises OutboundRefused (not allowed, not found) or
    OutboundFailed (no answer: refused connection, timeout, TLS)."""
    parts = check_url(url, allow_private)
    host, port = parts.hostname or "", _port(parts)
    address = resolve(host, port, allow_private)[0]
    options = {
        "timeout": urllib3.Timeout(total=timeout),
        "retries": False,
        "maxsize": 1,
        "block": False,
    }
    if parts.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address,
            port,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs=ssl.CERT_REQUIRED,
            ca_certs=ca_certs or certifi.where(),
            **options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **options)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    sent = {
        "Host": _host_header(parts),
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        **headers,
    }
    try:
        with pool:
            response = pool.urlopen(
                "POST",
                path,
                body=body,
                headers=sent,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
            )
            status = response.status
            response.close()  # the answer's body is not ours to read
    except (HTTPError, OSError) as exc:
        raise OutboundFailed(_failure(exc)) from None
    return Answer(status)


class OutboundFailed(RuntimeError):
    """No HTTP answer; the text names the kind of failure (never the URL or the body)."""


def _failure(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, urllib3.exceptions.SSLError | ssl.SSLError):
        return "TLS error: " + text.split(": ", 1)[-1][:150]
    if "refused" in text.lower():
        return "connection refused"
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "cannot connect: " + text.rsplit(": ", 1)[-1][:120]
    if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
        return "no answer in time"
    return f"connection failed ({type(exc).__name__})"
