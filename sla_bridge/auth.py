"""Bearer tokens: the webhook's and the scrape token (from the environment or a file) and those
of operators and clients (random, shown once, kept only as a SHA-256 digest and its first
characters). Tokens are never logged.

Operator and client tokens live in the database, so checking one needs it. During an outage
a token that cannot be one of ours (its shape) is refused without asking, and so is a
well-formed one this process never saw valid: 401, as when the database is up. Only a token seen
valid in the last day gets 503, "storage unavailable": that one may well still be valid, and a
401 would make its owner think it revoked. Nothing is ever accepted from memory: while the
database answers, every request reads the token's row, so a revocation counts at the next one
(docs/architecture.md, "Tokens").
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from owl.clock import utc_now
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Token

log = logging.getLogger("owl.bridge")

OPERATOR, CLIENT, WEBHOOK = "operator", "client", "webhook"
SCRAPE = "scrape"  # Prometheus scraping /metrics: not a principal, see api/ops.py
_PREFIX = {OPERATOR: "owlo_", CLIENT: "owlc_"}
# What add() makes: a role's prefix and secrets.token_urlsafe(32), 43 URL-safe base64 characters.
TOKEN_SHAPE = re.compile(r"owl[oc]_[A-Za-z0-9_-]{43}")
# The characters kept in clear to tell tokens apart: the role's prefix and 7 of the 43 random
# ones (42 bits, so two tokens share them with a chance of 1 in 4 * 10**12), leaving 216 random
# bits unknown.
PREFIX_LENGTH = 12
# last_used_at is written at most this often per token and process: a read stays a read.
LAST_USE_EVERY = dt.timedelta(minutes=1)
# How long a token seen valid counts as known (503 rather than 401 during an outage), and how
# many such digests a process keeps at most.
KNOWN_FOR = dt.timedelta(days=1)
KNOWN_AT_MOST = 10_000

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
WEB = "web"  # the key of the pages' CSRF cookie (sla_bridge.web): not a principal either
SECRET_VARIABLES = {WEBHOOK: "OWL_WEBHOOK_TOKEN", SCRAPE: "OWL_SCRAPE_TOKEN", WEB: "OWL_WEB_SECRET"}


def read_secret(kind: str, token_file: str | None) -> str | None:
    """The ``kind`` secret (webhook, scrape or web): its environment variable wins over the file; the
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


class StorageUnavailable(Exception):
    """The database cannot say whether a token this process saw valid recently still is."""


class TokenNotFound(LookupError):
    """No valid token matches what was given."""


class AmbiguousToken(LookupError):
    """Several valid tokens start with the prefix given; ``matches`` lists them."""

    def __init__(self, message: str, matches: list[TokenInfo]):
        super().__init__(message)
        self.matches = matches


@dataclass(frozen=True)
class TokenInfo:
    """What `owl token list` shows of a token: never the token, nor its digest."""

    id: int
    kind: str
    name: str
    client: str | None
    prefix: str | None  # None for a token made before prefixes were kept
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def well_formed(token: str) -> bool:
    """Whether ``token`` has the shape of the tokens :meth:`TokenStore.add` makes."""
    return TOKEN_SHAPE.fullmatch(token) is not None


@dataclass
class _Seen:
    principal: Principal
    valid_at: dt.datetime  # when the database last said the token is valid
    use_recorded_at: dt.datetime  # the last_used_at this process last wrote


class TokenStore:
    def __init__(self, db: Database, webhook_token: str | None,
                 clock: Callable[[], dt.datetime] = utc_now):
        self.db = db
        self.clock = clock
        self._webhook_digest = digest(webhook_token) if webhook_token else None
        self._lock = threading.Lock()
        self._seen: collections.OrderedDict[str, _Seen] = collections.OrderedDict()
        self._uses: dict[str, dt.datetime] = {}  # digest: last use not written yet
        self._recording = False

    def authenticate(self, token: str | None) -> Principal | None:
        """Who ``token`` is, or None. :class:`StorageUnavailable` when the database cannot
        answer for a token seen valid in the last :data:`KNOWN_FOR`."""
        if not token:
            return None
        presented = digest(token)
        if self._webhook_digest and hmac.compare_digest(presented, self._webhook_digest):
            return Principal(WEBHOOK, "alertmanager")
        if not well_formed(token):
            return None
        try:
            with self.db.read() as session:
                row = session.scalars(select(Token).where(Token.digest == presented)).first()
        except SQLAlchemyError as exc:
            return self._unanswered(presented, exc)
        if row is None or row.revoked_at is not None:
            with self._lock:
                self._seen.pop(presented, None)
            return None
        principal = Principal(row.kind, row.name, row.client)
        self._seen_valid(presented, principal)
        return principal

    def _unanswered(self, presented: str, exc: SQLAlchemyError) -> None:
        """A 401 for a token never seen valid, since nothing says it is; else a 503."""
        with self._lock:
            seen = self._seen.get(presented)
        if seen is None or self.clock() - seen.valid_at > KNOWN_FOR:
            log.warning("storage unavailable (%s): a token not seen valid recently is refused",
                        exc.__class__.__name__)
            return None
        log.error("storage unavailable (%s): 503 to a token seen valid", exc.__class__.__name__)
        raise StorageUnavailable("storage is unavailable; retry later") from exc

    def _seen_valid(self, presented: str, principal: Principal) -> None:
        now = self.clock()
        with self._lock:
            seen = self._seen.pop(presented, None)
            due = seen is None or now - seen.use_recorded_at >= LAST_USE_EVERY
            self._seen[presented] = _Seen(principal, now, now if due else seen.use_recorded_at)
            while len(self._seen) > KNOWN_AT_MOST:
                self._seen.popitem(last=False)
            if not due:
                return
            self._uses[presented] = now
            if self._recording:
                return  # the running recorder takes it
            self._recording = True
        threading.Thread(target=self._record_uses, name="owl-token-last-use",
                         daemon=True).start()

    def _record_uses(self) -> None:
        """Write the pending last uses, in transactions of their own, until none is left.

        In a thread so that no request waits for a write (on SQLite it queues behind
        deliveries); a failure is logged and costs nothing but that minute's last use.
        """
        while True:
            with self._lock:
                uses, self._uses = self._uses, {}
                if not uses:
                    self._recording = False
                    return
            try:
                self._write_uses(uses)
            except SQLAlchemyError as exc:
                log.warning("last use of %d token(s) not recorded: %s", len(uses),
                            exc.__class__.__name__)

    def _write_uses(self, uses: dict[str, dt.datetime]) -> None:
        with self.db.write() as session:
            for presented, at in uses.items():
                # never back in time: another replica may have written a later use
                session.execute(update(Token).where(
                    Token.digest == presented,
                    or_(Token.last_used_at.is_(None), Token.last_used_at < at),
                ).values(last_used_at=at))

    def add(self, kind: str, name: str, client: str | None = None,
            now: dt.datetime | None = None) -> str:
        """Create a token and return it: this is the only time it is seen in clear."""
        token = _PREFIX[kind] + secrets.token_urlsafe(32)
        now = now or self.clock()
        with self.db.write() as session:
            session.add(Token(kind=kind, name=name, client=client, digest=digest(token),
                              prefix=token[:PREFIX_LENGTH], created_at=now))
        return token

    def list_tokens(self, include_revoked: bool = False) -> list[TokenInfo]:
        """Operator and client tokens, oldest first; the revoked ones too if asked."""
        query = select(Token).order_by(Token.created_at, Token.id)
        if not include_revoked:
            query = query.where(Token.revoked_at.is_(None))
        with self.db.read() as session:
            return [_info(row) for row in session.scalars(query)]

    def revoke(self, kind: str, name: str, now: dt.datetime | None = None) -> int:
        """Revoke every valid ``kind`` token of ``name``; how many there were."""
        now = now or self.clock()
        with self.db.write() as session:
            rows = session.scalars(select(Token).where(Token.kind == kind, Token.name == name,
                                                       Token.revoked_at.is_(None))).all()
            for row in rows:
                row.revoked_at = now
            return len(rows)

    def revoke_one(self, given: str, now: dt.datetime | None = None) -> TokenInfo:
        """Revoke the one valid token that ``given`` designates: a whole token, or the start
        of its prefix as `owl token list` shows it (at most :data:`PREFIX_LENGTH` characters).

        :class:`TokenNotFound` when none does, :class:`AmbiguousToken` when several do: then
        nothing is revoked.
        """
        now = now or self.clock()
        with self.db.write() as session:
            valid = select(Token).where(Token.revoked_at.is_(None))
            if well_formed(given):
                rows = session.scalars(valid.where(Token.digest == digest(given))).all()
            else:
                rows = session.scalars(valid.where(Token.prefix.is_not(None))).all()
                rows = [row for row in rows if row.prefix.startswith(_prefix_given(given))]
            if not rows:
                raise TokenNotFound(f"no valid token starts with {given!r}")
            if len(rows) > 1:
                raise AmbiguousToken(f"{len(rows)} valid tokens start with {given!r}: give more "
                                     "of the prefix, or revoke them by name",
                                     [_info(row) for row in rows])
            [row] = rows
            row.revoked_at = now
            return _info(row)


def _prefix_given(given: str) -> str:
    """``given`` as the start of a stored prefix: a role's prefix and up to 7 characters."""
    if not given.startswith(tuple(_PREFIX.values())):
        raise TokenNotFound(f"{given!r} is not the start of a token: tokens start with "
                            f"{' or '.join(_PREFIX.values())}")
    if len(given) > PREFIX_LENGTH:
        raise TokenNotFound(f"{given!r} is longer than the {PREFIX_LENGTH} characters kept of a "
                            "token and is not a whole token")
    return given


def _info(row: Token) -> TokenInfo:
    return TokenInfo(row.id, row.kind, row.name, row.client, row.prefix, row.created_at,
                     row.last_used_at, row.revoked_at)
