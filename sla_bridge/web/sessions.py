"""Signed-in browsers: the console's and the portal's sessions, checked by the server.

Signing in with an operator or client token opens a session; the browser's cookie carries a
random secret that only its SHA-256 digest in ``web_sessions`` matches. Every request reads the
session with its token, so signing out, expiry and the token's revocation count at the next
request: nothing is trusted from the cookie alone.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from sla_bridge.auth import CLIENT, OPERATOR, Principal, digest
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Token, WebSession

SIGNED_IN_KINDS = (OPERATOR, CLIENT)


@dataclass(frozen=True)
class Lifetimes:
    """How long a session lasts: ``default``, or ``remembered`` when the device is remembered."""

    default: dt.timedelta = dt.timedelta(hours=12)
    remembered: dt.timedelta = dt.timedelta(days=30)

    def of(self, remember: bool) -> dt.timedelta:
        return self.remembered if remember else self.default


class WebSessions:
    def __init__(self, db: Database, clock: Callable[[], dt.datetime], lifetimes: Lifetimes):
        self.db = db
        self.clock = clock
        self.lifetimes = lifetimes

    def open(self, token: str, remember: bool) -> str | None:
        """A new session for a valid operator or client ``token``: the secret its cookie
        carries (never stored); None for any other token."""
        now = self.clock()
        secret = secrets.token_urlsafe(32)
        with self.db.write() as session:
            row = session.scalars(select(Token).where(
                Token.digest == digest(token), Token.revoked_at.is_(None),
                Token.kind.in_(SIGNED_IN_KINDS))).first()
            if row is None:
                return None
            session.add(WebSession(digest=digest(secret), token_id=row.id, created_at=now,
                                   expires_at=now + self.lifetimes.of(remember)))
        return secret

    def principal(self, secret: str | None) -> Principal | None:
        """Who the session of ``secret`` is, if it is still valid."""
        if not secret:
            return None
        with self.db.read() as session:
            row = session.execute(
                select(Token.kind, Token.name, Token.client)
                .join(WebSession, WebSession.token_id == Token.id)
                .where(WebSession.digest == digest(secret), WebSession.ended_at.is_(None),
                       WebSession.expires_at > self.clock(), Token.revoked_at.is_(None))
            ).first()
        return Principal(row.kind, row.name, row.client) if row else None

    def end(self, secret: str | None) -> None:
        """Sign out: the session of ``secret`` is valid no more (nothing if there is none)."""
        if not secret:
            return
        with self.db.write() as session:
            session.execute(update(WebSession).where(
                WebSession.digest == digest(secret), WebSession.ended_at.is_(None),
            ).values(ended_at=self.clock()))

    def purge(self, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
        """Delete sessions expired or ended more than ``older_than`` ago; how many."""
        cutoff = self.clock() - older_than
        with self.db.write() as session:
            result = session.execute(delete(WebSession).where(
                (WebSession.expires_at < cutoff) | (WebSession.ended_at < cutoff)))
            return result.rowcount or 0
