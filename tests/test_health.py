"""``/healthz`` and ``/readyz`` tell the truth (sla_bridge.storage.probe): they write, so a full
disk, a read-only database or a table the bridge may no longer write is a 503, where a
``SELECT 1`` answered 200 while every delivery failed. Each failure is a real one: an SQLite
file on a full filesystem, a PostgreSQL database made read-only, a revoked privilege, a lock
held on the table, a schema another version migrated."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import threading
import time

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from sla_bridge.storage.database import Database
from sla_bridge.storage.probe import RECENT_FAILURE_SECONDS, HealthProbe
from sla_bridge.storage.schema import Probe
from tests.support.binaries import missing
from tests.support.bridge import alert, at, make_bridge

OK = {"status": "ok", "database": "reachable", "writes": "ok"}
WRITES_FAIL = {"status": "unavailable", "database": "reachable", "writes": "failing"}


class FakeMonotonic:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def probe_time(tb):
    with tb.bridge.db.read() as session:
        return session.scalar(select(Probe.at).where(Probe.name == "healthz"))


def probe_every_call(tb) -> None:
    """No rate limit: each request probes, so the test sees a failure the moment it is made."""
    tb.bridge.health.interval = 0


def admin_engine(database_url: str):
    return create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1),
                         isolation_level="AUTOCOMMIT")


# --- what is answered --------------------------------------------------------------------------

def test_healthz_writes_the_probe_row_and_answers_ok(tb):
    response = tb.client.get("/healthz")
    assert (response.status_code, response.json) == (200, OK)
    assert response.headers["Cache-Control"] == "no-store"
    assert probe_time(tb) == at("2025-03-07 10:00")


def test_readyz_also_says_the_schema_is_current(tb):
    response = tb.client.get("/readyz")
    assert (response.status_code, response.json) == (200, {**OK, "schema": "current"})


def test_a_probe_writes_at_most_once_per_interval_and_answers_the_last_result_between(tb):
    monotonic = FakeMonotonic()
    tb.bridge.health = HealthProbe(tb.bridge.db, tb.clock, interval=5, monotonic=monotonic)
    assert tb.client.get("/healthz").status_code == 200
    first = probe_time(tb)
    for _ in range(20):  # a load balancer polling
        tb.clock.advance(seconds=1)
        monotonic.now += 0.2
        assert tb.client.get("/healthz").json == OK
        assert tb.client.get("/readyz").status_code == 200
    assert probe_time(tb) == first  # 4 s of polling: no other write
    monotonic.now += 1.0
    assert tb.client.get("/healthz").status_code == 200
    assert probe_time(tb) == tb.clock.now


# --- SQLite on a full disk ---------------------------------------------------------------------

@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 512 KiB tmpfs: room for the bridge's database, then filled up by the test."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        missing(f"cannot mount a tmpfs for the full-disk test (needs root): {result.stderr}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(path) -> None:
    with contextlib.suppress(OSError), open(path, "wb", buffering=0) as handle:
        while True:
            handle.write(b"\0" * 4096)


def test_sqlite_on_a_full_disk_is_unhealthy_and_healthy_again_once_space_is_freed(
        tiny_filesystem):
    tb = make_bridge(f"sqlite:///{tiny_filesystem / 'bridge.db'}", at("2025-03-07 10:00"))
    try:
        probe_every_call(tb)
        assert tb.client.get("/healthz").json == OK
        fill(tiny_filesystem / "filler")
        assert tb.bridge.db.engine.connect().close() is None  # still readable: SELECT 1 works
        assert tb.post_alerts(alert()).status_code == 503  # deliveries fail...
        healthz, readyz = tb.client.get("/healthz"), tb.client.get("/readyz")
        assert (healthz.status_code, healthz.json) == (503, WRITES_FAIL)  # ...and health says so
        assert (readyz.status_code, readyz.json["writes"]) == (503, "failing")
        (tiny_filesystem / "filler").unlink()
        assert tb.post_alerts(alert()).status_code == 200  # Alertmanager's retry
        assert tb.client.get("/healthz").json == OK
    finally:
        tb.bridge.db.dispose()


def test_a_failed_delivery_makes_writes_failing_though_the_small_probe_write_fits(
        tiny_filesystem):
    """On a full disk SQLite reuses its write-ahead log's space: after a delivery failed, the
    probe's one-page write fits where the delivery's did not. The failure is what counts."""
    tb = make_bridge(f"sqlite:///{tiny_filesystem / 'bridge.db'}", at("2025-03-07 10:00"))
    monotonic = FakeMonotonic()
    tb.bridge.health = HealthProbe(tb.bridge.db, tb.clock, interval=0, monotonic=monotonic)
    try:
        assert tb.client.get("/healthz").json == OK
        fill(tiny_filesystem / "filler")
        assert tb.post_alerts(alert()).status_code == 503
        with sqlite3.connect(tiny_filesystem / "bridge.db") as outside:  # the probe's write fits
            outside.execute("UPDATE probes SET at = at WHERE name = 'healthz'")
        assert tb.client.get("/healthz").json == WRITES_FAIL
        monotonic.now += RECENT_FAILURE_SECONDS - 1
        assert tb.client.get("/healthz").json == WRITES_FAIL
        (tiny_filesystem / "filler").unlink()
        monotonic.now += 1  # no delivery since: the failure is forgotten after a while
        assert tb.client.get("/healthz").json == OK
    finally:
        tb.bridge.db.dispose()


# --- PostgreSQL read-only, privileges revoked ----------------------------------------------------

@pytest.fixture
def postgres_tb(tmp_path):
    from tests.support.databases import database_url_for

    tb = make_bridge(database_url_for("postgresql", tmp_path), at("2025-03-07 10:00"))
    yield tb
    tb.bridge.db.dispose()


def test_a_read_only_postgresql_database_is_unhealthy(postgres_tb):
    tb = postgres_tb
    url = tb.bridge.db.url
    name = make_url(url).database
    probe_every_call(tb)
    assert tb.client.get("/healthz").json == OK
    admin = admin_engine(url)
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        try:
            tb.bridge.db.engine.dispose()  # the setting holds for new sessions: reconnect
            assert tb.post_alerts(alert()).status_code == 503
            response = tb.client.get("/healthz")
            assert (response.status_code, response.json) == (503, WRITES_FAIL)
            assert tb.client.get("/readyz").status_code == 503
        finally:
            connection.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
    admin.dispose()
    tb.bridge.db.engine.dispose()
    assert tb.post_alerts(alert()).status_code == 200  # Alertmanager's retry
    assert tb.client.get("/healthz").json == OK


def test_a_revoked_write_privilege_on_the_probe_table_is_unhealthy(postgres_tb):
    tb = postgres_tb
    probe_every_call(tb)
    assert tb.client.get("/healthz").json == OK
    with tb.bridge.db.engine.begin() as connection:
        connection.execute(text("REVOKE INSERT, UPDATE ON probes FROM CURRENT_USER"))
    response = tb.client.get("/healthz")
    assert (response.status_code, response.json) == (503, WRITES_FAIL)


def test_an_unreachable_database_is_reported_unreachable():
    db = Database("postgresql://owl:owl@127.0.0.1:9/owl?connect_timeout=2")
    health = HealthProbe(db, lambda: at("2025-03-07 10:00")).check()
    assert (health.database, health.writes, health.schema) == ("unreachable", "failing",
                                                               "unknown")
    assert not health.healthy and not health.ready
    db.dispose()


# --- readiness: the schema ------------------------------------------------------------------------

@pytest.mark.parametrize("revision", ["0001", "9999"])  # behind, or migrated by a newer bridge
def test_a_schema_that_is_not_this_codes_is_not_ready_though_healthy(tb, revision):
    probe_every_call(tb)
    with tb.bridge.db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :revision"),
                           {"revision": revision})
    readyz = tb.client.get("/readyz")
    assert (readyz.status_code, readyz.json) == (503, {"status": "unavailable",
                                                        **{k: v for k, v in OK.items()
                                                           if k != "status"},
                                                        "schema": "not current"})
    assert tb.client.get("/healthz").json == OK


# --- a probe that hangs ----------------------------------------------------------------------------

@contextlib.contextmanager
def probes_table_locked(database_url: str):
    """Another session holds a lock that blocks any write of the probe row."""
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(make_url(database_url).database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    admin = admin_engine(database_url)
    with admin.connect() as connection:
        connection.execute(text("BEGIN"))
        connection.execute(text("LOCK TABLE probes IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            connection.execute(text("ROLLBACK"))
    admin.dispose()


def timed_get(tb, path: str):
    started = time.monotonic()
    response = tb.app.test_client().get(path)
    return response, time.monotonic() - started


def test_callers_never_wait_for_a_hanging_probe_and_learn_the_writes_stall(tb, database_url):
    assert tb.client.get("/healthz").json == OK
    tb.bridge.health.stall_after = 1.0
    probe_every_call(tb)
    answers = []
    with probes_table_locked(database_url):
        hanging = threading.Thread(target=lambda: answers.append(tb.app.test_client().get(
            "/healthz")))
        hanging.start()
        deadline = time.monotonic() + 5
        while tb.bridge.health._probing_since is None and time.monotonic() < deadline:
            time.sleep(0.01)
        response, seconds = timed_get(tb, "/healthz")
        assert (response.json, seconds < 0.5) == (OK, True)  # the last result, at once
        time.sleep(1.0)
        response, seconds = timed_get(tb, "/healthz")
        assert (response.status_code, response.json, seconds < 0.5) == (
            503, {"status": "unavailable", "database": "reachable", "writes": "stalled"}, True)
        assert hanging.is_alive()
    hanging.join(timeout=30)
    assert answers[0].json == OK  # the lock released, the hanging probe wrote
    assert tb.client.get("/healthz").json == OK
