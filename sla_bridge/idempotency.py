"""Idempotency keys: the first answer to an operator's write, given again to its retries.

An operator's client that sends ``Idempotency-Key`` with a write (draft-ietf-httpapi-idempotency-
key-header) can send the same request again after a timeout or a crash, and get the first answer
back without the write happening twice. The answer (status and JSON body) is stored in
``idempotency_keys`` under the principal and the key, with a digest of the request (method, path,
body), in the same transaction as the write where the write lets the caller in (announcing a
maintenance window), else in one of its own right after (an incident's acknowledgement,
exclusion and its withdrawal: these change nothing when repeated, so a retry that finds no
answer because the process stopped between the two transactions repeats nothing).

Where the bridge follows the draft, and where it differs:

- The key is the draft's Structured Field string (``"8e03978e-…"``, quotes included); a bare
  value is accepted too, as most clients send one. It is 1 to 255 characters among letters,
  digits and ``- _ . : ~ + / =`` (UUIDs, ULIDs, base64), anything else a 400.
- Keys are per principal: two operators' same key are two keys.
- The same key with another request (method, path or body, byte for byte) is a 422.
- Only successes (2xx) are stored. A refusal or a failure wrote nothing; the retry is decided
  again (the draft replays errors too), which is what a client retrying a 503 wants.
- A retry that arrives while the first request is still running waits for it, then gets its
  answer, instead of the draft's 409: the wait is bounded by the request's own timeouts
  (Alertmanager's, the database's).
- Keys expire after :data:`TTL` (24 hours): an expired key is a new key. Expired answers are
  deleted after each answer stored, in a transaction of their own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sla_bridge.storage import lock_classes, named_locks
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import IdempotencyKey

log = logging.getLogger("owl.bridge.idempotency")

HEADER = "Idempotency-Key"
TTL = dt.timedelta(hours=24)
MAX_LENGTH = 255  # the column's
KEY = re.compile(r"[A-Za-z0-9._:~+/=-]+")
IDEMPOTENCY_LOCKS = lock_classes.IDEMPOTENCY_KEYS  # requests with the same key take turns


class InvalidKey(ValueError):
    """The header's value is not a key the bridge keeps."""


class KeyReused(ValueError):
    """The key was used for another request."""


def parse_key(raw: str) -> str:
    """The key in the header's value: a Structured Field string, or the bare value."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value:
        raise InvalidKey("the key is empty")
    if len(value) > MAX_LENGTH:
        raise InvalidKey(f"the key has {len(value)} characters; at most {MAX_LENGTH}")
    if not KEY.fullmatch(value):
        raise InvalidKey("the key may hold letters, digits and - _ . : ~ + / = only")
    return value


def request_digest(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode("utf-8", "surrogateescape"), body):
        digest.update(len(part).to_bytes(8, "big"))  # so that no two requests run together
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict


@dataclass
class Claim:
    """A request under a key that has no answer yet; ``record`` stores its answer."""

    keys: IdempotencyKeys
    principal: str
    key: str
    request: str
    recorded: bool = False

    def record(self, session: Session, status: int, body: dict) -> None:
        """Store the answer in the caller's transaction (the write's, where it can)."""
        now = self.keys.clock()
        session.execute(delete(IdempotencyKey).where(  # the same key, expired
            IdempotencyKey.principal == self.principal, IdempotencyKey.key == self.key,
            IdempotencyKey.created_at <= now - self.keys.ttl))
        session.add(IdempotencyKey(principal=self.principal, key=self.key, request=self.request,
                                   status=status, body=body, created_at=now))
        session.flush()
        self.recorded = True


class IdempotencyKeys:
    def __init__(self, db: Database, clock: Callable[[], dt.datetime], ttl: dt.timedelta = TTL):
        self.db = db
        self.clock = clock
        self.ttl = ttl

    @contextlib.contextmanager
    def claim(self, principal: str, key: str, request: str) -> Iterator[Answer | Claim]:
        """The stored answer to the key, or a claim on it, held for the block: a second request
        with the same key waits for the first to end, then finds its answer.

        Raise :class:`KeyReused` if the key answered another request.
        """
        with named_locks.held(self.db, IDEMPOTENCY_LOCKS, f"{principal}\n{key}"):
            answer = self._answer(principal, key, request)
            yield answer if answer is not None else Claim(self, principal, key, request)

    def _answer(self, principal: str, key: str, request: str) -> Answer | None:
        with self.db.read() as session:
            row = session.scalars(select(IdempotencyKey).where(
                IdempotencyKey.principal == principal, IdempotencyKey.key == key,
                IdempotencyKey.created_at > self.clock() - self.ttl)).one_or_none()
        if row is None:
            return None
        if row.request != request:
            raise KeyReused(f"this key was used {_age(self.clock() - row.created_at)} ago for "
                            "another request (method, path or body); use a new key")
        return Answer(row.status, row.body)

    def record_alone(self, claim: Claim, status: int, body: dict) -> None:
        """Store the answer of a write done in a transaction the caller could not enter."""
        with self.db.write() as session:
            claim.record(session, status, body)

    def purge(self) -> int:
        """Delete the expired answers; return how many."""
        with self.db.write() as session:
            return session.execute(delete(IdempotencyKey).where(
                IdempotencyKey.created_at <= self.clock() - self.ttl)).rowcount

    def purge_quietly(self) -> None:
        """:meth:`purge`, after an answer is given: a failure is logged, and retried next time."""
        try:
            self.purge()
        except SQLAlchemyError as exc:
            log.warning("expired idempotency keys not purged: %s", exc.__class__.__name__)


def _age(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
