"""The contracts in the event history: a ``contract`` event each time a client's terms change,
and the terms that were in force at the end of a month."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from sla_bridge.contract_terms import (
    CalendarCache,
    contract_snapshot,
    terms_from_snapshot,
)
from sla_bridge.engine.ledger import month_bounds
from sla_bridge.engine.terms import ClientTerms
from sla_bridge.service.errors import NotFound
from sla_bridge.service.incident_status import Terms
from sla_bridge.storage.queries import latest_contract_snapshots, lock_contract_history
from sla_bridge.storage.schema import Deletion, Event


def record_contract(session: Session, client: str, snapshot: dict, at: dt.datetime) -> None:
    session.add(Event(kind="contract", at=at, client=client, payload={"contract": snapshot}))


def record_changed_contracts(session: Session, terms: Terms,
                             clock: Callable[[], dt.datetime]) -> list[str]:
    """Record the terms of each client that differ from the last recorded; return the clients.

    Not for a client whose data was deleted (section 9): only the deletion record stays.
    Replicas starting together each call this: the lock makes them take turns, and the history
    is read under it, so the second finds the first's snapshots and records nothing.
    """
    lock_contract_history(session)
    changed = []
    recorded = latest_contract_snapshots(session)
    deleted = set(session.scalars(select(Deletion.client)))
    for client, client_terms in sorted(terms.items()):
        snapshot = contract_snapshot(client_terms)
        if client not in deleted and recorded.get(client) != snapshot:
            record_contract(session, client, snapshot, clock())
            changed.append(client)
    return changed


def terms_for_month(session: Session, client: str, month: str, terms: Terms,
                    calendars: CalendarCache) -> ClientTerms:
    """The terms in force at the end of ``month``: the last recorded before it, else current."""
    current = terms.get(client)
    if current is None:
        raise NotFound(f"unknown client {client!r}")
    _, end = month_bounds(month, current.ledger_timezone)
    recorded = session.scalars(
        select(Event).where(Event.kind == "contract", Event.client == client,
                            Event.at < end).order_by(Event.id.desc()).limit(1)).first()
    if recorded is None:
        return current
    return terms_from_snapshot(client, recorded.payload["contract"], calendars)


def terms_at_month_end(session: Session, month: str, terms: Terms,
                       calendars: CalendarCache) -> Terms:
    """:func:`terms_for_month` of every client of ``terms``, from one query per timezone (the
    ledgers' timezone is the provider's: one query)."""
    by_zone: dict = {}
    for client, current in terms.items():
        by_zone.setdefault(current.ledger_timezone, []).append(client)
    result = {}
    for zone, clients in by_zone.items():
        _, end = month_bounds(month, zone)
        recorded = latest_contract_snapshots(session, before=end)
        for client in clients:
            snapshot = recorded.get(client)
            result[client] = (terms[client] if snapshot is None
                              else terms_from_snapshot(client, snapshot, calendars))
    return result
