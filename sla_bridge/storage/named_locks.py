"""Locks on a name, held across work done outside the database.

Announcing a maintenance window calls Alertmanager before it writes, and an ``Idempotency-Key``
must be looked up before the request it guards runs; two identical requests at once must take
turns through both. A database transaction cannot be held open for that on SQLite, where it
would keep every other writer (the webhook included) waiting on Alertmanager. So:

- on PostgreSQL, a session-level advisory lock (``pg_advisory_lock``) on a connection of its own,
  so that replicas take turns; the lock ends with the block, or with the connection if the
  process dies;
- on SQLite, a lock of the process: only processes on the same host share the file, and the
  callers check again inside their ``BEGIN IMMEDIATE`` transaction for what another process may
  have written meanwhile.

A name is hashed into one of 2**32 keys (one of :data:`STRIPES` locks on SQLite): two names that
share one wait for each other, which costs a wait, never an error.
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterator

from sqlalchemy import text

from sla_bridge.storage.database import Database

STRIPES = 64
_LOCK = text("SELECT pg_advisory_lock(CAST(:lock_class AS integer), CAST(:key AS integer))")
_UNLOCK = text("SELECT pg_advisory_unlock(CAST(:lock_class AS integer), CAST(:key AS integer))")
_local: dict[tuple[int, int], threading.Lock] = {}
_local_guard = threading.Lock()


@contextlib.contextmanager
def held(db: Database, lock_class: int, name: str) -> Iterator[None]:
    """Hold the lock of ``name`` in ``lock_class`` (the first key of PostgreSQL's two-key
    advisory locks) for the block."""
    key = zlib.crc32(name.encode("utf-8", "surrogatepass")) - 2**31  # PostgreSQL's integer
    if db.dialect != "postgresql":
        with _local_lock(lock_class, key % STRIPES):
            yield
        return
    keys = {"lock_class": lock_class, "key": key}
    with db.engine.connect() as connection:
        connection.execute(_LOCK, keys)
        connection.commit()
        try:
            yield
        finally:
            _unlock(connection, keys)


def _unlock(connection, keys: dict) -> None:
    try:
        connection.execute(_UNLOCK, keys)
        connection.commit()
    except Exception:
        connection.invalidate()  # ending the session releases its lock, whatever its state


def _local_lock(lock_class: int, stripe: int) -> threading.Lock:
    with _local_guard:
        return _local.setdefault((lock_class, stripe), threading.Lock())
