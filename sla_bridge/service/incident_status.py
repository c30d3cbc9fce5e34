"""An incident's state, SLA status and penalty rate, recomputed under its client's current
terms: when something happens to it, when its deadline passes, and as of now when it is read."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from sla_bridge.engine import lifecycle
from sla_bridge.engine.terms import ClientTerms
from sla_bridge.service.observer import Transitions
from sla_bridge.storage.schema import Incident

Terms = dict[str, ClientTerms]  # the terms in force, by client


def refresh(incident: Incident, now: dt.datetime, terms: Terms, changes: Transitions) -> None:
    """Recompute state, SLA status and rate; note a new breach in ``changes``."""
    before = incident.sla
    incident.state = lifecycle.state_of(incident.acknowledged_at, incident.resolved_at)
    judge(incident, lifecycle.sla_status(
        incident.sla_basis, incident.exclusion_reason is not None, incident.deadline,
        incident.acknowledged_at, incident.resolved_at, now), terms)
    incident.updated_at = now
    if incident.sla == lifecycle.BREACHED and before != lifecycle.BREACHED:
        changes.breached.append(incident)


def judge(incident: Incident, status: str, terms: Terms) -> None:
    """Give the incident ``status`` and the penalty rate it costs under current terms."""
    incident.sla = status
    incident.penalty_rate = str(lifecycle.penalty_rate(
        status, incident.severity, terms.get(incident.client)))


def as_of(incident: Incident, now: dt.datetime, terms: Terms) -> Incident:
    """The incident as of now: a deadline may have passed since the last scheduled refresh."""
    status = lifecycle.status_as_of(incident.sla, incident.deadline, now)
    if status != incident.sla:
        judge(incident, status, terms)
    return incident


def refresh_overdue(session: Session, now: dt.datetime, terms: Terms,
                    changes: Transitions) -> None:
    """Refresh the pending incidents whose deadline has passed: they are breached now."""
    due = session.scalars(select(Incident).where(
        Incident.sla == lifecycle.PENDING, Incident.deadline < now)).all()
    for incident in due:
        refresh(incident, now, terms, changes)
