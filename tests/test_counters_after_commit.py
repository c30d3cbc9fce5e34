"""The incident and breach counters move only once what they count is committed: Alertmanager
redelivers what a failed transaction lost, and the redelivery must not count twice. On SQLite and
PostgreSQL, whose commit is refused for real."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.support.bridge import alert, at, make_bridge

# A row that breaks a deferred foreign key: the statement passes, the COMMIT is refused.
REFUSAL_TABLES = [
    "CREATE TABLE refusal_parent (id INTEGER PRIMARY KEY)",
    "CREATE TABLE refusal (parent INTEGER REFERENCES refusal_parent (id) "
    "DEFERRABLE INITIALLY DEFERRED)",
]
SQLITE_TRIGGER = ("CREATE TRIGGER refuse_commit AFTER {operation} ON {table} "
                  "BEGIN INSERT INTO refusal VALUES (-1); END")
POSTGRES_TRIGGER = [
    "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN INSERT INTO refusal VALUES (-1); RETURN NULL; END $$",
    "CREATE TRIGGER refuse_commit AFTER {operation} ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION refuse_commit()",
]


@contextlib.contextmanager
def commits_refused(db, table: str, operation: str):
    """While inside, every transaction that ``operation``s a row of ``table`` fails to commit."""
    postgres = db.dialect == "postgresql"
    create = REFUSAL_TABLES + (POSTGRES_TRIGGER if postgres else [SQLITE_TRIGGER])
    with db.engine.begin() as connection:
        for statement in create:
            connection.execute(text(statement.format(operation=operation, table=table)))
    yield
    with db.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER refuse_commit" + (f" ON {table}" if postgres
                                                                 else "")))


def counted(tb) -> tuple[float, float]:
    """acme's critical incidents and breaches, as /metrics exports them."""
    labels = {"client": "acme", "severity": "critical"}
    registry = tb.bridge.registry
    return (registry.get_sample_value("owl_incidents_total", labels),
            registry.get_sample_value("owl_sla_breaches_total", labels))


def acknowledgements_timed(tb) -> float:
    return tb.bridge.registry.get_sample_value(
        "owl_incident_time_to_acknowledge_seconds_count", {"severity": "critical"})


@pytest.fixture
def tb(database_url):
    # acme's critical deadline is 4 h on the wall clock: 13:00 for an alert of 09:00
    tb = make_bridge(database_url, at("2025-03-07 14:00"))
    yield tb
    tb.bridge.db.dispose()


@pytest.fixture
def overdue(database_url):
    """A bridge with one incident, stored pending at 10:00, its deadline now past."""
    tb = make_bridge(database_url, at("2025-03-07 10:00"))
    assert tb.post_alerts(alert(starts_at=at("2025-03-07 09:00"))).status_code == 200
    tb.clock.now = at("2025-03-07 14:00")
    yield tb
    tb.bridge.db.dispose()


def test_a_delivery_whose_commit_fails_counts_nothing_and_its_redelivery_counts_once(tb):
    late = alert(starts_at=at("2025-03-07 09:00"))  # created and breached at once
    with commits_refused(tb.bridge.db, "events", "INSERT"):
        assert tb.post_alerts(late).status_code == 503
    assert counted(tb) == (0, 0)
    assert tb.incidents() == []

    assert tb.post_alerts(late).status_code == 200
    assert counted(tb) == (1, 1)
    assert [i["sla"] for i in tb.incidents()] == ["breached"]
    assert tb.post_alerts(late).status_code == 200
    assert counted(tb) == (1, 1)


def test_a_status_refresh_whose_commit_fails_counts_no_breach_and_the_next_counts_it_once(
        overdue):
    with commits_refused(overdue.bridge.db, "incidents", "UPDATE"), \
            pytest.raises(IntegrityError):
        overdue.bridge.service.refresh_statuses()
    assert counted(overdue) == (1, 0)

    assert overdue.bridge.service.refresh_statuses() == 1
    assert counted(overdue) == (1, 1)
    assert overdue.bridge.service.refresh_statuses() == 0
    assert counted(overdue) == (1, 1)


def test_a_late_acknowledgement_whose_commit_fails_counts_nothing_and_the_retry_counts_once(
        overdue):
    [incident] = overdue.incidents()
    ack = f"/api/v1/incidents/{incident['id']}/ack"
    with commits_refused(overdue.bridge.db, "events", "INSERT"):
        assert overdue.as_operator("POST", ack).status_code == 503
    assert counted(overdue) == (1, 0)
    assert acknowledgements_timed(overdue) == 0

    assert overdue.as_operator("POST", ack).status_code == 200
    assert overdue.as_operator("POST", ack).status_code == 200
    assert counted(overdue) == (1, 1)
    assert acknowledgements_timed(overdue) == 1
