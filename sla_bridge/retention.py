"""Section 9: a terminated client's data is deleted seven working days after termination.

"Jours ouvrés" are Monday to Friday without public holidays, in the client's calendar. Until the
due day the client can export everything; on it, the daily job deletes incidents, the event
history, notifications, maintenance windows and tokens, and leaves one ``deletions`` row saying
when and how much. Running the job again changes nothing.

A client removed from the inventory is judged by the last contract the bridge recorded for it:
taking a terminated client out of the inventory early does not keep its data forever. One removed
without ever being terminated keeps its data (deleting on a typo in the inventory would be worse);
:func:`clients_without_contract` names them, for the metric and alert that ask an operator to act.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from sla_bridge.contract_terms import CalendarCache, terms_from_snapshot
from sla_bridge.engine.terms import ClientTerms
from sla_bridge.storage.database import Database
from sla_bridge.storage.queries import contract_clients, latest_contract_snapshots
from sla_bridge.storage.schema import (Deletion, Event, Incident, Maintenance, Notification,
                                       Report, Token)

WORKING_DAYS_BEFORE_DELETION = 7
log = logging.getLogger("owl.bridge.retention")


def deletion_due(terms: ClientTerms) -> dt.date | None:
    if terms.terminated_on is None:
        return None
    return terms.calendar.add_working_days(terms.terminated_on, WORKING_DAYS_BEFORE_DELETION)


def deletion_record(db: Database, client: str) -> Deletion | None:
    with db.read() as session:
        return session.scalars(select(Deletion).where(Deletion.client == client)).first()


def recorded_contracts(db: Database, terms: dict[str, ClientTerms],
                       calendars: CalendarCache | None = None) -> dict[str, ClientTerms]:
    """``terms``, plus the last recorded contract of each client no longer in them."""
    calendars = calendars or CalendarCache()
    removed = {client: terms_from_snapshot(client, snapshot, calendars)
               for client, snapshot in _removed_clients(db, terms).items()}
    return {**removed, **terms}


def clients_without_contract(db: Database, terms: dict[str, ClientTerms]) -> list[str]:
    """Clients whose data the bridge keeps though they left the inventory unterminated."""
    return sorted(client for client, snapshot in _removed_clients(db, terms).items()
                  if not snapshot["terminated_on"])


def _removed_clients(db: Database, terms: dict[str, ClientTerms]) -> dict[str, dict]:
    """The last recorded contract snapshot of each client no longer in ``terms``."""
    with db.read() as session:
        # the metrics ask at every scrape, and usually no client has left: the snapshots are
        # read only when one has (0.56 s a scrape at 5,000 clients otherwise)
        if not contract_clients(session) - terms.keys():
            return {}
        recorded = latest_contract_snapshots(session)
    return {client: snapshot for client, snapshot in recorded.items() if client not in terms}


def delete_due_clients(db: Database, terms: dict[str, ClientTerms], now: dt.datetime,
                       calendars: CalendarCache | None = None) -> list[str]:
    """Delete the data of every terminated client whose deletion day has come."""
    deleted = []
    for client, client_terms in sorted(recorded_contracts(db, terms, calendars).items()):
        due = deletion_due(client_terms)
        today = now.astimezone(client_terms.ledger_timezone).date()
        if due is None or today < due or deletion_record(db, client) is not None:
            continue
        try:
            counts = _delete_client(db, client, client_terms, now)
        except IntegrityError:
            continue  # another replica recorded the same deletion first
        log.info("deleted the data of terminated client %s: %s", client, counts)
        deleted.append(client)
    return deleted


def _delete_client(db: Database, client: str, terms: ClientTerms, now: dt.datetime) -> dict:
    tables = {"incidents": Incident, "events": Event, "notifications": Notification,
              "maintenances": Maintenance, "reports": Report, "tokens": Token}
    counts = {}
    with db.write() as session:
        for name, table in tables.items():
            counts[name] = session.execute(delete(table).where(table.client == client)).rowcount
        session.add(Deletion(client=client, terminated_on=terms.terminated_on.isoformat(),
                             deleted_at=now, counts=counts))
    return counts
