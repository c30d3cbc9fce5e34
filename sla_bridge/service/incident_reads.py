"""Finding stored incidents: one by its id (for a client, only one of its own), or a page of
them by client, state, SLA status and month."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from sla_bridge.service.errors import NotFound
from sla_bridge.storage.schema import Incident


def stored_incident(session: Session, incident_id: int, client: str | None = None) -> Incident:
    """The incident; with ``client``, only one of that client's (else NotFound)."""
    incident = session.get(Incident, incident_id)
    if incident is None or (client is not None and incident.client != client):
        raise NotFound(f"no incident {incident_id}")
    return incident


def incidents_query(client: str | None, state: str | None, sla: str | None,
                    month: str | None) -> Select:
    """The incidents that match every filter given, newest first."""
    query = select(Incident).order_by(Incident.started_at.desc(), Incident.id.desc())
    if client is not None:
        query = query.where(Incident.client == client)
    if state is not None:
        query = query.where(Incident.state == state)
    if sla is not None:
        query = query.where(Incident.sla == sla)
    if month is not None:
        query = query.where(Incident.month == month)
    return query
