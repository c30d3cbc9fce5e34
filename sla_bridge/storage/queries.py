"""The bridge's storage queries: what the service reads and writes, beyond plain ORM access.

The ingest path is the hot one in an alert storm: its statements are built once, new incidents
are plain objects inserted in bulk, and nothing goes through the ORM's unit of work.
"""

from __future__ import annotations

import datetime as dt
import operator
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from sla_bridge.engine.alerts import AlertNotice
from sla_bridge.engine.maintenance import MaintenanceWindow
from sla_bridge.storage import lock_classes
from sla_bridge.storage.schema import Event, Incident, Maintenance, UtcDateTime
from sla_bridge.storage.windows import window_of


@dataclass(slots=True)
class NewIncident:
    """An incident this delivery creates, before it is inserted.

    A plain object with the columns of :class:`Incident`: a storm creates thousands, and a
    mapped instance costs several times more to build and read back for the bulk insert.
    """

    fingerprint: str
    client: str | None
    alertname: str
    severity: str
    target: str | None
    labels: dict
    summary: str
    description: str
    security: bool
    first_starts_at: dt.datetime
    last_starts_at: dt.datetime
    started_at: dt.datetime
    month: str
    deadline: dt.datetime | None
    sla_basis: str
    sla: str
    maintenance_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    penalty_rate: str = "0"
    state: str = "open"
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: dt.datetime | None = None
    exclusion_reason: str | None = None
    exclusion_note: str | None = None
    excluded_by: str | None = None
    excluded_at: dt.datetime | None = None
    security_notified_at: dt.datetime | None = None
    id: int | None = None


FINGERPRINT_LOCKS = lock_classes.FINGERPRINTS
CONTRACT_HISTORY_LOCK = (lock_classes.CONTRACT_HISTORY, 0)
# How many locks serialize the fingerprints; see lock_fingerprints.
FINGERPRINT_BUCKETS = 256


def lock_fingerprints(session: Session, fingerprints: Iterable[str]) -> None:
    """Serialize deliveries of the same alert across bridge replicas (PostgreSQL).

    Each fingerprint is hashed into one of :data:`FINGERPRINT_BUCKETS` buckets and the
    transaction takes one advisory lock per bucket it touches, so never more than that many
    however large the delivery. One lock per fingerprint failed a delivery of 15,000 alerts with
    "out of shared memory": advisory locks live in PostgreSQL's shared lock table, sized
    ``max_locks_per_transaction`` (64) times the connections, about 6,400 entries shared by
    every session.

    The number of buckets weighs that lock count against false sharing, where two transactions
    on unrelated alerts wait for each other because their fingerprints share a bucket. 256
    bounds a replica's 4 concurrent ingest transactions (``ingest_batch.LEADERS``) to 1,024
    locks, so several replicas stay well within the table beside the sessions' ordinary locks.
    False sharing costs a wait of one transaction, never an error: two deliveries of k and m
    alerts share a bucket with a probability of about 1 - exp(-k·m/256), 4 % for one alert
    against ten. Storms gain nothing from more buckets: their group-committed transactions of
    hundreds of alerts would share buckets anyway below hundreds of thousands of them.

    SQLite needs nothing more: its writers are already serialized by ``BEGIN IMMEDIATE``.
    """
    if session.connection().dialect.name != "postgresql":
        return
    # sorted, so that two transactions never wait on each other in a cycle
    buckets = sorted({zlib.crc32(fp.encode()) % FINGERPRINT_BUCKETS for fp in fingerprints})
    session.execute(_LOCK_BUCKETS, {"lock_class": FINGERPRINT_LOCKS, "buckets": buckets})


def lock_contract_history(session: Session) -> None:
    """Serialize writers of contract snapshots across replicas (PostgreSQL), until the
    transaction ends: replicas starting together would each record the same change. Read the
    history after taking it. SQLite's ``BEGIN IMMEDIATE`` serializes them already."""
    if session.connection().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock("
                             "CAST(:lock_class AS integer), CAST(:key AS integer))"),
                        dict(zip(("lock_class", "key"), CONTRACT_HISTORY_LOCK)))


_LOCK_BUCKETS = text("SELECT pg_advisory_xact_lock(CAST(:lock_class AS integer), bucket) "
                     "FROM unnest(CAST(:buckets AS integer[])) WITH ORDINALITY AS b(bucket, n) "
                     "ORDER BY n")


class BulkInsert:
    """An ``INSERT`` of many rows through the driver's own ``executemany``.

    Each value is bound as its column's type binds it (the processors SQLAlchemy itself uses),
    but without SQLAlchemy's per-row parameter machinery: in a storm that machinery cost more
    than SQLite's insert. Rows are tuples in the order of ``columns``.
    """

    def __init__(self, table, columns: list[str]):
        self.table = table
        self.columns = columns
        self._prepared: dict[str, tuple] = {}  # per dialect: SQL, binds, parameter names

    def execute(self, connection, rows: Iterable[tuple]) -> None:
        sql, binds, names = self._prepare(connection.dialect)
        bound: dict[tuple, object] = {}  # a batch repeats the same times: bind each once
        parameters = []
        for row in rows:
            values = list(row)
            for index, process, binds_none, memo in binds:
                value = values[index]
                if value is None and not binds_none:
                    continue
                if memo:
                    key = (index, value)
                    if key not in bound:
                        bound[key] = process(value)
                    values[index] = bound[key]
                else:
                    values[index] = process(value)
            parameters.append(dict(zip(names, values)) if names else tuple(values))
        if parameters:
            connection.exec_driver_sql(sql, parameters)

    def _prepare(self, dialect) -> tuple:
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            compiled = insert(self.table).compile(dialect=dialect, column_keys=self.columns)
            binds = []
            for index, key in enumerate(self.columns):
                column_type = self.table.c[key].type
                process = column_type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    # JSON binds None as 'null'; times repeat within a batch and are hashable
                    binds.append((index, process, process(None) is not None,
                                  isinstance(column_type, UtcDateTime)))
            if compiled.positional and list(compiled.positiontup) != self.columns:
                raise ValueError(f"columns must be in the table's order: {compiled.positiontup}")
            names = None if compiled.positional else self.columns
            prepared = self._prepared[dialect.name] = (compiled.string, binds, names)
        return prepared


INCIDENT_COLUMNS = [column.key for column in Incident.__table__.columns]
assert set(INCIDENT_COLUMNS) == set(NewIncident.__slots__), "NewIncident != Incident"
_INSERT_INCIDENTS = BulkInsert(Incident.__table__, INCIDENT_COLUMNS)
_INCIDENT_VALUES = operator.attrgetter(*INCIDENT_COLUMNS)
ALERT_EVENT_COLUMNS = ["kind", "at", "client", "actor", "incident_id", "dedup_key", "payload"]
_INSERT_EVENTS = BulkInsert(Event.__table__, ALERT_EVENT_COLUMNS)


def insert_incidents(session: Session, incidents: list[NewIncident]) -> None:
    """Insert new incidents in one ``executemany`` and give each its id.

    The ids are taken first: from the sequence on PostgreSQL (a multi-row ``INSERT ...
    RETURNING`` would be parsed anew by psycopg for every batch size), and on SQLite as the
    rowids SQLite would give, the largest plus one (the transaction is the only writer).
    """
    if not incidents:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        ids = connection.execute(_NEXT_INCIDENT_IDS, {"n": len(incidents)}).scalars().all()
    else:
        largest = connection.execute(_LARGEST_INCIDENT_ID).scalar_one()
        ids = range(largest + 1, largest + 1 + len(incidents))
    for incident, incident_id in zip(incidents, ids):
        incident.id = incident_id
    _INSERT_INCIDENTS.execute(connection, map(_INCIDENT_VALUES, incidents))


def insert_events(session: Session, rows: Iterable[tuple]) -> None:
    """Insert alert events, each a tuple in the order of :data:`ALERT_EVENT_COLUMNS`."""
    _INSERT_EVENTS.execute(session.connection(), rows)


# Built once: storms call these for every transaction, and building a statement costs more than
# running it on an empty result.
_KNOWN_KEYS = select(Event.dedup_key).where(Event.dedup_key.in_(bindparam("keys", expanding=True)))
_EPISODES = select(Incident.id, Incident.fingerprint, Incident.last_starts_at).where(
    Incident.fingerprint.in_(bindparam("fingerprints", expanding=True)))
_NEXT_INCIDENT_IDS = text("SELECT nextval(pg_get_serial_sequence('incidents', 'id')) "
                          "FROM generate_series(1, :n)")
_LARGEST_INCIDENT_ID = select(func.coalesce(func.max(Incident.id), 0))
_BY_IDS = select(Incident).where(Incident.id.in_(bindparam("ids", expanding=True)))
_WINDOWS = select(Maintenance).where(Maintenance.client.in_(bindparam("clients", expanding=True)),
                                     Maintenance.ends_at > bindparam("since"))


def new_positions(session: Session, notices: list[AlertNotice]) -> list[int]:
    """Where in ``notices`` the news not yet in the event history is, each once, in order."""
    keys = list({n.dedup_key for n in notices})
    known = set(session.execute(_KNOWN_KEYS, {"keys": keys}).scalars())
    fresh = []
    for position, notice in enumerate(notices):
        if notice.dedup_key not in known:
            known.add(notice.dedup_key)
            fresh.append(position)
    return fresh


def latest_incidents(session: Session, fingerprints: set[str]) -> dict[str, Incident]:
    """The most recent incident of each fingerprint that has one."""
    newest: dict[str, tuple] = {}
    for incident_id, fingerprint, last in session.execute(
            _EPISODES, {"fingerprints": list(fingerprints)}):
        if fingerprint not in newest or last > newest[fingerprint][1]:
            newest[fingerprint] = (incident_id, last)
    if not newest:
        return {}
    ids = [incident_id for incident_id, _ in newest.values()]
    return {row.fingerprint: row
            for row in session.execute(_BY_IDS, {"ids": ids}).scalars()}


def maintenance_windows(session: Session, clients: set[str],
                        since: dt.datetime) -> list[MaintenanceWindow]:
    if not clients:
        return []
    rows = session.execute(_WINDOWS, {"clients": list(clients), "since": since}).scalars()
    return [window_of(row) for row in rows]


def contract_clients(session: Session) -> set[str]:
    """The clients with a recorded contract (their ids only: no snapshot is read)."""
    return set(session.scalars(select(Event.client).where(Event.kind == "contract").distinct()))


def latest_contract_snapshots(session: Session,
                              before: dt.datetime | None = None) -> dict[str, dict]:
    """Each client's last recorded contract (recorded before ``before``, if given)."""
    recorded = Event.kind == "contract"
    if before is not None:
        recorded = recorded & (Event.at < before)
    newest = (select(Event.client, func.max(Event.id).label("id"))
              .where(recorded).group_by(Event.client).subquery())
    rows = session.execute(select(Event.client, Event.payload)  # columns: no ORM objects
                           .join(newest, Event.id == newest.c.id))
    return {client: payload["contract"] for client, payload in rows}
