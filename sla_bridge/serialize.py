"""The JSON form of what the bridge stores, one function a record, for the API, the client export
and the event history's export."""

from __future__ import annotations

from sla_bridge.storage.schema import Event, Incident, Maintenance, Notification
from sla_bridge.timefmt import rfc3339


def incident_json(incident: Incident) -> dict:
    return {
        "id": incident.id, "client": incident.client, "fingerprint": incident.fingerprint,
        "alertname": incident.alertname, "severity": incident.severity,
        "target": incident.target, "labels": incident.labels, "summary": incident.summary,
        "description": incident.description, "started_at": rfc3339(incident.started_at),
        "deadline": rfc3339(incident.deadline), "acknowledged_at": rfc3339(incident.acknowledged_at),
        "acknowledged_by": incident.acknowledged_by, "resolved_at": rfc3339(incident.resolved_at),
        "state": incident.state, "sla": incident.sla, "penalty_rate": incident.penalty_rate,
        "security": incident.security, "month": incident.month,
        "maintenance_id": incident.maintenance_id,
        "exclusion": ({"reason": incident.exclusion_reason, "note": incident.exclusion_note,
                       "by": incident.excluded_by, "at": rfc3339(incident.excluded_at)}
                      if incident.exclusion_reason else None),
        "security_notified_at": rfc3339(incident.security_notified_at),
    }


def event_json(event: Event) -> dict:
    return {"id": event.id, "kind": event.kind, "at": rfc3339(event.at), "client": event.client,
            "actor": event.actor, "incident_id": event.incident_id, "payload": event.payload}


def notification_json(notification: Notification) -> dict:
    return {"kind": notification.kind, "incident_id": notification.incident_id,
            "maintenance_id": notification.maintenance_id,
            "recipients": notification.recipients, "subject": notification.subject,
            "body": notification.body, "created_at": rfc3339(notification.created_at),
            "sent_at": rfc3339(notification.sent_at), "attempts": notification.attempts,
            "error": notification.error}


def maintenance_json(window: Maintenance) -> dict:
    return {"id": window.id, "targets": window.targets, "starts_at": rfc3339(window.starts_at),
            "ends_at": rfc3339(window.ends_at), "description": window.description,
            "emergency": window.emergency, "cancelled_at": rfc3339(window.cancelled_at)}
