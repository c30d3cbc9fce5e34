"""The health probe: a real write, so that ``/healthz`` and ``/readyz`` tell whether the bridge
can store what Alertmanager sends.

A ``SELECT 1`` answers on a full disk, a read-only database or a table the bridge may no longer
write: every delivery then fails while the health check says ok. The probe upserts one row of
``probes`` (``name="healthz"``) through :meth:`Database.write`, the path every delivery takes,
and checks the schema against the migrations this code carries.

A small write can succeed where a delivery fails: on a full disk, SQLite reuses the space its
write-ahead log already holds, enough for the probe's one row, not for a delivery's incident,
events and indexes. So the probe also keeps the result of the bridge's own writes: when the last
of them failed on storage, less than ``RECENT_FAILURE_SECONDS`` ago, the writes are failing
whatever the probe found. Errors of the data written (a constraint, a value too long) are not
storage failures.

Load balancers and healthchecks poll often, and a write per poll would become write load (on
SQLite, each one takes the writer lock deliveries queue on). :class:`HealthProbe` writes at most
once per ``interval`` and answers with the last result in between. A caller never waits for
another's probe: a probe that hangs (a lock held on the table, a database server that stopped
answering) would otherwise hold every polling thread, and the WSGI threads deliveries need. Once a
probe has been running for ``stall_after`` seconds, callers are told the writes stall.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InternalError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import Session

from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Probe

log = logging.getLogger("owl.bridge")

HEALTHZ = "healthz"
INTERVAL_SECONDS = 5.0  # at most one probe write per interval, whoever polls
STALL_SECONDS = 10.0  # a probe write still running after this: the writes stall
# A write of the bridge that failed on storage this recently: the writes are failing. Longer
# than the longest interval between Alertmanager's retries of a delivery (its backoff's maximum,
# one minute), so a delivery that fails at each retry keeps the writes failing.
RECENT_FAILURE_SECONDS = 90.0
# What the storage raises when it cannot write: disk full, lost connection, lock timeout
# (OperationalError), read-only transaction (InternalError), privilege revoked (ProgrammingError).
STORAGE_FAILURES = (OperationalError, InternalError, ProgrammingError)

OK, FAILING, STALLED = "ok", "failing", "stalled"
REACHABLE, UNREACHABLE = "reachable", "unreachable"
CURRENT, NOT_CURRENT, UNKNOWN = "current", "not current", "unknown"


def record_probe(session: Session, name: str, at: dt.datetime) -> None:
    """Upsert the probe row ``name`` with the time ``at``: one statement, no read first, so two
    replicas probing at once do not collide on the primary key."""
    insert = (postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert)
    statement = insert(Probe).values(name=name, at=at)
    session.execute(statement.on_conflict_do_update(index_elements=[Probe.name],
                                                    set_={"at": statement.excluded.at}))


@dataclass(frozen=True)
class Health:
    """What the last probe found."""

    database: str  # reachable | unreachable
    writes: str  # ok | failing | stalled
    schema: str  # current | not current | unknown (the database did not answer)
    checked_at: float  # time.monotonic() of the probe

    @property
    def healthy(self) -> bool:
        """The bridge can store deliveries."""
        return self.database == REACHABLE and self.writes == OK

    @property
    def ready(self) -> bool:
        """Healthy, and running on the schema its code was written for."""
        return self.healthy and self.schema == CURRENT


class HealthProbe:
    """Rate-limited write probe of ``db``; ``clock`` gives the time written in the row."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime],
                 interval: float = INTERVAL_SECONDS, stall_after: float = STALL_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic):
        self.db, self.clock = db, clock
        self.interval, self.stall_after, self.monotonic = interval, stall_after, monotonic
        self._lock = threading.Lock()
        self._last: Health | None = None
        self._probing_since: float | None = None
        # the bridge's own writes, not the probe's: the last commit tried, the last failure
        self._write_committed_at: float | None = None
        self._write_failed_at: float | None = None
        self._in_probe = threading.local()
        event.listen(db.engine, "commit", self._on_commit)
        event.listen(db.engine, "handle_error", self._on_error)

    def _bridge_write(self, connection) -> bool:
        return (not getattr(self._in_probe, "active", False) and connection is not None
                and bool(connection.get_execution_options().get("owl_write")))

    def _on_commit(self, connection) -> None:
        """Before a commit: if it fails, :meth:`_on_error` comes after and wins."""
        if self._bridge_write(connection):
            self._write_committed_at = self.monotonic()

    def _on_error(self, context) -> None:
        if (self._bridge_write(context.connection)
                and isinstance(context.sqlalchemy_exception, STORAGE_FAILURES)):
            self._write_failed_at = self.monotonic()

    def check(self) -> Health:
        """The last result if it is recent, else a new probe; never waits for another's."""
        last = self._last
        if last is not None and self.monotonic() - last.checked_at < self.interval:
            return last
        if self._lock.acquire(blocking=False):
            try:
                return self._probe_now()
            finally:
                self._lock.release()
        return self._while_another_probes()

    def _while_another_probes(self) -> Health:
        since = self._probing_since
        now = self.monotonic()
        stalled = since is not None and now - since >= self.stall_after
        if self._last is not None and not stalled:
            return self._last
        if not stalled and since is not None:
            # the first probe of this process: nothing to answer with yet, so wait for it, no
            # longer than until it counts as stalled
            if self._lock.acquire(timeout=max(0.0, since + self.stall_after - now)):
                self._lock.release()
                if self._last is not None:
                    return self._last
        return Health(REACHABLE, STALLED, UNKNOWN, now)

    def _probe_now(self) -> Health:
        last = self._last  # another thread may have probed while this one reached the lock
        if last is not None and self.monotonic() - last.checked_at < self.interval:
            return last
        self._probing_since = self.monotonic()
        try:
            health = self._probe()
        finally:
            self._probing_since = None
        self._log_change(self._last, health)
        self._last = health
        return health

    def _probe(self) -> Health:
        self._in_probe.active = True
        try:
            with self.db.write() as session:
                record_probe(session, HEALTHZ, self.clock())
            writes = FAILING if self._recent_write_failure() else OK
        except SQLAlchemyError as exc:
            if self._last is None or self._last.writes == OK:  # once per outage, not per probe
                log.warning("health probe: the write failed: %s", _reason(exc))
            writes = FAILING
        finally:
            self._in_probe.active = False
        try:
            schema = CURRENT if self.db.is_current() else NOT_CURRENT
            database = REACHABLE
        except SQLAlchemyError:
            schema, database = UNKNOWN, UNREACHABLE
        return Health(database, writes, schema, self.monotonic())

    def _recent_write_failure(self) -> bool:
        """The bridge's last write failed on storage, not long ago."""
        failed, committed = self._write_failed_at, self._write_committed_at
        return (failed is not None and self.monotonic() - failed < RECENT_FAILURE_SECONDS
                and (committed is None or failed >= committed))

    @staticmethod
    def _log_change(before: Health | None, after: Health) -> None:
        if before is not None and before.ready == after.ready:
            return
        if after.ready:
            if before is not None:
                log.info("health probe: writes work again")
        else:
            log.error("health probe: not ready (database %s, writes %s, schema %s)",
                      after.database, after.writes, after.schema)


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's one-line message (never the statement's parameters)."""
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc.__class__.__name__).split())[:300]
