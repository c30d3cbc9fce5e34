"""The operators' actions on an incident (acknowledge, exclude, withdraw an exclusion), each
written to the event history with the incident's fields before and after."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from sla_bridge.engine import lifecycle
from sla_bridge.service.errors import Conflict
from sla_bridge.service.incident_status import Terms, refresh
from sla_bridge.service.observer import Transitions
from sla_bridge.storage.schema import Event, Incident
from sla_bridge.timefmt import rfc3339

EXCLUSION_REASONS = ("third_party", "unauthorized_change", "hardware", "out_of_scope",
                     "client_unpatched_vulnerability", "zero_day")


def audit_view(incident: Incident) -> dict:
    """The fields an operator's action can change, for the audit log's before and after."""
    return {"state": incident.state, "sla": incident.sla,
            "acknowledged_at": rfc3339(incident.acknowledged_at),
            "acknowledged_by": incident.acknowledged_by,
            "exclusion_reason": incident.exclusion_reason,
            "exclusion_note": incident.exclusion_note}


def check_exclusion(reason: str, note: str) -> None:
    """An exclusion names one of the contract's reasons and explains itself in a note."""
    if reason not in EXCLUSION_REASONS:
        raise ValueError(f"reason must be one of: {', '.join(EXCLUSION_REASONS)}")
    if not note or not note.strip():
        raise ValueError("note: a note explaining the exclusion is required")


@dataclass
class OperatorActions:
    """``actor``'s actions in one of the service's transactions. An action that changes
    nothing is not logged."""

    session: Session
    actor: str
    now: dt.datetime
    terms: Terms
    changes: Transitions

    def acknowledge(self, incident: Incident) -> None:
        """The first acknowledgement stays; later ones change nothing and are not logged."""
        if incident.acknowledged_at is not None:
            return
        before = audit_view(incident)
        incident.acknowledged_at, incident.acknowledged_by = self.now, self.actor
        refresh(incident, self.now, self.terms, self.changes)
        self.changes.acknowledged.append(incident)
        self._audit("ack", incident, before)

    def exclude(self, incident: Incident, reason: str, note: str) -> None:
        """Exclude the incident from the SLA (``check_exclusion`` has passed)."""
        if incident.sla_basis == lifecycle.NO_SLA:
            raise Conflict("the incident has no SLA: there is nothing to exclude it from")
        if incident.exclusion_reason == reason and incident.exclusion_note == note:
            return
        before = audit_view(incident)
        incident.exclusion_reason, incident.exclusion_note = reason, note
        incident.excluded_by, incident.excluded_at = self.actor, self.now
        refresh(incident, self.now, self.terms, self.changes)
        self._audit("exclusion", incident, before)

    def withdraw_exclusion(self, incident: Incident) -> None:
        if incident.exclusion_reason is None:
            return
        before = audit_view(incident)
        incident.exclusion_reason = incident.exclusion_note = None
        incident.excluded_by = incident.excluded_at = None
        refresh(incident, self.now, self.terms, self.changes)
        self._audit("exclusion_withdrawn", incident, before)

    def _audit(self, kind: str, incident: Incident, before: dict) -> None:
        self.session.add(Event(kind=kind, at=self.now, client=incident.client, actor=self.actor,
                               incident_id=incident.id,
                               payload={"before": before, "after": audit_view(incident)}))
