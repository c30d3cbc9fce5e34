"""The SLA service: applies the engine's decisions to stored incidents, one transaction per call.

Every change is also written to the event history (alerts, operators' actions with before and
after, maintenance, contract changes), from which ``owl sla replay`` recomputes the same results.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from sla_bridge.engine import lifecycle
from sla_bridge.engine.alerts import SEVERITIES, AlertNotice
from sla_bridge.engine.ledger import Breach, Ledger, build_ledger, month_bounds, month_of
from sla_bridge.engine.lifecycle import Action
from sla_bridge.engine.maintenance import MaintenanceWindow
from sla_bridge.engine.terms import CalendarCache, ClientTerms, terms_from_snapshot
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Event, Incident, Maintenance
from sla_bridge.timefmt import rfc3339

UTC = dt.timezone.utc
EXCLUSION_REASONS = ("third_party", "unauthorized_change", "hardware", "out_of_scope",
                     "client_unpatched_vulnerability", "zero_day")


class NotFound(LookupError):
    """No such incident (or not one the caller may see)."""


class Conflict(ValueError):
    """The action does not apply to the incident in its current state."""


class Observer:
    """Told of the transitions the metrics count. The default ignores them (replay)."""

    def created(self, incident: Incident) -> None: ...

    def breached(self, incident: Incident) -> None: ...

    def acknowledged(self, incident: Incident) -> None: ...


CREATED, UPDATED, DUPLICATE = "created", "updated", "duplicate"


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


@dataclass(frozen=True)
class Outcome:
    """What one notice did: created or updated an incident, or changed nothing."""

    dedup_key: str
    kind: str
    incident: Incident | None


@dataclass
class IngestResult:
    outcomes: list[Outcome] = field(default_factory=list)  # one per notice, in order

    def _count(self, kind: str) -> int:
        return sum(outcome.kind == kind for outcome in self.outcomes)

    @property
    def received(self) -> int:
        return len(self.outcomes)

    @property
    def created(self) -> int:
        return self._count(CREATED)

    @property
    def updated(self) -> int:
        return self._count(UPDATED)

    @property
    def duplicates(self) -> int:
        return self._count(DUPLICATE)

    @property
    def new_security_incidents(self) -> list[Incident]:
        return [o.incident for o in self.outcomes if o.kind == CREATED and o.incident.security]

    @property
    def incident_ids(self) -> dict[str, int | None]:
        """The incident each notice touched, by its dedup key (replay maps ids with it)."""
        return {o.dedup_key: o.incident.id if o.incident is not None else None
                for o in self.outcomes}

    def split(self, sizes: list[int]) -> list[IngestResult]:
        """The results of consecutive runs of ``sizes`` notices, e.g. one per request."""
        parts, start = [], 0
        for size in sizes:
            parts.append(IngestResult(self.outcomes[start:start + size]))
            start += size
        return parts


def notice_payload(notice: AlertNotice) -> dict:
    """An alert as kept in the event history: what replay needs to process it again."""
    return {"fingerprint": notice.fingerprint, "status": notice.status,
            "labels": notice.labels, "annotations": notice.annotations,
            "startsAt": rfc3339(notice.starts_at), "endsAt": rfc3339(notice.ends_at)}


def audit_view(incident: Incident) -> dict:
    """The fields an operator's action can change, for the audit log's before and after."""
    return {"state": incident.state, "sla": incident.sla,
            "acknowledged_at": rfc3339(incident.acknowledged_at),
            "acknowledged_by": incident.acknowledged_by,
            "exclusion_reason": incident.exclusion_reason,
            "exclusion_note": incident.exclusion_note}


class SlaService:
    def __init__(self, db: Database, terms: dict[str, ClientTerms],
                 clock: Callable[[], dt.datetime], observer: Observer | None = None,
                 calendars: CalendarCache | None = None):
        self.db = db
        self.terms = dict(terms)
        self.clock = clock
        self.observer = observer or Observer()
        self.calendars = calendars or CalendarCache()

    # --- contracts -------------------------------------------------------------------------

    def record_contracts(self) -> list[str]:
        """Write a ``contract`` event for each client whose terms differ from the last recorded."""
        changed = []
        with self.db.write() as session:
            recorded = _latest_contract_snapshots(session)
            for client, terms in sorted(self.terms.items()):
                snapshot = terms.snapshot()
                if recorded.get(client) != snapshot:
                    session.add(Event(kind="contract", at=self.clock(), client=client,
                                      payload={"contract": snapshot}))
                    changed.append(client)
        return changed

    def apply_contract(self, client: str, snapshot: dict) -> None:
        """Replay: the terms a recorded ``contract`` event put in force."""
        self.terms[client] = terms_from_snapshot(client, snapshot, self.calendars)
        with self.db.write() as session:
            session.add(Event(kind="contract", at=self.clock(), client=client,
                              payload={"contract": snapshot}))

    # --- alerts ----------------------------------------------------------------------------

    def ingest(self, notices: list[AlertNotice]) -> IngestResult:
        """Store what is new in ``notices``; redeliveries change nothing.

        Storms come as many small requests, so this is the bridge's hot path: three reads, then
        new incidents and events inserted in bulk (Core, not the ORM's unit of work); only
        incidents that already existed go through the session.
        """
        outcomes = [Outcome(n.dedup_key, DUPLICATE, None) for n in notices]
        with self.db.write() as session:
            self._lock_fingerprints(session, {n.fingerprint for n in notices})
            fresh = _new_positions(session, notices)
            if not fresh:
                return IngestResult(outcomes)
            latest = _latest_incidents(session, {notices[i].fingerprint for i in fresh})
            windows = _windows(session, {notices[i].client for i in fresh if notices[i].client},
                               min(notices[i].clock_start for i in fresh))
            now = self.clock()
            for i in fresh:
                notice = notices[i]
                incident, action = self._apply(notice, latest.get(notice.fingerprint),
                                               windows, now)
                kind = DUPLICATE if action is Action.DUPLICATE else (
                    CREATED if action in (Action.CREATE, Action.CREATE_RESOLVED) else UPDATED)
                if incident is not None:
                    latest[notice.fingerprint] = incident
                outcomes[i] = Outcome(notice.dedup_key, kind, incident)
            _insert_incidents(session, [outcomes[i].incident for i in fresh
                                        if outcomes[i].kind == CREATED])
            session.flush()
            session.connection().execute(insert(Event.__table__), [
                _alert_event(notices[i], outcomes[i].incident) for i in fresh])
        return IngestResult(outcomes)

    def _apply(self, notice: AlertNotice, latest: Incident | None,
               windows: list[MaintenanceWindow], now: dt.datetime):
        terms = self.terms.get(notice.client) if notice.client else None
        window = terms.reopen_window if terms else lifecycle.DEFAULT_REOPEN_WINDOW
        action = lifecycle.decide(notice, latest, window)
        if action is Action.DUPLICATE:
            return latest, action
        if action in (Action.CREATE, Action.CREATE_RESOLVED):
            incident = self._new_incident(notice, terms, windows, now)
        else:
            incident = latest
        if action in (Action.REOPEN, Action.REOPEN_RESOLVED):
            incident.last_starts_at = notice.starts_at
            incident.resolved_at = None
        if action in (Action.RESOLVE, Action.CREATE_RESOLVED, Action.REOPEN_RESOLVED):
            incident.resolved_at = lifecycle.resolution_time(notice, incident.started_at)
        self._refresh(incident, now)
        if action in (Action.CREATE, Action.CREATE_RESOLVED):
            self.observer.created(incident)
        return incident, action

    def _new_incident(self, notice: AlertNotice, terms: ClientTerms | None,
                      windows: list[MaintenanceWindow], now: dt.datetime) -> NewIncident:
        started = notice.clock_start
        basis, window = lifecycle.sla_basis(notice, terms, windows)
        tz = terms.ledger_timezone if terms else None
        deadline = None
        if basis != lifecycle.NO_SLA:
            deadline = lifecycle.deadline_for(started, notice.severity, terms)
        return NewIncident(
            fingerprint=notice.fingerprint,
            client=notice.client,
            alertname=notice.alertname, severity=notice.severity or "none",
            target=notice.target, labels=notice.labels,
            summary=notice.annotations.get("summary", ""),
            description=notice.annotations.get("description", ""),
            security=notice.security, first_starts_at=notice.starts_at,
            last_starts_at=notice.starts_at, started_at=started,
            month=month_of(started, tz) if tz else started.strftime("%Y-%m"),
            deadline=deadline, sla_basis=basis, sla=basis,
            maintenance_id=window.id if window else None,
            created_at=now, updated_at=now, penalty_rate="0", state="open")

    def _refresh(self, incident: Incident, now: dt.datetime) -> bool:
        """Recompute state, SLA status and rate; tell the observer of a new breach."""
        before = incident.sla
        incident.state = lifecycle.state_of(incident.acknowledged_at, incident.resolved_at)
        incident.sla = lifecycle.sla_status(
            incident.sla_basis, incident.exclusion_reason is not None, incident.deadline,
            incident.acknowledged_at, incident.resolved_at, now)
        incident.penalty_rate = str(lifecycle.penalty_rate(
            incident.sla, incident.severity, self.terms.get(incident.client)))
        incident.updated_at = now
        if incident.sla == lifecycle.BREACHED and before != lifecycle.BREACHED:
            self.observer.breached(incident)
            return True
        return False

    def _lock_fingerprints(self, session: Session, fingerprints: Iterable[str]) -> None:
        """Serialize deliveries of the same alert across bridge replicas (PostgreSQL).

        SQLite needs nothing more: its writers are already serialized by ``BEGIN IMMEDIATE``.
        """
        if self.db.dialect != "postgresql":
            return
        # sorted, so that two transactions never wait on each other in a cycle
        keys = sorted({zlib.crc32(fp.encode()) for fp in fingerprints})
        session.execute(text("SELECT pg_advisory_xact_lock(key) "
                             "FROM unnest(CAST(:keys AS bigint[])) AS key"), {"keys": keys})

    # --- statuses over time ------------------------------------------------------------------

    def refresh_statuses(self) -> int:
        """Mark pending incidents whose deadline has passed as breached; return how many."""
        now = self.clock()
        with self.db.write() as session:
            due = session.scalars(select(Incident).where(
                Incident.sla == lifecycle.PENDING, Incident.deadline < now)).all()
            return sum(self._refresh(incident, now) for incident in due)

    # --- operators' actions ----------------------------------------------------------------

    def acknowledge(self, incident_id: int, actor: str) -> Incident:
        """The first acknowledgement stays; later ones change nothing and are not logged."""
        now = self.clock()
        with self.db.write() as session:
            incident = _get(session, incident_id)
            if incident.acknowledged_at is not None:
                return incident
            before = audit_view(incident)
            incident.acknowledged_at, incident.acknowledged_by = now, actor
            self._refresh(incident, now)
            self._audit(session, "ack", incident, actor, before, now)
        self.observer.acknowledged(incident)
        return incident

    def exclude(self, incident_id: int, reason: str, note: str, actor: str) -> Incident:
        if reason not in EXCLUSION_REASONS:
            raise ValueError(f"reason must be one of: {', '.join(EXCLUSION_REASONS)}")
        if not note or not note.strip():
            raise ValueError("note: a note explaining the exclusion is required")
        now = self.clock()
        with self.db.write() as session:
            incident = _get(session, incident_id)
            if incident.sla_basis == lifecycle.NO_SLA:
                raise Conflict("the incident has no SLA: there is nothing to exclude it from")
            if incident.exclusion_reason == reason and incident.exclusion_note == note:
                return incident
            before = audit_view(incident)
            incident.exclusion_reason, incident.exclusion_note = reason, note
            incident.excluded_by, incident.excluded_at = actor, now
            self._refresh(incident, now)
            self._audit(session, "exclusion", incident, actor, before, now)
        return incident

    def withdraw_exclusion(self, incident_id: int, actor: str) -> Incident:
        now = self.clock()
        with self.db.write() as session:
            incident = _get(session, incident_id)
            if incident.exclusion_reason is None:
                return incident
            before = audit_view(incident)
            incident.exclusion_reason = incident.exclusion_note = None
            incident.excluded_by = incident.excluded_at = None
            self._refresh(incident, now)
            self._audit(session, "exclusion_withdrawn", incident, actor, before, now)
        return incident

    def _audit(self, session: Session, kind: str, incident: Incident, actor: str, before: dict,
               now: dt.datetime) -> None:
        session.add(Event(kind=kind, at=now, client=incident.client, actor=actor,
                          incident_id=incident.id,
                          payload={"before": before, "after": audit_view(incident)}))

    # --- reading -----------------------------------------------------------------------------

    def get(self, incident_id: int, client: str | None = None) -> Incident:
        """One incident; with ``client``, only one of that client's (else NotFound)."""
        with self.db.read() as session:
            incident = session.get(Incident, incident_id)
            if incident is None or (client is not None and incident.client != client):
                raise NotFound(f"no incident {incident_id}")
            return self._current(incident)

    def find(self, client: str | None = None, state: str | None = None, sla: str | None = None,
             month: str | None = None, limit: int = 100, offset: int = 0) -> list[Incident]:
        query = select(Incident).order_by(Incident.started_at.desc(), Incident.id.desc())
        if client is not None:
            query = query.where(Incident.client == client)
        if state is not None:
            query = query.where(Incident.state == state)
        if sla is not None:
            query = query.where(Incident.sla == sla)
        if month is not None:
            query = query.where(Incident.month == month)
        with self.db.read() as session:
            rows = session.scalars(query.limit(limit).offset(offset)).all()
            return [self._current(row) for row in rows]

    def _current(self, incident: Incident) -> Incident:
        """The incident as of now: a deadline may have passed since the last scheduled refresh."""
        if incident.sla == lifecycle.PENDING and incident.deadline < self.clock():
            incident.sla = lifecycle.BREACHED
            incident.penalty_rate = str(lifecycle.penalty_rate(
                incident.sla, incident.severity, self.terms.get(incident.client)))
        return incident

    def ledger(self, client: str, month: str) -> Ledger:
        """The penalty ledger of ``client`` for ``month`` under the terms in force at its end."""
        with self.db.read() as session:
            terms = self._terms_for_month(session, client, month)
            rows = session.scalars(select(Incident).where(
                Incident.client == client, Incident.month == month)).all()
            breaches = [Breach(row.id, row.severity, row.started_at, row.deadline,
                               terms.penalty_rates[row.severity])
                        for row in map(self._current, rows)
                        if row.sla == lifecycle.BREACHED and row.severity in SEVERITIES]
        return build_ledger(client, month, terms.currency, terms.monthly_fee,
                            terms.penalty_cap, breaches)

    def ledgers_of_month(self, month: str) -> list[Ledger]:
        """Every SLA client's ledger for ``month`` under current terms, in one query.

        For the month in progress the current terms are those in force at its end, so this
        equals :meth:`ledger` client by client; the metrics use it at every scrape.
        """
        with self.db.read() as session:
            rows = session.scalars(select(Incident).where(
                Incident.month == month, Incident.client.in_(self.terms),
                Incident.sla.in_((lifecycle.PENDING, lifecycle.BREACHED)))).all()
        breaches: dict[str, list[Breach]] = {client: [] for client in self.terms}
        for row in map(self._current, rows):
            if row.sla == lifecycle.BREACHED:
                rate = self.terms[row.client].penalty_rates[row.severity]
                breaches[row.client].append(
                    Breach(row.id, row.severity, row.started_at, row.deadline, rate))
        return [build_ledger(client, month, terms.currency, terms.monthly_fee,
                             terms.penalty_cap, breaches[client])
                for client, terms in sorted(self.terms.items()) if terms.tier > 0]

    def _terms_for_month(self, session: Session, client: str, month: str) -> ClientTerms:
        current = self.terms.get(client)
        if current is None:
            raise NotFound(f"unknown client {client!r}")
        _, end = month_bounds(month, current.ledger_timezone)
        recorded = session.scalars(
            select(Event).where(Event.kind == "contract", Event.client == client,
                                Event.at < end).order_by(Event.id.desc()).limit(1)).first()
        if recorded is None:
            return current
        return terms_from_snapshot(client, recorded.payload["contract"], self.calendars)


def _get(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    return incident


_INCIDENT_COLUMNS = [column.key for column in Incident.__table__.columns if column.key != "id"]
assert set(_INCIDENT_COLUMNS) | {"id"} == set(NewIncident.__slots__), "NewIncident != Incident"


def _insert_incidents(session: Session, incidents: list[NewIncident]) -> None:
    """Insert new incidents in one round trip and give each its id.

    SQLite returns the ids of a multi-row insert. On PostgreSQL the ids come from the sequence
    first and the rows go through psycopg's pipelined ``executemany``: a multi-row
    ``INSERT ... RETURNING`` would be parsed anew by psycopg for every batch size.
    """
    if not incidents:
        return
    rows = [{key: getattr(incident, key) for key in _INCIDENT_COLUMNS} for incident in incidents]
    table = Incident.__table__
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        ids = connection.execute(_NEXT_INCIDENT_IDS, {"n": len(rows)}).scalars().all()
        for row, incident_id in zip(rows, ids):
            row["id"] = incident_id
        connection.execute(insert(table), rows)
    else:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = connection.execute(statement, rows).scalars().all()
    for incident, incident_id in zip(incidents, ids):
        incident.id = incident_id


# Built once: storms call these for every transaction, and building a statement costs more than
# running it on an empty result.
_KNOWN_KEYS = select(Event.dedup_key).where(Event.dedup_key.in_(bindparam("keys", expanding=True)))
_EPISODES = select(Incident.id, Incident.fingerprint, Incident.last_starts_at).where(
    Incident.fingerprint.in_(bindparam("fingerprints", expanding=True)))
_NEXT_INCIDENT_IDS = text("SELECT nextval(pg_get_serial_sequence('incidents', 'id')) "
                          "FROM generate_series(1, :n)")
_BY_IDS = select(Incident).where(Incident.id.in_(bindparam("ids", expanding=True)))
_WINDOWS = select(Maintenance).where(Maintenance.client.in_(bindparam("clients", expanding=True)),
                                     Maintenance.ends_at > bindparam("since"))


def _new_positions(session: Session, notices: list[AlertNotice]) -> list[int]:
    """Where in ``notices`` the news not yet in the event history is, each once, in order."""
    keys = list({n.dedup_key for n in notices})
    known = set(session.execute(_KNOWN_KEYS, {"keys": keys}).scalars())
    fresh = []
    for position, notice in enumerate(notices):
        if notice.dedup_key not in known:
            known.add(notice.dedup_key)
            fresh.append(position)
    return fresh


def _alert_event(notice: AlertNotice, incident: Incident | None) -> dict:
    return {"kind": "alert", "at": notice.received_at, "client": notice.client, "actor": None,
            "incident_id": incident.id if incident is not None else None,
            "dedup_key": notice.dedup_key, "payload": notice_payload(notice)}


def _latest_incidents(session: Session, fingerprints: set[str]) -> dict[str, Incident]:
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


def _windows(session: Session, clients: set[str], since: dt.datetime) -> list[MaintenanceWindow]:
    if not clients:
        return []
    rows = session.execute(_WINDOWS, {"clients": list(clients), "since": since}).scalars()
    return [window_of(row) for row in rows]


def window_of(row: Maintenance) -> MaintenanceWindow:
    return MaintenanceWindow(row.id, row.client, tuple(row.targets) if row.targets else None,
                             row.starts_at, row.ends_at, row.emergency, row.announced_at,
                             row.cancelled_at)


def _latest_contract_snapshots(session: Session) -> dict[str, dict]:
    newest = (select(Event.client, func.max(Event.id).label("id"))
              .where(Event.kind == "contract").group_by(Event.client).subquery())
    rows = session.scalars(select(Event).join(newest, Event.id == newest.c.id)).all()
    return {row.client: row.payload["contract"] for row in rows}
