"""Connections, transactions and migrations, for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sla_bridge.storage import lock_classes

log = logging.getLogger("owl.bridge")

# The lock replicas take turns under to migrate (class and key of a two-key advisory lock).
MIGRATION_LOCK = (lock_classes.MIGRATION, 0)
# While the database is unreachable, retries come after 1, 2, 4 s, then every RETRY_MAX_SECONDS.
RETRY_MAX_SECONDS = 5.0


class DatabaseUnreachable(Exception):
    """The database did not answer within the time given to wait for it."""


class Database:
    """One engine and its sessions. ``write()`` serializes writers on SQLite.

    SQLite runs in WAL mode so readers never wait for the writer; writers take the lock up front
    (``BEGIN IMMEDIATE``) so two writers never deadlock on a lock upgrade. Within one process
    they also queue on a lock of ours: SQLite's busy handler sleeps and polls, so under a storm
    the database lock would sit free while some writers lose the race for seconds.
    PostgreSQL uses its own row locks and the advisory locks taken by the service.
    """

    def __init__(self, url: str, scratch: bool = False, **engine_options):
        """``scratch``: an SQLite file thrown away after use (a replay's): no journal on disk,
        no waiting for the disk at commit, since a crash loses nothing worth keeping."""
        self.url = url
        self.engine = _create_engine(url, scratch, **engine_options)
        self.dialect = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = threading.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits when the block ends, and rolls back on any error."""
        with self._writer, self._sessions() as session:
            session.connection(execution_options={"owl_write": True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    @property
    def safe_url(self) -> str:
        """The URL without its password, for logs and messages."""
        return self.engine.url.render_as_string(hide_password=True)

    def wait_until_reachable(self, timeout: float) -> None:
        """Return once the database answers, retrying with a log line for up to ``timeout``
        seconds; then raise :class:`DatabaseUnreachable`.

        A bridge may start before its database server (a host's boot, a failover, a container
        started first) and should not exit for it. An SQLite file is local: only a lock is
        worth waiting for (another bridge starting on the same new file holds it while it turns
        on WAL mode or migrates, and SQLite answers "locked" at once where waiting could
        deadlock); a file that cannot be opened fails at once.
        """
        deadline = time.monotonic() + timeout
        delay = 1.0
        while True:
            try:
                self.ping()
                return
            except OperationalError as exc:
                reason = _first_line(exc)
            remaining = deadline - time.monotonic()
            if self.dialect == "sqlite" and "database is locked" not in reason:
                remaining = 0
            if remaining <= 0:
                waited = f" (waited {timeout:g}s)" if timeout else ""
                raise DatabaseUnreachable(
                    f"database unreachable at {self.safe_url}{waited}: {reason}")
            pause = min(delay, remaining)
            log.warning("database unreachable at %s (%s), retrying in %.0fs",
                        self.safe_url, reason, pause)
            time.sleep(pause)
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    def upgrade(self) -> None:
        """Bring the schema to the latest migration (creates it on an empty database).

        Replicas starting together take turns, or both would create the tables and one fail:
        on PostgreSQL under an advisory lock held by the migration's session, on SQLite in one
        ``BEGIN IMMEDIATE`` transaction. The next one finds the schema current.
        """
        with self.engine.connect() as connection, _migration_lock(connection):
            with connection.execution_options(owl_write=True).begin():
                config = _alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")

    def is_current(self) -> bool:
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
        head = ScriptDirectory.from_config(_alembic_config()).get_heads()
        return set(current) == set(head)

    def dispose(self) -> None:
        self.engine.dispose()


@contextlib.contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    """Hold :data:`MIGRATION_LOCK` on PostgreSQL for the block, at the session's level so that
    it outlives the transactions in it."""
    if connection.dialect.name != "postgresql":
        yield
        return
    keys = dict(zip(("lock_class", "key"), MIGRATION_LOCK))
    connection.execute(_LOCK_SESSION, keys)
    connection.commit()
    try:
        yield
    except BaseException:
        connection.invalidate()  # ending the session releases its lock, whatever state it is in
        raise
    connection.execute(_UNLOCK_SESSION, keys)
    connection.commit()


_LOCK_SESSION = text("SELECT pg_advisory_lock(CAST(:lock_class AS integer), "
                     "CAST(:key AS integer))")
_UNLOCK_SESSION = text("SELECT pg_advisory_unlock(CAST(:lock_class AS integer), "
                       "CAST(:key AS integer))")


def _first_line(exc: OperationalError) -> str:
    """The driver's reason, without SQLAlchemy's statement and link."""
    message = str(exc.orig if exc.orig is not None else exc).strip()
    return message.splitlines()[0] if message else exc.__class__.__name__


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location",
                           str(resources.files("sla_bridge") / "migrations"))
    return config


CONNECT_TIMEOUT_SECONDS = 10


def _create_engine(url: str, scratch: bool = False, **options) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # one connection per WSGI thread (waitress runs 16) plus the scheduled jobs
    options = {"pool_size": 20, "max_overflow": 10, **options}
    if not url.startswith("sqlite"):
        # a server that never answers fails a connection in seconds, not at the TCP timeout,
        # so the start-up wait and /healthz see it (libpq's connect_timeout, unless the URL sets it)
        connect_args = {} if "connect_timeout" in make_url(url).query else {
            "connect_timeout": CONNECT_TIMEOUT_SECONDS}
        return create_engine(url, pool_recycle=1800, connect_args=connect_args, **options)
    if url in ("sqlite://", "sqlite:///:memory:"):
        raise ValueError("an in-memory SQLite database cannot be shared by the bridge's "
                         "threads: give a file, sqlite:///PATH")
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                           **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=MEMORY" if scratch else "PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=OFF" if scratch else "PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        immediate = connection.get_execution_options().get("owl_write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
