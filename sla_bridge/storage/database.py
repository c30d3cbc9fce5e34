"""Connections, transactions and migrations, for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


class Database:
    """One engine and its sessions. ``write()`` serializes writers on SQLite.

    SQLite runs in WAL mode so readers never wait for the writer; writers take the lock up front
    (``BEGIN IMMEDIATE``) so two writers never deadlock on a lock upgrade. Within one process
    they also queue on a lock of ours: SQLite's busy handler sleeps and polls, so under a storm
    the database lock would sit free while some writers lose the race for seconds.
    PostgreSQL uses its own row locks and the advisory locks taken by the service.
    """

    def __init__(self, url: str, **engine_options):
        self.url = url
        self.engine = _create_engine(url, **engine_options)
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

    def upgrade(self) -> None:
        """Bring the schema to the latest migration (creates it on an empty database)."""
        with self.engine.begin() as connection:
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


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location",
                           str(resources.files("sla_bridge") / "migrations"))
    return config


def _create_engine(url: str, **options) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # one connection per WSGI thread (waitress runs 16) plus the scheduled jobs
    options = {"pool_size": 20, "max_overflow": 10, **options}
    if not url.startswith("sqlite"):
        return create_engine(url, pool_recycle=1800, **options)
    if url in ("sqlite://", "sqlite:///:memory:"):
        raise ValueError("an in-memory SQLite database cannot be shared by the bridge's "
                         "threads: give a file, sqlite:///PATH")
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                           **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        immediate = connection.get_execution_options().get("owl_write")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
