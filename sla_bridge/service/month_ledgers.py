"""Penalty ledgers of stored incidents: a client's month under the terms in force at its end,
or every SLA client's month under current terms (the metrics', at every scrape)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sla_bridge.contract_terms import CalendarCache
from sla_bridge.engine import lifecycle
from sla_bridge.engine.ledger import Breach, Ledger, build_ledger
from sla_bridge.engine.terms import ClientTerms
from sla_bridge.service.contract_history import terms_at_month_end, terms_for_month
from sla_bridge.service.incident_status import Terms, as_of
from sla_bridge.storage.schema import Incident

Clock = Callable[[], dt.datetime]
# Up to this many clients, their ledgers are read client by client (a few indexed queries each)
# rather than from every client's contracts and every breach of the month.
FEW_CLIENTS = 20


def client_ledger(session: Session, client: str, month: str, terms: Terms,
                  calendars: CalendarCache, clock: Clock) -> Ledger:
    """The penalty ledger of ``client`` for ``month`` under the terms in force at its end."""
    month_terms = terms_for_month(session, client, month, terms, calendars)
    rows = session.scalars(select(Incident).where(
        Incident.client == client, Incident.month == month)).all()
    breaches = [breach for row in rows if (breach := _breach(row, month_terms, terms, clock))]
    return _ledger(client, month, month_terms, breaches)


def clients_ledgers(session: Session, clients: list[str], month: str, terms: Terms,
                    calendars: CalendarCache, clock: Clock) -> list[Ledger]:
    """The ledgers of ``clients`` for ``month``, each under the terms in force at its end, as
    :func:`client_ledger` gives them one by one: from one query of the contracts and one of the
    month's incidents, however many clients."""
    month_terms = terms_at_month_end(session, month, {client: terms[client] for client in clients},
                                     calendars)
    return _ledgers(session, month, month_terms, terms, clock)


def ledgers_of_month(session: Session, month: str, terms: Terms, clock: Clock) -> list[Ledger]:
    """Every SLA client's ledger for ``month`` under current terms, in one query.

    For the month in progress the current terms are those in force at its end, so this
    equals :func:`client_ledger` client by client.
    """
    return _ledgers(session, month, {client: client_terms for client, client_terms
                                     in sorted(terms.items()) if client_terms.tier > 0},
                    terms, clock)


def _ledgers(session: Session, month: str, month_terms: Terms, terms: Terms,
             clock: Clock) -> list[Ledger]:
    """The ledgers of the clients of ``month_terms`` (in its order) under those terms."""
    # no IN list of the clients (PostgreSQL refuses more than 65,535 parameters): the month's
    # rows breached, or pending past their deadline (breached as of now: lifecycle.status_as_of),
    # those of other clients left out here
    rows = session.scalars(select(Incident).where(
        Incident.month == month,
        or_(Incident.sla == lifecycle.BREACHED,
            (Incident.sla == lifecycle.PENDING) & (Incident.deadline < clock())))).all()
    breaches: dict[str, list[Breach]] = {client: [] for client in month_terms}
    for row in rows:
        if row.client in month_terms and \
                (breach := _breach(row, month_terms[row.client], terms, clock)):
            breaches[row.client].append(breach)
    return [_ledger(client, month, client_terms, breaches[client])
            for client, client_terms in month_terms.items()]


def _breach(incident: Incident, month_terms: ClientTerms, terms: Terms,
            clock: Clock) -> Breach | None:
    """The incident as a line of a ledger under ``month_terms``, if it is breached as of now."""
    incident = as_of(incident, clock(), terms)
    if incident.sla != lifecycle.BREACHED:
        return None
    return Breach(incident.id, incident.severity, incident.started_at, incident.deadline,
                  lifecycle.penalty_rate(incident.sla, incident.severity, month_terms))


def _ledger(client: str, month: str, terms: ClientTerms, breaches: list[Breach]) -> Ledger:
    return build_ledger(client, month, terms.currency, terms.monthly_fee, terms.penalty_cap,
                        breaches)
