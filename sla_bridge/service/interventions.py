"""Operators' actions outside a client's opening hours (contract section 5b: "toute
intervention hors horaires standard est sujette à tarification spécifique"): the list OWL bills
apart, in the monthly report and in the operators' CSV export.

An action is an acknowledgement, an exclusion or its withdrawal, or a maintenance window
announced or cancelled, as the event history records them with who and when. A client with 24/7
support has no such list: every hour is a standard one for it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from sla_bridge.engine.terms import ClientTerms
from sla_bridge.storage.schema import Event
from sla_bridge.timefmt import rfc3339

KINDS = ("ack", "exclusion", "exclusion_withdrawn", "maintenance_created",
         "maintenance_cancelled")
CSV_COLUMNS = ("client", "at", "local_time", "actor", "action", "incident_id", "maintenance_id")


@dataclass(frozen=True)
class Intervention:
    at: dt.datetime
    actor: str
    action: str  # one of KINDS
    incident_id: int | None = None
    maintenance_id: int | None = None


def interventions(session: Session, client: str, terms: ClientTerms, start: dt.datetime,
                  end: dt.datetime) -> list[Intervention]:
    """``client``'s billable actions from ``start`` to ``end``, oldest first."""
    if terms.support_24_7:
        return []
    events = session.scalars(select(Event).where(
        Event.client == client, Event.kind.in_(KINDS), Event.at >= start,
        Event.at < end).order_by(Event.at, Event.id)).all()
    return [Intervention(event.at, event.actor or "", event.kind, event.incident_id,
                         _window_id(event))
            for event in events if not terms.calendar.is_open(event.at)]


def _window_id(event: Event) -> int | None:
    return event.payload.get("id") if event.kind.startswith("maintenance_") else None


def interventions_csv(rows: list[tuple[str, Intervention]], timezone: str) -> str:
    """One row per (client, intervention), the time in UTC and in ``timezone``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for client, row in rows:
        writer.writerow((client, rfc3339(row.at),
                         row.at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M"),
                         row.actor, row.action, row.incident_id or "", row.maintenance_id or ""))
    return out.getvalue()
