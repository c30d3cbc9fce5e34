"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it accepts, or refuses on demand;
and an inventory whose provider relays mail through it, with clients that have contacts."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from tests.support.processes import free_port, wait_until

INVENTORY = """
provider:
  name: OWL SYSTEMS
  timezone: Europe/Paris
  smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: monitoring@owl-systems.example{extra}}}
  stack: {{alertmanager: "{alertmanager}"}}
clients:
  - id: acme
    name: ACME SARL
    contract: {{tier: 3, monthly_fee: "1200.00", support_24_7: true, quote: DEV-1,
               start: 2025-01-01}}
    contacts: {{email: [ops@acme.example, boss@acme.example]}}
    sites: [{{id: shop, url: "https://shop.acme.example"}},
            {{id: blog, url: "https://blog.acme.example"}}]
    servers: [{{id: web1, address: 203.0.113.10}}, {{id: db-1, address: 203.0.113.11}}]
  - id: globex
    name: Globex
    contract: {{tier: 1, monthly_fee: "450.00", quote: DEV-2, start: 2025-01-01}}
    contacts: {{email: [it@globex.example]}}
    sites: [{{id: www, url: "https://www.globex.example"}}]
  - id: initech
    name: Initech
    contract: {{tier: 1, monthly_fee: "300.00", quote: DEV-4, start: 2025-01-01,
               status: suspended, suspended_since: 2025-02-01}}
    contacts: {{email: [it@initech.example]}}
    sites: [{{id: portal, url: "https://portal.initech.example"}}]
"""


def notifying_inventory(smtp_port: int, alertmanager: str | None = None, **smtp) -> str:
    """The inventory text; ``alertmanager`` as HOST:PORT (default: a port nobody listens on)."""
    extra = "".join(f", {key}: {value}" for key, value in smtp.items())
    return INVENTORY.format(smtp_port=smtp_port, extra=extra,
                            alertmanager=alertmanager or f"127.0.0.1:{free_port()}")


@dataclass
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Mailbox:
    """The aiosmtpd handler: accepts and keeps each message, unless told to refuse."""

    received: list[ReceivedMail] = field(default_factory=list)
    refusal: str | None = None  # an SMTP reply such as "451 4.3.0 Try again later"

    async def handle_DATA(self, server, session, envelope):
        if self.refusal:
            return self.refusal
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox

    @property
    def received(self) -> list[ReceivedMail]:
        return self.mailbox.received

    def refuse(self, reply: str | None) -> None:
        self.mailbox.refusal = reply

    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedMail]:
        return wait_until(lambda: len(self.received) >= count and self.received, timeout,
                          interval=0.05, message=f"{count} messages received")


@contextmanager
def smtp_server(port: int | None = None, **smtp_options) -> Iterator[SmtpServer]:
    """Run a server for the block; ``smtp_options`` go to aiosmtpd's SMTP (TLS, auth...)."""
    port = port or free_port()
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield SmtpServer(port, mailbox)
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server
