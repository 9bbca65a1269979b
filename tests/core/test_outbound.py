"""Requests to URLs users chose (webhooks): which addresses are public, which URLs are
refused, and that the connection goes to the very address that was checked (no DNS
rebinding), with the name in the Host header and in TLS (SNI, certificate check)."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.core import outbound
from tests.webhooks.receiver import Receiver

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # link-local (cloud metadata)
        ("fe80::1", False),
        ("fc00::1", False),  # unique local
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", False),  # noqa: S104 (an address to judge, not to bind)
        ("::", False),
        ("224.0.0.1", False),  # multicast
        ("ff02::1", False),
        ("240.0.0.1", False),  # reserved
        ("255.255.255.255", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:808:808::", True),  # 6to4 of 8.8.8.8
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),  # Teredo, client 10.0.0.1
    ],
)
def test_which_addresses_are_public(address, public):
    assert outbound.is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("", "bad_url"),
        ("hooks.example.com/in", "bad_url"),
        ("file:///etc/passwd", "bad_url"),
        ("gopher://hooks.example.com/", "bad_url"),
        ("https://", "bad_url"),
        ("https://u:p@hooks.example.com/", "bad_url"),
        ("https://hooks.example.com/#frag", "bad_url"),
        ("https://hooks.example.com:99999/", "bad_url"),
        ("https://hooks.example.com/ space", "bad_url"),
        ("https://hóoks.example.com/", "bad_url"),
        ("https://hooks.example.com/" + "x" * 2000, "bad_url"),
        ("http://hooks.example.com/", "insecure_url"),
        ("https://127.0.0.1/", "private_address"),
        ("https://[::ffff:169.254.169.254]/", "private_address"),
    ],
)
def test_urls_refused_in_production(app, url, code):
    with app.app_context(), pytest.raises(outbound.OutboundRefused) as refused:
        outbound.check_url(url, allow_private=False)
    assert refused.value.code == code and refused.value.message


def test_names_resolving_to_private_addresses_are_refused(app):
    with app.app_context():
        with pytest.raises(outbound.OutboundRefused) as refused:
            outbound.resolve("localhost", 443, allow_private=False)
        assert refused.value.code == "private_address"
        assert outbound.resolve("localhost", 443, allow_private=True)
        with pytest.raises(outbound.OutboundRefused) as missing:
            outbound.resolve("no-such-host.invalid", 443, allow_private=True)
        assert missing.value.code == "dns"


class FakeDns:
    """Names ending in .test resolve as told (a list of answers, one per lookup)."""

    def __init__(self, **answers: list[str]) -> None:
        self.answers = {k.replace("_", "."): list(v) for k, v in answers.items()}
        self.lookups: list[str] = []

    def __call__(self, host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".test"):
            self.lookups.append(host)
            answer = self.answers[host]
            address = answer.pop(0) if len(answer) > 1 else answer[0]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)


def test_the_connection_goes_to_the_address_checked_with_the_name_as_host(app, monkeypatch):
    receiver = Receiver()
    dns = FakeDns(hooks_test=["127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    try:
        with app.app_context():
            answer = outbound.post(
                f"http://hooks.test:{receiver.port}/in?x=1",
                b"{}",
                {"X-Test": "1"},
                timeout=5,
                allow_private=True,
            )
        assert answer.status == 204
        (got,) = receiver.received
        assert got.headers["Host"] == f"hooks.test:{receiver.port}"
        assert got.path == "/in?x=1" and got.headers["X-Test"] == "1"
        assert dns.lookups == ["hooks.test"]
    finally:
        receiver.stop()


def test_dns_answering_differently_after_the_check_cannot_redirect_the_request(app, monkeypatch):
    """Rebinding: public at the check, 127.0.0.1 right after. One lookup is made, and the
    connection goes to the public address it returned: nothing connects to 127.0.0.1."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(3)
    port = listener.getsockname()[1]
    accepted = []

    def accept():
        with contextlib.suppress(OSError):
            accepted.append(listener.accept())

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    dns = FakeDns(rebind_test=["93.184.215.14", "127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    try:
        with app.app_context(), pytest.raises(outbound.OutboundFailed):
            outbound.post(f"https://rebind.test:{port}/", b"{}", {}, timeout=1, allow_private=False)
        thread.join(4)
    finally:
        listener.close()
    assert dns.lookups == ["rebind.test"]
    assert accepted == []


def test_private_answers_are_refused_at_send_time(app, monkeypatch):
    receiver = Receiver()
    monkeypatch.setattr(socket, "getaddrinfo", FakeDns(inside_test=["127.0.0.1"]))
    try:
        with app.app_context(), pytest.raises(outbound.OutboundRefused) as refused:
            outbound.post(
                f"https://inside.test:{receiver.port}/", b"{}", {}, timeout=1, allow_private=False
            )
        assert refused.value.code == "private_address"
        assert receiver.received == []
    finally:
        receiver.stop()


# --- TLS to the checked address, with the name for SNI and the certificate ------------------
def _certificates(tmp_path):
    """A CA and a certificate for hooks.test signed by it; (ca file, cert file, key file)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.test")]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "cert.pem").write_bytes(leaf.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(tmp_path / "ca.pem"), str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")


@pytest.fixture
def https_receiver(tmp_path):
    ca, cert, key = _certificates(tmp_path)
    seen = {"sni": [], "hosts": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen["hosts"].append(self.headers["Host"])
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], ca, seen
    server.shutdown()
    server.server_close()


def test_https_to_the_checked_address_sends_the_name_for_sni_and_checks_it(
    app, monkeypatch, https_receiver
):
    port, ca, seen = https_receiver
    monkeypatch.setattr(
        socket, "getaddrinfo", FakeDns(hooks_test=["127.0.0.1"], other_test=["127.0.0.1"])
    )
    with app.app_context():
        answer = outbound.post(
            f"https://hooks.test:{port}/", b"{}", {}, timeout=5, allow_private=True, ca_certs=ca
        )
        assert answer.status == 200
        assert seen["sni"] == ["hooks.test"] and seen["hosts"] == [f"hooks.test:{port}"]
        with pytest.raises(outbound.OutboundFailed, match="TLS error"):
            outbound.post(
                f"https://other.test:{port}/", b"{}", {}, timeout=5, allow_private=True, ca_certs=ca
            )
        with pytest.raises(outbound.OutboundFailed, match="TLS error"):  # not a public CA
            outbound.post(f"https://hooks.test:{port}/", b"{}", {}, timeout=5, allow_private=True)
    assert seen["hosts"] == [f"hooks.test:{port}"]  # the refused ones sent nothing
