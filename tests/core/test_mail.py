"""Outgoing mail: the outbox (default) and SMTP backends."""

from __future__ import annotations

import os
import socketserver
import stat
import threading

import pytest

from app.config import ConfigError, load_config
from app.core import mail


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough of an SMTP server to receive one message."""

    def _say(self, line: bytes) -> None:
        self.wfile.write(line + b"\r\n")

    def handle(self):
        self._say(b"220 test.invalid ESMTP")
        receiving, lines = False, []
        while line := self.rfile.readline():
            if receiving:
                if line.rstrip(b"\r\n") == b".":
                    self.server.messages.append(b"".join(lines))
                    receiving, lines = False, []
                    self._say(b"250 queued")
                else:
                    lines.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                self._say(b"250-test.invalid")
                self._say(b"250 AUTH PLAIN LOGIN")
            elif verb == b"AUTH":
                self.server.logins.append(line)
                self._say(b"235 accepted")
            elif verb == b"DATA":
                receiving = True
                self._say(b"354 go ahead")
            elif verb == b"QUIT":
                self._say(b"221 bye")
                return
            else:
                self._say(b"250 ok")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    server.messages, server.logins = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_outbox_keeps_each_message_as_an_eml_file_only_its_owner_can_read(app, outbox):
    with app.app_context():
        mail.send("ada@example.com", "Hello", "Line one\nLine two")
    [msg] = outbox.messages("ada@example.com")
    assert msg["Subject"] == "Hello"
    assert msg["From"] == app.config["MAIL_FROM"]
    assert "Line two" in outbox.last_body("ada@example.com")
    [name] = os.listdir(outbox.folder)
    assert name.endswith(".eml")
    assert stat.S_IMODE(os.stat(os.path.join(outbox.folder, name)).st_mode) == 0o600


def test_smtp_backend_hands_the_message_to_the_server(app, smtp_server, monkeypatch, outbox):
    port = smtp_server.server_address[1]
    for key, value in {
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "SMTP_USERNAME": "portal",
        "SMTP_PASSWORD": "smtp-password",
    }.items():
        monkeypatch.setitem(app.config, key, value)
    with app.app_context():
        mail.send("bob@example.com", "Invitation", "Join us")
    [raw] = smtp_server.messages
    assert b"Subject: Invitation" in raw and b"Join us" in raw
    assert len(smtp_server.logins) == 1
    assert outbox.messages() == []


def test_unreachable_smtp_server_is_a_mail_error_without_details(app, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", 9)  # discard: nobody listens
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT_SECONDS", 2)
    with app.app_context(), pytest.raises(mail.MailError) as exc:
        mail.send("bob@example.com", "Secret link", "https://portal/invite/SECRET-TOKEN")
    assert "SECRET-TOKEN" not in str(exc.value)
    assert "SECRET-TOKEN" not in caplog.text


def test_production_sends_by_smtp_and_refuses_clear_text_credentials():
    base = {"SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql://x/y", "REDIS_URL": "redis://x"}
    assert load_config("production", env=base).MAIL_BACKEND == "smtp"
    assert load_config("development", env={}).MAIL_BACKEND == "outbox"
    with pytest.raises(ConfigError, match="clear text"):
        load_config(
            "production",
            env={**base, "SMTP_HOST": "mail.example.com", "SMTP_USERNAME": "portal"},
        )
    ok = load_config(
        "production",
        env={
            **base,
            "SMTP_HOST": "mail.example.com",
            "SMTP_USERNAME": "portal",
            "SMTP_SECURITY": "starttls",
            "SMTP_PORT": "587",
        },
    )
    assert ok.SMTP_PORT == 587
    with pytest.raises(ConfigError, match="MAIL_BACKEND"):
        load_config("development", env={"MAIL_BACKEND": "carrier-pigeon"})


def test_links_stay_unwrapped_and_non_ascii_text_survives(app, outbox):
    link = "http://127.0.0.1:5000/invitations/" + "x" * 43
    with app.app_context():
        mail.send("ada@example.com", "Ascii", f"Open:\n    {link}\n")
        mail.send("bob@example.com", "Zürich", "Willkommen bei Zürich AG")
    first = os.path.join(outbox.folder, sorted(os.listdir(outbox.folder))[0])
    with open(first, "rb") as fh:
        raw = fh.read()
    assert link.encode() in raw  # readable in the file, not quoted-printable wrapped
    assert outbox.last_body("bob@example.com").strip() == "Willkommen bei Zürich AG"
    assert outbox.messages("bob@example.com")[0]["Subject"] == "Zürich"
