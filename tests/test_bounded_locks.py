"""Deliveries of the same alert serialize across replicas with a bounded number of locks per
transaction (sla_bridge.storage.queries.lock_fingerprints), on SQLite and PostgreSQL.

One advisory lock per fingerprint made a delivery of 15,000 alerts fail on PostgreSQL with "out of
shared memory" (max_locks_per_transaction): a 503 that Alertmanager retried forever.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import zlib

import pytest
from sqlalchemy import func, select, text

from owl.inventory import parse_inventory
from sla_bridge.app import BridgeConfig, create_app
from sla_bridge.storage.database import Database
from sla_bridge.storage.queries import FINGERPRINT_BUCKETS, lock_fingerprints
from sla_bridge.storage.schema import Event, Incident
from tests.support.bridge import INVENTORY, WEBHOOK_TOKEN, Clock, alert, at, webhook
from tests.support.databases import database_url_for

FINGERPRINTS = 50_000
NOW = at("2025-03-07 10:00")
WAITED = 0.5  # seconds a transaction must still be waiting to count as blocked


def big_delivery(count: int) -> dict:
    """``count`` firing alerts, each with its own fingerprint, as Alertmanager writes them."""
    alerts = []
    for i in range(count):
        body = alert(alertname="SiteDown", site=f"s{i}", starts_at=NOW - dt.timedelta(hours=1))
        body["fingerprint"] = f"{i:016x}"
        alerts.append(body)
    return webhook(*alerts)


def test_one_delivery_of_50000_distinct_fingerprints_is_stored_whole(database_url):
    payload = big_delivery(FINGERPRINTS)
    # a body of about 17 MB: the body limit is not what this tests
    config = BridgeConfig(database_url, parse_inventory(INVENTORY, "test-inventory.yml"),
                          WEBHOOK_TOKEN, clock=Clock(NOW), max_body_bytes=64 * 1024 * 1024)
    app = create_app(config)
    db = app.extensions["owl"].db
    try:
        started = time.monotonic()
        response = app.test_client().post("/api/v1/alerts", json=payload,
                                          headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        seconds = time.monotonic() - started
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        assert response.json["created"] == FINGERPRINTS
        with db.read() as session:
            assert session.scalar(select(func.count()).select_from(Incident)) == FINGERPRINTS
            assert session.scalar(select(func.count(func.distinct(Incident.fingerprint)))) \
                == FINGERPRINTS
            assert session.scalar(select(func.count()).select_from(Event)
                                  .where(Event.kind == "alert")) == FINGERPRINTS
        print(f"\n{FINGERPRINTS} fingerprints stored in {seconds:.1f}s on {db.dialect}")
    finally:
        db.dispose()


def two_replicas(url: str):
    """Two databases on the same storage, as two bridge replicas hold them."""
    first = Database(url)
    first.upgrade()
    second = Database(url)
    yield first, second
    first.dispose()
    second.dispose()


@pytest.fixture
def replicas(database_url):
    yield from two_replicas(database_url)


@pytest.fixture
def postgres_replicas(tmp_path):
    yield from two_replicas(database_url_for("postgresql", tmp_path))


def locked_in_background(db: Database, fingerprints: set[str]):
    """A thread that locks ``fingerprints`` in a write transaction of ``db`` and commits; the
    event it sets once it has the lock."""
    locked = threading.Event()

    def run():
        with db.write() as session:
            lock_fingerprints(session, fingerprints)
            locked.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, locked


def test_two_transactions_on_the_same_fingerprint_wait_for_each_other(replicas):
    first, second = replicas
    with first.write() as session:
        lock_fingerprints(session, {"a1", "b2"})
        thread, locked = locked_in_background(second, {"b2", "c3"})
        assert not locked.wait(WAITED), "the second transaction did not wait for the first"
    assert locked.wait(10), "the second transaction did not go on once the first committed"
    thread.join()


def _bucket(fingerprint: str) -> int:
    return zlib.crc32(fingerprint.encode()) % FINGERPRINT_BUCKETS


def test_postgresql_transactions_on_fingerprints_of_other_buckets_run_side_by_side(
        postgres_replicas):
    first, second = postgres_replicas
    mine = "a1"
    other = next(f"f{i}" for i in range(1000) if _bucket(f"f{i}") != _bucket(mine))
    with first.write() as session:
        lock_fingerprints(session, {mine})
        thread, locked = locked_in_background(second, {other})
        assert locked.wait(10), "an unrelated fingerprint waited for the first transaction"
    thread.join()


def test_a_postgresql_transaction_holds_at_most_one_lock_per_bucket(postgres_replicas):
    first, _ = postgres_replicas
    with first.write() as session:
        lock_fingerprints(session, {f"{i:016x}" for i in range(FINGERPRINTS)})
        held = session.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                   "AND pid = pg_backend_pid()"))
    assert 0 < held <= FINGERPRINT_BUCKETS


def test_every_advisory_lock_class_of_the_bridge_is_its_own():
    from sla_bridge.storage import lock_classes

    classes = {name: value for name, value in vars(lock_classes).items() if name.isupper()}
    assert len(set(classes.values())) == len(classes) >= 5
