"""The SLA service: applies the engine's decisions to stored incidents, one transaction per call.

Every change is also written to the event history (alerts, operators' actions with before and
after, maintenance, contract changes), from which ``owl sla replay`` recomputes the same results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from sla_bridge.contract_terms import CalendarCache, contract_snapshot, terms_from_snapshot
from sla_bridge.engine import lifecycle
from sla_bridge.engine.alerts import AlertNotice
from sla_bridge.engine.ledger import (
    Breach,
    Ledger,
    build_ledger,
    month_bounds,
    month_of,
)
from sla_bridge.engine.lifecycle import Action
from sla_bridge.engine.maintenance import MaintenanceWindow
from sla_bridge.engine.terms import ClientTerms
from sla_bridge.storage.database import Database
from sla_bridge.storage.queries import (
    NewIncident,
    insert_events,
    insert_incidents,
    latest_contract_snapshots,
    latest_incidents,
    lock_fingerprints,
    maintenance_windows,
    new_positions,
)
from sla_bridge.storage.schema import Deletion, Event, Incident
from sla_bridge.timefmt import rfc3339

UTC = dt.timezone.utc
EXCLUSION_REASONS = ("third_party", "unauthorized_change", "hardware", "out_of_scope",
                     "client_unpatched_vulnerability", "zero_day")


class NotFound(LookupError):
    """No such incident (or not one the caller may see)."""


class Conflict(ValueError):
    """The action does not apply to the incident in its current state."""


class Observer:
    """Told of the transitions the metrics count, once they are committed. The default ignores
    them (replay)."""

    def created(self, incident: Incident) -> None: ...

    def breached(self, incident: Incident) -> None: ...

    def acknowledged(self, incident: Incident) -> None: ...

    def heartbeat(self, at: dt.datetime) -> None:
        """The Watchdog was delivered (every delivery, redeliveries included)."""


@dataclass
class _Transitions:
    """What a transaction did that the observer counts. Told only after the commit: a failed
    transaction counts nothing, so its redelivery counts once."""

    created: list[Incident] = field(default_factory=list)
    breached: list[Incident] = field(default_factory=list)
    acknowledged: list[Incident] = field(default_factory=list)

    def tell(self, observer: Observer) -> None:
        for incident in self.created:
            observer.created(incident)
        for incident in self.breached:
            observer.breached(incident)
        for incident in self.acknowledged:
            observer.acknowledged(incident)


CREATED, UPDATED, DUPLICATE, HEARTBEAT = "created", "updated", "duplicate", "heartbeat"


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
        """Write a ``contract`` event for each client whose terms differ from the last recorded.

        Not for a client whose data was deleted (section 9): only the deletion record stays.
        """
        changed = []
        with self.db.write() as session:
            recorded = latest_contract_snapshots(session)
            deleted = set(session.scalars(select(Deletion.client)))
            for client, terms in sorted(self.terms.items()):
                snapshot = contract_snapshot(terms)
                if client not in deleted and recorded.get(client) != snapshot:
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
        new incidents and events inserted in bulk through the driver (not the ORM's unit of
        work); only incidents that already existed go through the session.
        """
        outcomes = [Outcome(n.dedup_key, DUPLICATE, None) for n in notices]
        for notice in notices:
            if notice.heartbeat:
                self.observer.heartbeat(notice.received_at)
        changes = _Transitions()
        with self.db.write() as session:
            lock_fingerprints(session, {n.fingerprint for n in notices})
            fresh = new_positions(session, notices)
            if not fresh:
                return IngestResult(outcomes)
            latest = latest_incidents(session, {notices[i].fingerprint for i in fresh})
            clients = {notices[i].client for i in fresh if notices[i].client}
            windows = maintenance_windows(session, clients,
                                          min(notices[i].clock_start for i in fresh))
            now = self.clock()
            for i in fresh:
                notice = notices[i]
                if notice.heartbeat:  # kept in the history, but it is not an incident
                    outcomes[i] = Outcome(notice.dedup_key, HEARTBEAT, None)
                    continue
                incident, action = self._apply(notice, latest.get(notice.fingerprint),
                                               windows, now, changes)
                kind = DUPLICATE if action is Action.DUPLICATE else (
                    CREATED if action in (Action.CREATE, Action.CREATE_RESOLVED) else UPDATED)
                if incident is not None:
                    latest[notice.fingerprint] = incident
                outcomes[i] = Outcome(notice.dedup_key, kind, incident)
            insert_incidents(session, [outcomes[i].incident for i in fresh
                                        if outcomes[i].kind == CREATED])
            session.flush()
            insert_events(session, [_alert_event(notices[i], outcomes[i].incident)
                                    for i in fresh])
        changes.tell(self.observer)
        return IngestResult(outcomes)

    def _apply(self, notice: AlertNotice, latest: Incident | None,
               windows: list[MaintenanceWindow], now: dt.datetime, changes: _Transitions):
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
        self._refresh(incident, now, changes)
        if action in (Action.CREATE, Action.CREATE_RESOLVED):
            changes.created.append(incident)
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

    def _refresh(self, incident: Incident, now: dt.datetime, changes: _Transitions) -> None:
        """Recompute state, SLA status and rate; note a new breach in ``changes``."""
        before = incident.sla
        incident.state = lifecycle.state_of(incident.acknowledged_at, incident.resolved_at)
        self._judge(incident, lifecycle.sla_status(
            incident.sla_basis, incident.exclusion_reason is not None, incident.deadline,
            incident.acknowledged_at, incident.resolved_at, now))
        incident.updated_at = now
        if incident.sla == lifecycle.BREACHED and before != lifecycle.BREACHED:
            changes.breached.append(incident)

    def _judge(self, incident: Incident, status: str) -> None:
        """Give the incident ``status`` and the penalty rate it costs under current terms."""
        incident.sla = status
        incident.penalty_rate = str(lifecycle.penalty_rate(
            status, incident.severity, self.terms.get(incident.client)))

    # --- statuses over time ------------------------------------------------------------------

    def refresh_statuses(self) -> int:
        """Mark pending incidents whose deadline has passed as breached; return how many."""
        now = self.clock()
        changes = _Transitions()
        with self.db.write() as session:
            due = session.scalars(select(Incident).where(
                Incident.sla == lifecycle.PENDING, Incident.deadline < now)).all()
            for incident in due:
                self._refresh(incident, now, changes)
        changes.tell(self.observer)
        return len(changes.breached)

    # --- operators' actions ----------------------------------------------------------------

    def acknowledge(self, incident_id: int, actor: str) -> Incident:
        """The first acknowledgement stays; later ones change nothing and are not logged."""
        now = self.clock()
        changes = _Transitions()
        with self.db.write() as session:
            incident = _get(session, incident_id)
            if incident.acknowledged_at is not None:
                return incident
            before = audit_view(incident)
            incident.acknowledged_at, incident.acknowledged_by = now, actor
            self._refresh(incident, now, changes)
            changes.acknowledged.append(incident)
            self._audit(session, "ack", incident, actor, before, now)
        changes.tell(self.observer)
        return incident

    def exclude(self, incident_id: int, reason: str, note: str, actor: str) -> Incident:
        if reason not in EXCLUSION_REASONS:
            raise ValueError(f"reason must be one of: {', '.join(EXCLUSION_REASONS)}")
        if not note or not note.strip():
            raise ValueError("note: a note explaining the exclusion is required")
        now = self.clock()
        changes = _Transitions()
        with self.db.write() as session:
            incident = _get(session, incident_id)
            if incident.sla_basis == lifecycle.NO_SLA:
                raise Conflict("the incident has no SLA: there is nothing to exclude it from")
            if incident.exclusion_reason == reason and incident.exclusion_note == note:
                return incident
            before = audit_view(incident)
            incident.exclusion_reason, incident.exclusion_note = reason, note
            incident.excluded_by, incident.excluded_at = actor, now
            self._refresh(incident, now, changes)
            self._audit(session, "exclusion", incident, actor, before, now)
        changes.tell(self.observer)
        return incident

    def withdraw_exclusion(self, incident_id: int, actor: str) -> Incident:
        now = self.clock()
        changes = _Transitions()
        with self.db.write() as session:
            incident = _get(session, incident_id)
            if incident.exclusion_reason is None:
                return incident
            before = audit_view(incident)
            incident.exclusion_reason = incident.exclusion_note = None
            incident.excluded_by = incident.excluded_at = None
            self._refresh(incident, now, changes)
            self._audit(session, "exclusion_withdrawn", incident, actor, before, now)
        changes.tell(self.observer)
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
        status = lifecycle.status_as_of(incident.sla, incident.deadline, self.clock())
        if status != incident.sla:
            self._judge(incident, status)
        return incident

    def _breach(self, incident: Incident, terms: ClientTerms) -> Breach | None:
        """The incident as a line of a ledger under ``terms``, if it is breached as of now."""
        incident = self._current(incident)
        if incident.sla != lifecycle.BREACHED:
            return None
        return Breach(incident.id, incident.severity, incident.started_at, incident.deadline,
                      lifecycle.penalty_rate(incident.sla, incident.severity, terms))

    def ledger(self, client: str, month: str) -> Ledger:
        """The penalty ledger of ``client`` for ``month`` under the terms in force at its end."""
        with self.db.read() as session:
            terms = self._terms_for_month(session, client, month)
            rows = session.scalars(select(Incident).where(
                Incident.client == client, Incident.month == month)).all()
            breaches = [breach for row in rows if (breach := self._breach(row, terms))]
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
        for row in rows:
            if breach := self._breach(row, self.terms[row.client]):
                breaches[row.client].append(breach)
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


def _alert_event(notice: AlertNotice, incident: Incident | None) -> tuple:
    """An ``alert`` event's row, in the order of ``ALERT_EVENT_COLUMNS``."""
    return ("alert", notice.received_at, notice.client, None,
            incident.id if incident is not None else None, notice.dedup_key,
            notice_payload(notice))
