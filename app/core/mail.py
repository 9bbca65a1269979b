"""Outgoing e-mail through a pluggable sender chosen by `MAIL_BACKEND`.

`outbox` (the default outside production) writes each message as an `.eml` file to the
outbox folder (`instance/outbox/`), where developers and tests read it; `smtp` hands it to
the configured server. Messages can carry secrets (invitation links): they are never
logged, and outbox files are readable by their owner only.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app

from app.models import utcnow

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The message could not be handed over; the text says so without its content."""


def build_message(to: str, subject: str, body: str) -> EmailMessage:
    cfg = current_app.config
    msg = EmailMessage()
    msg["From"] = cfg["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="portal.invalid")
    # Plain ASCII stays readable as is in the outbox files (links are not wrapped).
    msg.set_content(body, cte="7bit" if body.isascii() else "quoted-printable")
    return msg


def outbox_dir() -> str:
    return current_app.config["MAIL_OUTBOX_DIR"] or os.path.join(
        current_app.instance_path, "outbox"
    )


def _send_outbox(msg: EmailMessage) -> None:
    folder = outbox_dir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(msg.as_bytes())


def _send_smtp(msg: EmailMessage) -> None:
    cfg = current_app.config
    host, port, timeout = cfg["SMTP_HOST"], cfg["SMTP_PORT"], cfg["SMTP_TIMEOUT_SECONDS"]
    security = cfg["SMTP_SECURITY"]
    context = ssl.create_default_context()
    try:
        if security == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=timeout)
        with server:
            if security == "starttls":
                server.starttls(context=context)
            if cfg["SMTP_USERNAME"]:
                server.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"] or "")
            server.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        # The exception text may quote the server, never the message; keep only its kind.
        log.warning("SMTP delivery to %s:%s failed: %s", host, port, type(exc).__name__)
        raise MailError("The mail server did not accept the message.") from None


BACKENDS: dict[str, Callable[[EmailMessage], None]] = {
    "outbox": _send_outbox,
    "smtp": _send_smtp,
}


def send(to: str, subject: str, body: str) -> None:
    """Send a plain-text message, or raise MailError."""
    msg = build_message(to, subject, body)
    BACKENDS[current_app.config["MAIL_BACKEND"]](msg)
