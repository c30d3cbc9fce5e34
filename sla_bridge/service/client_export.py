"""Everything held about one client, as ``GET /api/v1/export`` gives it (section 9: until the
client's data is deleted after its termination)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from sla_bridge.engine.ledger import Ledger
from sla_bridge.engine.terms import ClientTerms
from sla_bridge.ledger_format import ledger_json
from sla_bridge.retention import deletion_due
from sla_bridge.serialize import (
    event_json,
    incident_json,
    maintenance_json,
    notification_json,
)
from sla_bridge.storage.schema import Event, Incident, Maintenance, Notification
from sla_bridge.timefmt import rfc3339


def client_export(session: Session, client: str, incidents: list[Incident],
                  ledgers: list[Ledger], terms: ClientTerms, now: dt.datetime) -> dict:
    """The export of ``client``: its ``incidents`` and ``ledgers`` as the service read them, and
    its events, notifications and maintenance windows read in ``session``."""
    due = deletion_due(terms)
    return {
        "client": client, "exported_at": rfc3339(now),
        "deletion_due": due.isoformat() if due else None,
        "incidents": [incident_json(incident) for incident in incidents],
        "ledgers": [ledger_json(ledger) for ledger in ledgers],
        "events": [event_json(e) for e in _of_client(session, Event, client)],
        "notifications": [notification_json(n) for n in _of_client(session, Notification, client)],
        "maintenances": [maintenance_json(m) for m in _of_client(session, Maintenance, client)],
    }


def _of_client(session: Session, model, client: str) -> list:
    return session.scalars(select(model).where(model.client == client).order_by(model.id)).all()
