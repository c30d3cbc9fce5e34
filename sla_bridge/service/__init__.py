"""The SLA service: applies the engine's decisions to stored incidents, one transaction per call.

Every change is also written to the event history (alerts, operators' actions with before and
after, maintenance, contract changes), from which ``owl sla replay`` recomputes the same results.

:class:`SlaService` holds what its calls share (the database, the terms in force, the clock, the
observer), opens each call's transaction and tells the observer once it has committed. The work
is done one concern a module of this package: ``ingest`` (alert batches into incidents),
``operator_actions`` (ack, exclusion), ``incident_status`` (statuses over time),
``incident_reads``, ``month_ledgers`` and ``contract_history``; ``observer`` and ``errors`` are
what callers see of them. The names callers use with the service are importable from here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator

from sqlalchemy.orm import Session

from sla_bridge.contract_terms import CalendarCache, terms_from_snapshot
from sla_bridge.engine.alerts import AlertNotice
from sla_bridge.engine.ledger import Ledger, month_bounds
from sla_bridge.engine.terms import ClientTerms
from sla_bridge.service import contract_history, incident_status, month_ledgers
from sla_bridge.service.client_export import client_export
from sla_bridge.service.errors import Conflict, NotFound
from sla_bridge.service.incident_reads import (
    IncidentRecord,
    incident_record,
    incidents_query,
    latest_of_fingerprint,
    stored_incident,
    urgent_query,
)
from sla_bridge.service.ingest import (
    IngestResult,
    Outcome,
    notice_payload,
    store_notices,
)
from sla_bridge.service.interventions import Intervention, interventions
from sla_bridge.service.observer import Observer, Transitions
from sla_bridge.service.operator_actions import (
    EXCLUSION_REASONS,
    OperatorActions,
    audit_view,
    check_exclusion,
)
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Incident

__all__ = ["EXCLUSION_REASONS", "Conflict", "IncidentRecord", "IngestResult", "NotFound",
           "Intervention", "Observer", "Outcome", "SlaService", "audit_view", "notice_payload"]

Act = Callable[[OperatorActions, Incident], None]


class SlaService:
    def __init__(self, db: Database, terms: dict[str, ClientTerms],
                 clock: Callable[[], dt.datetime], observer: Observer | None = None,
                 calendars: CalendarCache | None = None):
        self.db = db
        self.terms = dict(terms)
        self.clock = clock
        self.observer = observer or Observer()
        self.calendars = calendars or CalendarCache()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[tuple[Session, Transitions]]:
        """A write transaction and the transitions it makes, told to the observer only once it
        has committed: a failed transaction counts nothing."""
        changes = Transitions()
        with self.db.write() as session:
            yield session, changes
        changes.tell(self.observer)

    # --- contracts -------------------------------------------------------------------------

    def record_contracts(self) -> list[str]:
        """Write a ``contract`` event for each client whose terms differ from the last recorded.

        Not for a client whose data was deleted (section 9): only the deletion record stays.
        """
        with self.db.write() as session:
            return contract_history.record_changed_contracts(session, self.terms, self.clock)

    def apply_contract(self, client: str, snapshot: dict) -> None:
        """Replay: the terms a recorded ``contract`` event put in force."""
        self.terms[client] = terms_from_snapshot(client, snapshot, self.calendars)
        with self.db.write() as session:
            contract_history.record_contract(session, client, snapshot, self.clock())

    # --- alerts ----------------------------------------------------------------------------

    def ingest(self, notices: list[AlertNotice], as_received: bool = False) -> IngestResult:
        """Store what is new in ``notices``; redeliveries change nothing (see
        :func:`~sla_bridge.service.ingest.store_notices`, also for ``as_received``). Every
        Watchdog delivery is a heartbeat."""
        for notice in notices:
            if notice.heartbeat:
                self.observer.heartbeat(notice.received_at)
        with self._transaction() as (session, changes):
            return store_notices(session, notices, self.terms, self.clock, changes, as_received)

    # --- statuses over time ------------------------------------------------------------------

    def refresh_statuses(self) -> int:
        """Mark pending incidents whose deadline has passed as breached; return how many."""
        now = self.clock()
        with self._transaction() as (session, changes):
            incident_status.refresh_overdue(session, now, self.terms, changes)
        return len(changes.breached)

    # --- operators' actions ----------------------------------------------------------------

    def acknowledge(self, incident_id: int, actor: str) -> Incident:
        """The first acknowledgement stays; later ones change nothing and are not logged."""
        return self._act(incident_id, actor, OperatorActions.acknowledge)

    def exclude(self, incident_id: int, reason: str, note: str, actor: str) -> Incident:
        check_exclusion(reason, note)
        return self._act(incident_id, actor,
                         lambda actions, incident: actions.exclude(incident, reason, note))

    def withdraw_exclusion(self, incident_id: int, actor: str) -> Incident:
        return self._act(incident_id, actor, OperatorActions.withdraw_exclusion)

    def _act(self, incident_id: int, actor: str, act: Act) -> Incident:
        now = self.clock()
        with self._transaction() as (session, changes):
            incident = stored_incident(session, incident_id)
            act(OperatorActions(session, actor, now, self.terms, changes), incident)
        return incident

    # --- reading -----------------------------------------------------------------------------

    def get(self, incident_id: int, client: str | None = None) -> Incident:
        """One incident; with ``client``, only one of that client's (else NotFound)."""
        with self.db.read() as session:
            return self._current(stored_incident(session, incident_id, client))

    def find(self, client: str | None = None, state: str | None = None, sla: str | None = None,
             month: str | None = None, limit: int = 100, offset: int = 0) -> list[Incident]:
        query = incidents_query(client, state, sla, month).limit(limit).offset(offset)
        with self.db.read() as session:
            return [self._current(row) for row in session.scalars(query).all()]

    def each(self, month: str | None = None) -> Iterator[Incident]:
        """Every incident (of ``month``), newest first, read as they are consumed: a replay of
        a million events holds hundreds of thousands of them."""
        query = incidents_query(None, None, None, month).execution_options(yield_per=1000)
        with self.db.read() as session:
            for row in session.scalars(query):
                yield self._current(row)

    def find_urgent(self, client: str | None = None, severity: str | None = None,
                    states: tuple[str, ...] | None = None, month: str | None = None,
                    limit: int = 100) -> list[Incident]:
        """The console's list: incidents in ``states`` (None: any), most urgent first."""
        query = urgent_query(client, severity, states, month).limit(limit)
        with self.db.read() as session:
            return [self._current(row) for row in session.scalars(query).all()]

    def record(self, incident_id: int, client: str | None = None) -> IncidentRecord:
        """One incident (as :meth:`get`) with its timeline, annotations and deadline's clock."""
        with self.db.read() as session:
            incident = self._current(stored_incident(session, incident_id, client))
            return incident_record(session, incident, self.terms.get(incident.client),
                                   self.clock())

    def latest_of_fingerprint(self, fingerprint: str, client: str | None = None
                              ) -> Incident | None:
        """The newest incident of ``fingerprint``, an unresolved one first."""
        with self.db.read() as session:
            return latest_of_fingerprint(session, fingerprint, client)

    def _current(self, incident: Incident) -> Incident:
        return incident_status.as_of(incident, self.clock(), self.terms)

    def ledger(self, client: str, month: str) -> Ledger:
        """The penalty ledger of ``client`` for ``month`` under the terms in force at its end."""
        with self.db.read() as session:
            return month_ledgers.client_ledger(session, client, month, self.terms,
                                               self.calendars, self.clock)

    def ledgers(self, clients: list[str], month: str) -> list[Ledger]:
        """:meth:`ledger` of each of ``clients``, in one pass over the month's incidents."""
        unknown = [client for client in clients if client not in self.terms]
        if unknown:
            raise NotFound(f"unknown client {unknown[0]!r}")
        with self.db.read() as session:
            if len(clients) <= month_ledgers.FEW_CLIENTS:
                return [month_ledgers.client_ledger(session, client, month, self.terms,
                                                    self.calendars, self.clock)
                        for client in clients]
            return month_ledgers.clients_ledgers(session, clients, month, self.terms,
                                                 self.calendars, self.clock)

    def terms_of_month(self, client: str, month: str) -> ClientTerms:
        """The terms in force at the end of ``month``, which its ledger applies."""
        with self.db.read() as session:
            return contract_history.terms_for_month(session, client, month, self.terms,
                                                    self.calendars)

    def interventions(self, client: str, month: str) -> list[Intervention]:
        """``client``'s operators' actions of ``month`` outside its opening hours (section 5b),
        under the terms in force at the month's end."""
        with self.db.read() as session:
            terms = contract_history.terms_for_month(session, client, month, self.terms,
                                                     self.calendars)
            start, end = month_bounds(month, terms.ledger_timezone)
            return interventions(session, client, terms, start, end)

    def export(self, client: str) -> dict:
        """Everything held about ``client``, as ``GET /api/v1/export`` gives it."""
        incidents = self.find(client=client, limit=10**9)
        ledgers = [self.ledger(client, month)
                   for month in sorted({incident.month for incident in incidents})]
        with self.db.read() as session:
            return client_export(session, client, incidents, ledgers, self.terms[client],
                                 self.clock())

    def ledgers_of_month(self, month: str) -> list[Ledger]:
        """Every SLA client's ledger for ``month`` under current terms, in one query.

        For the month in progress the current terms are those in force at its end, so this
        equals :meth:`ledger` client by client; the metrics use it at every scrape.
        """
        with self.db.read() as session:
            return month_ledgers.ledgers_of_month(session, month, self.terms, self.clock)
