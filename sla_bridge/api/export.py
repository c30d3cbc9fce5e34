"""``GET /api/v1/export?client=``: everything held about a client, before it is deleted."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import select

from sla_bridge.api.common import ApiError, bridge, client_scope, requires
from sla_bridge.api.incidents import incident_json
from sla_bridge.auth import CLIENT, OPERATOR
from sla_bridge.ledger_format import ledger_json
from sla_bridge.retention import deletion_due, deletion_record
from sla_bridge.storage.schema import Event, Maintenance, Notification
from sla_bridge.timefmt import rfc3339

blueprint = Blueprint("export", __name__)


def event_json(event: Event) -> dict:
    return {"id": event.id, "kind": event.kind, "at": rfc3339(event.at), "client": event.client,
            "actor": event.actor, "incident_id": event.incident_id, "payload": event.payload}


@blueprint.get("/api/v1/export")
@requires(OPERATOR, CLIENT)
def export_client():
    client = client_scope()
    if client is None:
        raise ApiError(400, "client is required", "client")
    context = bridge()
    deleted = deletion_record(context.db, client)
    if deleted is not None:
        raise ApiError(410, f"the data of {client} was deleted on "
                            f"{rfc3339(deleted.deleted_at)} (section 9)")
    incidents = context.service.find(client=client, limit=10**9)
    with context.db.read() as session:
        events = session.scalars(select(Event).where(Event.client == client)
                                 .order_by(Event.id)).all()
        notifications = session.scalars(select(Notification).where(
            Notification.client == client).order_by(Notification.id)).all()
        maintenances = session.scalars(select(Maintenance).where(
            Maintenance.client == client).order_by(Maintenance.id)).all()
    months = sorted({incident.month for incident in incidents})
    due = deletion_due(context.service.terms[client])
    return jsonify(
        client=client, exported_at=rfc3339(context.clock()),
        deletion_due=due.isoformat() if due else None,
        incidents=[incident_json(incident) for incident in incidents],
        ledgers=[ledger_json(context.service.ledger(client, month)) for month in months],
        events=[event_json(event) for event in events],
        notifications=[{"kind": n.kind, "incident_id": n.incident_id,
                        "maintenance_id": n.maintenance_id, "recipients": n.recipients,
                        "subject": n.subject, "body": n.body,
                        "created_at": rfc3339(n.created_at), "sent_at": rfc3339(n.sent_at),
                        "attempts": n.attempts, "error": n.error}
                       for n in notifications],
        maintenances=[{"id": m.id, "targets": m.targets, "starts_at": rfc3339(m.starts_at),
                       "ends_at": rfc3339(m.ends_at), "description": m.description,
                       "emergency": m.emergency, "cancelled_at": rfc3339(m.cancelled_at)}
                      for m in maintenances])
