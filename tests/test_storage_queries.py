"""The storm path's bulk inserts store exactly what the ORM stores, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import delete, select, text

from sla_bridge.storage.database import Database
from sla_bridge.storage.queries import (
    ALERT_EVENT_COLUMNS,
    INCIDENT_COLUMNS,
    NewIncident,
    insert_events,
    insert_incidents,
)
from sla_bridge.storage.schema import Event, Incident

PARIS = dt.timezone(dt.timedelta(hours=1))
T0 = dt.datetime(2025, 3, 7, 9, 0, 0, 123456, tzinfo=dt.timezone.utc)


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    database.upgrade()
    yield database
    database.engine.dispose()


def new_incident(fingerprint: str, **changes) -> NewIncident:
    incident = NewIncident(
        fingerprint=fingerprint, client="acme", alertname="SiteDown", severity="critical",
        target="www", labels={"alertname": "SiteDown", "client": "acme", "site": "www",
                              "note": "l'été, 100 %"},
        summary="www is down", description="", security=False, first_starts_at=T0,
        last_starts_at=T0, started_at=T0, month="2025-03", deadline=T0 + dt.timedelta(hours=1),
        sla_basis="tracked", sla="pending", maintenance_id=None, created_at=T0, updated_at=T0)
    return dataclasses.replace(incident, **changes)


def stored_rows(db: Database, table: str) -> list[tuple]:
    """The rows as the database keeps them, before any SQLAlchemy type reads them back."""
    with db.read() as session:
        columns = INCIDENT_COLUMNS if table == "incidents" else ["id", *ALERT_EVENT_COLUMNS]
        return [tuple(row) for row in session.execute(
            text(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id"))]


def test_bulk_inserted_incidents_are_stored_as_the_orm_stores_them(db):
    # a time in another offset, a security incident, every nullable column set or left empty
    first = new_incident("a1", started_at=T0.astimezone(PARIS), security=True,
                         acknowledged_at=T0 + dt.timedelta(minutes=5), acknowledged_by="alice",
                         maintenance_id=7)
    second = new_incident("b2", deadline=None, target=None, client=None, labels={})
    with db.write() as session:
        insert_incidents(session, [first, second])
    with db.write() as session:  # the same incidents through the ORM, under other fingerprints
        for incident in (first, second):
            values = {k: getattr(incident, k) for k in INCIDENT_COLUMNS if k != "id"}
            session.add(Incident(**{**values, "fingerprint": "orm-" + incident.fingerprint}))
    rows = stored_rows(db, "incidents")
    fingerprint = INCIDENT_COLUMNS.index("fingerprint")
    assert [row[fingerprint] for row in rows] == ["a1", "b2", "orm-a1", "orm-b2"]
    without_id_and_fingerprint = [row[1:fingerprint] + row[fingerprint + 1:] for row in rows]
    assert without_id_and_fingerprint[:2] == without_id_and_fingerprint[2:]
    with db.read() as session:
        read_back = session.get(Incident, first.id)
    assert read_back.started_at == T0 and read_back.started_at.tzinfo == dt.timezone.utc
    assert read_back.labels["note"] == "l'été, 100 %" and read_back.security is True
    assert read_back.maintenance_id == 7 and read_back.resolved_at is None


def test_bulk_inserted_incidents_get_the_ids_the_database_then_gives_the_next_row(db):
    with db.write() as session:
        insert_incidents(session, [new_incident(f"f{i}") for i in range(3)])
    with db.write() as session:  # the newest incidents deleted: SQLite reuses their rowids
        session.execute(delete(Incident).where(Incident.fingerprint == "f2"))
    batch = [new_incident(f"g{i}") for i in range(4)]
    with db.write() as session:
        insert_incidents(session, batch)
    with db.write() as session:
        session.add(Incident(**{k: getattr(new_incident("h"), k)
                                for k in INCIDENT_COLUMNS if k != "id"}))
    with db.read() as session:
        stored = dict(session.execute(select(Incident.fingerprint, Incident.id)).all())
    assert [stored[i.fingerprint] for i in batch] == [i.id for i in batch]
    assert len(set(stored.values())) == len(stored) == 7
    assert stored["h"] > max(i.id for i in batch)


def test_bulk_inserted_events_keep_their_payload_and_empty_columns(db):
    payload = {"fingerprint": "a1", "status": "firing", "labels": {"site": "www"},
               "annotations": {}, "startsAt": "2025-03-07T09:00:00Z", "endsAt": None}
    rows = [("alert", T0, "acme", None, 12, "a1|firing|x", payload),
            ("alert", T0.astimezone(PARIS), None, None, None, "a1|firing|y", {})]
    with db.write() as session:
        insert_events(session, rows)
    with db.write() as session:  # the same events through the ORM, under other keys
        for row in rows:
            session.add(Event(**{**dict(zip(ALERT_EVENT_COLUMNS, row)),
                                 "dedup_key": "orm-" + row[5]}))
    stored = stored_rows(db, "events")
    assert [row[6] for row in stored] == ["a1|firing|x", "a1|firing|y",
                                          "orm-a1|firing|x", "orm-a1|firing|y"]
    without_id_and_key = [row[1:6] + row[7:] for row in stored]
    assert without_id_and_key[:2] == without_id_and_key[2:]
    with db.read() as session:
        events = session.scalars(select(Event).order_by(Event.id)).all()
    assert events[0].payload == payload and events[0].incident_id == 12
    assert events[1].at == T0 and events[1].client is None and events[1].payload == {}


def test_a_duplicate_event_fails_the_whole_insert_and_nothing_is_half_written(db):
    row = ("alert", T0, "acme", None, None, "same-key", {})
    with pytest.raises(Exception), db.write() as session:
        insert_events(session, [row, ("alert", T0, "acme", None, None, "other", {}), row])
    assert stored_rows(db, "events") == []
