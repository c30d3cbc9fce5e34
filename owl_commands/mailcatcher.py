"""The demo's mail catcher: an SMTP server on loopback that keeps every message as a file.

``owl up`` runs it (``owl demo mail``) at the inventory's ``provider.smtp`` address when that is
a loopback IP address it can listen on, so that the mail the stack sends (the bridge's client
notifications, Alertmanager's email receivers) can be read instead of being refused.

Each message is written to ``STATE/mail/`` as one ``.eml`` file (RFC 5322), named by the time it
was received. The bytes are the message as received, after two header lines that record the SMTP
envelope, named as aiosmtpd's own message handlers name them: ``X-MailFrom`` (the envelope
sender) and ``X-RcptTo`` (the envelope recipients, comma-separated). Headers rather than a
sidecar file: one file is the whole record, it opens in any mail client or in
``email.message_from_bytes``, and the envelope cannot be separated from its message. A message
is first written under a temporary name (``.*.tmp``) and then renamed, so a ``*.eml`` file is
always complete.

Nothing is relayed and no authentication or STARTTLS is offered: an inventory that asks for
them is not one this catcher can stand in for.
"""

from __future__ import annotations

import email
import email.policy
import ipaddress
import os
import re
import secrets
import socket
import tempfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from owl.clock import utc_now
from owl.inventory import Smtp
from owl.ports import split_address
from owl.render.profile import host_port

MAIL_DIR = "mail"
ACCEPTED = "250 2.0.0 Message accepted for delivery"


def mail_folder(state_dir: str | Path) -> Path:
    return Path(state_dir) / MAIL_DIR


def refusal(smtp: Smtp) -> str | None:
    """Why ``owl up`` cannot run the catcher at ``smtp``'s address, or None if it can."""
    try:
        loopback = ipaddress.ip_address(smtp.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return f"{smtp.host} is not a loopback IP address such as 127.0.0.1"
    if smtp.starttls or smtp.username:
        return "the inventory asks for STARTTLS or a login, which the catcher does not offer"
    family = socket.AF_INET6 if ":" in smtp.host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((smtp.host, smtp.port))
        except OSError as exc:
            return f"cannot listen on {host_port(smtp.host, smtp.port)}: {exc.strerror}"
    return None


def free_local_port() -> int:
    """A port of 127.0.0.1 that nobody listens on now (for the catcher's health endpoint)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def save_message(folder: Path, mail_from: str, rcpt_tos: list[str], content: bytes) -> Path:
    """Write one received message, envelope first, atomically; return its file."""
    envelope = f"X-MailFrom: {mail_from}\r\nX-RcptTo: {', '.join(rcpt_tos)}\r\n"
    received = utc_now()
    target = folder / f"{received:%Y%m%dT%H%M%S.%fZ}-{secrets.token_hex(3)}.eml"
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".", suffix=".tmp",
                                     delete=False) as handle:
        handle.write(envelope.encode("utf-8") + content)
    os.replace(handle.name, target)
    return target


# The console's pages an email links to (the on-call emails' "open the incident").
CONSOLE_LINK = re.compile(r"https?://[^\s\"'<>]+/incidents/[^\s\"'<>]+")


@dataclass(frozen=True)
class CaughtMail:
    """What `owl demo inbox` shows of one caught message."""

    name: str  # the file's
    to: str
    subject: str
    links: list[str]  # console links of its text, decoded, in order, once each


def inbox(folder: Path) -> list[CaughtMail]:
    """The messages caught in ``folder``, oldest first, with the console links they hold."""
    caught = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = "\n".join(part.get_content() for part in message.walk()
                         if part.get_content_maintype() == "text")
        links = list(dict.fromkeys(CONSOLE_LINK.findall(text)))
        caught.append(CaughtMail(path.name, message["X-RcptTo"] or "", message["Subject"] or "",
                                 links))
    return caught


class MailFolder:
    """The aiosmtpd handler: every message accepted is saved in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):
        path = save_message(self.folder, envelope.mail_from, list(envelope.rcpt_tos),
                            envelope.original_content)
        print(f"mail from {envelope.mail_from} to {', '.join(envelope.rcpt_tos)}: {path.name}",
              flush=True)
        return ACCEPTED


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):
        found = self.path == "/healthz"
        body = b"ok\n" if found else b"not found\n"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # the readiness polls are not worth a log line
        pass


def serve(smtp_address: str, web_address: str, state_dir: str | Path) -> int:
    """Catch mail on ``smtp_address``, answer ``/healthz`` on ``web_address`` once it does."""
    from aiosmtpd.controller import Controller

    folder = mail_folder(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    host, port = split_address(smtp_address)
    controller = Controller(MailFolder(folder), hostname=host, port=port,
                            server_hostname="owl-mailcatcher")
    controller.start()
    health = ThreadingHTTPServer(split_address(web_address), _Health)
    print(f"mail catcher: SMTP on {smtp_address}, one .eml per message in {folder}/; "
          f"health on http://{web_address}/healthz", flush=True)
    try:
        health.serve_forever()
    finally:
        health.server_close()
        controller.stop()
    return 0
