"""Group commit: concurrent deliveries share transactions, each gets its own result."""

import contextlib
import dataclasses
import threading
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from owl.inventory import parse_inventory
from sla_bridge.contract_terms import terms_from_inventory
from sla_bridge.ingest_batch import LEADERS, IngestBatcher
from sla_bridge.service import SlaService
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Incident
from sla_bridge.webhook import parse_payload
from tests.support.bridge import INVENTORY, alert, at, webhook

NOW = at("2025-03-07 10:00")


class CountingService(SlaService):
    """The real service, counting its transactions (and how many ran at the same time) and
    failing on a marked alert."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.transactions = 0
        self.batches = []  # each transaction's notices
        self.running = self.most_at_once = 0
        self._count = threading.Lock()

    def ingest(self, notices):
        with self._count:
            self.transactions += 1
            self.batches.append(notices)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if any(n.alertname == "Poison" for n in notices):
                raise OperationalError("INSERT", {}, Exception("disk I/O error"))
            return super().ingest(notices)
        finally:
            with self._count:
                self.running -= 1


@pytest.fixture
def service(database_url):
    db = Database(database_url)
    db.upgrade()
    service = CountingService(db, terms_from_inventory(parse_inventory(INVENTORY, "i")),
                              lambda: NOW)
    yield service
    db.dispose()


def request(names):
    return parse_payload(webhook(*[alert(alertname=name) for name in names]), NOW)


def run_concurrently(batcher, requests):
    results, errors = [None] * len(requests), [None] * len(requests)
    start = threading.Barrier(len(requests))

    def send(index):
        start.wait()
        try:
            results[index] = batcher.ingest(requests[index])
        except OperationalError as exc:
            errors[index] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_concurrent_deliveries_share_transactions_and_each_gets_its_own_counts(service):
    batcher = IngestBatcher(service)
    # 32 requests of 4 alerts; every alert is sent by two requests, as by an HA pair
    requests = [request([f"A{(i // 2) * 4 + k}" for k in range(4)]) for i in range(32)]
    results, errors = run_concurrently(batcher, requests)
    assert errors == [None] * 32
    assert all(r.received == 4 and r.created + r.duplicates == 4 for r in results)
    assert sum(r.created for r in results) == 64
    assert sum(r.duplicates for r in results) == 64
    assert service.transactions < 32  # some requests were stored together
    with service.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 64


def test_only_postgresql_runs_transactions_side_by_side_and_each_alert_is_still_stored_once(
        service):
    batcher = IngestBatcher(service)
    # 48 requests of 4 alerts, each alert sent three times (HA Alertmanagers)
    requests = [request([f"A{(i // 3) * 4 + k}" for k in range(4)]) for i in range(48)]
    results, errors = run_concurrently(batcher, requests)
    assert errors == [None] * 48
    assert sum(r.created for r in results) == 64
    assert sum(r.duplicates for r in results) == 128
    with service.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 64
    expected = LEADERS[service.db.dialect]
    assert service.most_at_once == expected if expected == 1 else service.most_at_once > 1


def test_a_failed_transaction_fails_every_request_in_it_and_the_next_ones_go_on(service):
    batcher = IngestBatcher(service, max_alerts=1)  # one request per transaction
    results, errors = run_concurrently(batcher, [request(["Poison"]), request(["Fine"])])
    failed = [e for e in errors if e is not None]
    assert len(failed) == 1
    assert [r.created for r in results if r is not None] == [1]
    with service.db.read() as session:
        assert session.scalars(select(Incident.alertname)).all() == ["Fine"]


# --- poison: a delivery the database refuses fails alone ---------------------------------------

POISONS = {
    "a lone surrogate": {"alertname": "S\ud800"},
    "a NUL byte": {"alertname": "S\x00"},
    "a label longer than its column": {"site": "s" * 200},
}
ROUNDS = 3
INNOCENTS = 40


@contextlib.contextmanager
def writes_held(db):
    """Writes wait until the block ends, so that the deliveries sent meanwhile queue up and are
    stored together when it does."""
    with db.write() as session:
        if db.dialect == "postgresql":
            session.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
        yield


def send_in_background(batcher, requests, errors: list):
    def send(notices):
        try:
            batcher.ingest(notices)
        except Exception as exc:  # noqa: BLE001 - whatever the request would answer 5xx for
            errors.append((notices, exc))

    threads = [threading.Thread(target=send, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # each is queued by now
    return threads


def poisoned_round(service, round_no: int, poison: dict) -> list:
    """``INNOCENTS`` valid deliveries queued, then a poisoned one behind them, all stored in
    shared transactions; how many of the valid ones failed."""
    batcher, errors = IngestBatcher(service), []
    innocents = [request([f"R{round_no}-{i}"]) for i in range(INNOCENTS)]
    [base] = request([f"R{round_no}-poison"])
    poisoned = [dataclasses.replace(base, labels={**base.labels, **poison})]
    with writes_held(service.db):
        threads = send_in_background(batcher, innocents, errors)
        threads += send_in_background(batcher, [poisoned], errors)
    for thread in threads:
        thread.join(timeout=60)
    assert any(len(b) > 1 and poisoned[0] in b for b in service.batches)  # it was shared
    return sum(notices is not poisoned for notices, _ in errors)


@pytest.mark.parametrize("poison", POISONS.values(), ids=POISONS.keys())
def test_a_poisoned_delivery_in_a_shared_transaction_fails_no_innocent_one(service, poison):
    innocents_failed = [poisoned_round(service, n, poison) for n in range(ROUNDS)]
    assert innocents_failed == [0] * ROUNDS
    with service.db.read() as session:
        stored = set(session.scalars(select(Incident.alertname)))
    assert {f"R{n}-{i}" for n in range(ROUNDS) for i in range(INNOCENTS)} <= stored
