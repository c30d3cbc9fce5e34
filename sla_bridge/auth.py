"""Bearer tokens: the webhook's and the scrape token (from the environment or a file) and those
of operators and clients (random, shown once, kept only as a SHA-256 digest). Tokens are never
logged."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from owl.clock import utc_now
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Token

OPERATOR, CLIENT, WEBHOOK = "operator", "client", "webhook"
SCRAPE = "scrape"  # Prometheus scraping /metrics: not a principal, see api/ops.py
_PREFIX = {OPERATOR: "owlo_", CLIENT: "owlc_"}


@dataclass(frozen=True)
class Principal:
    kind: str
    name: str
    client: str | None = None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


# The environment variable of each secret the bridge reads at start, beside its file option.
SECRET_VARIABLES = {WEBHOOK: "OWL_WEBHOOK_TOKEN", SCRAPE: "OWL_SCRAPE_TOKEN"}


def read_secret(kind: str, token_file: str | None) -> str | None:
    """The ``kind`` secret (webhook or scrape): its environment variable wins over the file; the
    file holds the token on its first line."""
    token = os.environ.get(SECRET_VARIABLES[kind])
    if token:
        return token.strip()
    if token_file:
        text = Path(token_file).read_text(encoding="utf-8").strip()
        if not text:
            raise ValueError(f"{token_file}: the {kind} token file is empty")
        return text.splitlines()[0].strip()
    return None


def read_webhook_token(token_file: str | None) -> str | None:
    return read_secret(WEBHOOK, token_file)


class TokenStore:
    def __init__(self, db: Database, webhook_token: str | None):
        self.db = db
        self._webhook_digest = digest(webhook_token) if webhook_token else None

    def authenticate(self, token: str | None) -> Principal | None:
        if not token:
            return None
        presented = digest(token)
        if self._webhook_digest and hmac.compare_digest(presented, self._webhook_digest):
            return Principal(WEBHOOK, "alertmanager")
        with self.db.read() as session:
            row = session.scalars(select(Token).where(Token.digest == presented,
                                                      Token.revoked_at.is_(None))).first()
        if row is None:
            return None
        return Principal(row.kind, row.name, row.client)

    def add(self, kind: str, name: str, client: str | None = None,
            now: dt.datetime | None = None) -> str:
        """Create a token and return it: this is the only time it is seen in clear."""
        token = _PREFIX[kind] + secrets.token_urlsafe(32)
        now = now or utc_now()
        with self.db.write() as session:
            session.add(Token(kind=kind, name=name, client=client, digest=digest(token),
                              created_at=now))
        return token

    def revoke(self, kind: str, name: str, now: dt.datetime | None = None) -> int:
        now = now or utc_now()
        with self.db.write() as session:
            rows = session.scalars(select(Token).where(Token.kind == kind, Token.name == name,
                                                       Token.revoked_at.is_(None))).all()
            for row in rows:
                row.revoked_at = now
            return len(rows)
